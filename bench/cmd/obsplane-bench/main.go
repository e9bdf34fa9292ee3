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
	run := flag.String("run", "insert", "comma-separated benchmarks: insert, gateway, query")
	out := flag.String("out", "docs/BENCHMARKS.md", "markdown file to update")
	rows := flag.Int("rows", 1_000_000, "rows for the insert benchmark")
	batch := flag.Int("batch", 100_000, "rows per insert batch")
	data := flag.String("data", "", "data directory (default: a temporary one)")
	scales := flag.String("scales", "1000000:100000", "query benchmark scales, logs:traces, comma-separated (e.g. 1000000:100000,10000000:1000000)")
	flag.IntVar(&gwLogs, "gateway-logs", 1_000_000, "logs for the gateway benchmark")
	flag.Parse()
	queryScales = *scales
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mainErr(ctx, *run, *out, *rows, *batch, *data); err != nil {
		fmt.Fprintln(os.Stderr, "obsplane-bench:", err)
		os.Exit(1)
	}
}

var (
	queryScales string
	gwLogs      int
)

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
		case "gateway":
			r, err := bench.Gateway(ctx, st, data, gwLogs, 5000, 4, progress)
			if err != nil {
				return fmt.Errorf("gateway: %w", err)
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run gateway -gateway-logs %d", gwLogs))
			fmt.Println(md)
			if err := bench.WriteSection(out, "gateway", md); err != nil {
				return err
			}
		case "query":
			var md strings.Builder
			fmt.Fprintf(&md, "## Whitepaper queries\n\nMedian of 5 runs after a warm-up, %s. Reproduce: `go run ./bench/cmd/obsplane-bench -run query -scales %s`.\n\n", bench.Machine(), queryScales)
			for _, sc := range strings.Split(queryScales, ",") {
				var logs, traces int
				if _, err := fmt.Sscanf(sc, "%d:%d", &logs, &traces); err != nil {
					return fmt.Errorf("-scales %q: want logs:traces", sc)
				}
				for _, t := range []string{"otel_logs", "otel_traces", "otel_traces_trace_id_ts"} {
					if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
						return err
					}
				}
				ds, err := bench.LoadQueryData(ctx, st, logs, traces, progress)
				if err != nil {
					return err
				}
				ts, err := bench.TimeQueries(ctx, st, bench.WhitepaperQueries(ds), "", 5)
				if err != nil {
					return err
				}
				md.WriteString(bench.QueryMarkdown(ds, ts) + "\n")
			}
			fmt.Println(md.String())
			if err := bench.WriteSection(out, "query", md.String()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown benchmark %q", name)
		}
	}
	return nil
}
