module github.com/openchoreo/obsplane

go 1.26.8
