{{/* The migration's counts (readmodel.Counts); see logs.sql for what a
statement renders with. .With.Table, .With.Filter and .With.Group are
fixed per signal and grouping in counts.go, never user text. */}}

{{define "count_window"}}SELECT toString({{.With.Group}}) AS g, count() AS n FROM {{.DB}}.{{.With.Table}}
	WHERE ({{.Scope "OpenChoreoNamespace"}}) AND Timestamp >= {{.Bind "from" "DateTime64(9, 'UTC')" .Q.From}} AND Timestamp < {{.Bind "to" "DateTime64(9, 'UTC')" .Q.To}}
	AND {{.With.Filter}} GROUP BY g{{end}}
