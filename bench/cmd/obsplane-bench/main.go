// Command obsplane-bench runs obsplane's benchmarks and writes their figures
// into docs/BENCHMARKS.md. Flags only; the benchmarks live in package bench.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

func main() {
	run := flag.String("run", "insert", "comma-separated benchmarks: insert")
	out := flag.String("out", "docs/BENCHMARKS.md", "markdown file to update")
	rows := flag.Int("rows", 1_000_000, "rows for the insert benchmark")
	batch := flag.Int("batch", 100_000, "rows per insert batch")
	data := flag.String("data", "", "data directory (default: a temporary one)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mainErr(ctx, *run, *out, *rows, *batch, *data); err != nil {
		fmt.Fprintln(os.Stderr, "obsplane-bench:", err)
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, run, out string, rows, batch int, data string) error {
	if data == "" {
		d, err := os.MkdirTemp("", "obsplane-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		data = d
	}
	st, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: data})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
		return err
	}
	progress := func(s string) { slog.Info(s) }
	for _, name := range strings.Split(run, ",") {
		switch name {
		case "insert":
			r, err := bench.Insert(ctx, st, rows, batch, progress)
			if err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run insert -rows %d -batch %d", rows, batch))
			fmt.Println(md)
			if err := bench.WriteSection(out, "insert", md); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown benchmark %q", name)
		}
	}
	return nil
}
