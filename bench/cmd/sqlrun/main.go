// scratch: run SQL statements (separated by lines ";;") on an embedded data dir.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

func main() {
	st, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: os.Args[1]})
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer st.Close()
	in, _ := io.ReadAll(os.Stdin)
	for _, q := range strings.Split(string(in), "\n;;\n") {
		q = strings.TrimSpace(q)
		if q == "" {
			continue
		}
		t0 := time.Now()
		out, err := st.QueryBytes(context.Background(), q, "PrettyCompactNoEscapes", nil)
		fmt.Printf("-- %.1f ms: %.200s\n", float64(time.Since(t0).Microseconds())/1000, strings.ReplaceAll(q, "\n", " "))
		if err != nil {
			fmt.Println("ERROR:", err)
		}
		os.Stdout.Write(out)
	}
}
