// Command obsplane-bench runs obsplane's benchmarks and writes their figures
// into docs/BENCHMARKS.md. Flags only; the benchmarks live in package bench.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

func main() {
	run := flag.String("run", "insert", "comma-separated benchmarks: insert, gateway, query, chhttp, backfill, sizing (after insert and gateway, it uses their rates)")
	out := flag.String("out", "docs/BENCHMARKS.md", "markdown file to update")
	rows := flag.Int("rows", 1_000_000, "rows for the insert benchmark")
	batch := flag.Int("batch", 100_000, "rows per insert batch")
	data := flag.String("data", "", "data directory (default: a temporary one)")
	scales := flag.String("scales", "1000000:100000", "query benchmark scales, logs:traces, comma-separated (e.g. 1000000:100000,10000000:1000000)")
	flag.IntVar(&gwLogs, "gateway-logs", 1_000_000, "logs for the gateway benchmark")
	flag.StringVar(&osURL, "opensearch", os.Getenv("OBSPLANE_BENCH_OPENSEARCH"), "OpenSearch to compare with (e.g. the URL `scripts/opensearch.sh url` prints); empty: no OpenSearch figures. The benchmark deletes and recreates its own daily indices (container-logs-2026-01-01, otel-traces-2026-01-01) there, so point it at a node no test uses")
	flag.IntVar(&osRows, "opensearch-rows", 200_000, "rows the insert benchmark bulk-indexes into OpenSearch (the first ones of -rows)")
	flag.IntVar(&sizingLogs, "sizing-logs", 1_000_000, "logs the sizing benchmark stores and measures")
	flag.IntVar(&sizingTraces, "sizing-traces", 100_000, "traces the sizing benchmark stores and measures")
	flag.StringVar(&sizingOut, "sizing-out", "internal/sizing/measured.json", "where the sizing benchmark writes the figures obsplane sizing embeds")
	flag.IntVar(&osMaxDocs, "opensearch-max-docs", 2_500_000, "query scales with more logs+spans than this are not loaded into OpenSearch")
	flag.IntVar(&bfDocs, "backfill-docs", 1_000_000, "documents the backfill benchmark loads into OpenSearch and copies")
	flag.IntVar(&bfSlices, "backfill-slices", 4, "slices of the backfill benchmark (its raw scan uses the same)")
	flag.IntVar(&bfBatch, "backfill-batch", 10000, "page and batch size of the backfill benchmark")
	flag.StringVar(&edBin, "elasticdump", "", "elasticdump executable for the backfill benchmark's comparison route (scripts/install-elasticdump.sh prints it); empty: not measured")
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
	sizingLogs, sizingTraces int
	sizingOut                string
	queryScales              string
	gwLogs                   int
	osURL                    string
	osRows                   int
	osMaxDocs                int
	bfDocs                   int
	bfSlices                 int
	bfBatch                  int
	edBin                    string
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
	var osc *opensearch.Client
	osFlags := ""
	if osURL != "" {
		if osc, err = bench.ConnectOpenSearch(ctx, osURL); err != nil {
			return fmt.Errorf("-opensearch: %w", err)
		}
		osFlags = " -opensearch $(scripts/opensearch.sh url)"
	}
	var insRes *bench.InsertResult
	var gwRes *bench.GatewayResult
	for _, name := range strings.Split(run, ",") {
		switch name {
		case "insert":
			r, err := bench.Insert(ctx, st, rows, batch, progress)
			if err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			insRes = r
			if osc != nil {
				if err := bench.InsertOpenSearch(ctx, osc, r, osRows, 2, progress); err != nil {
					return fmt.Errorf("insert, opensearch side: %w", err)
				}
			} else {
				r.OpenSearchNote = "not measured in this run (no `-opensearch`)."
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run insert -rows %d -batch %d%s -opensearch-rows %d", rows, batch, osFlags, osRows))
			fmt.Println(md)
			if err := bench.WriteSection(out, "insert", md); err != nil {
				return err
			}
		case "chhttp":
			r, err := bench.CHHTTP(ctx, st, rows, batch, progress)
			if err != nil {
				return fmt.Errorf("chhttp: %w", err)
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run chhttp -rows %d -batch %d", rows, batch))
			fmt.Println(md)
			if err := bench.WriteSection(out, "chhttp", md); err != nil {
				return err
			}
		case "gateway":
			r, err := bench.Gateway(ctx, st, data, gwLogs, 5000, 4, progress)
			if err != nil {
				return fmt.Errorf("gateway: %w", err)
			}
			gwRes = r
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run gateway -gateway-logs %d", gwLogs))
			fmt.Println(md)
			if err := bench.WriteSection(out, "gateway", md); err != nil {
				return err
			}
		case "query":
			apiBase, stopAPI := bench.StartAPI(st)
			defer stopAPI()
			var md strings.Builder
			fmt.Fprintf(&md, "## Whitepaper queries\n\nMedian of 5 runs after a warm-up (one run where the warm-up took over 10 s), %s. "+
				"Raw engine: the SQL on the embedded engine, answer rendered as JSON, no HTTP. API: obsplane's :8080 API in-process on a loopback HTTP server over the same store (no auth), the whole answer read by the client. "+
				"OpenSearch: the same rows in OpenChoreo's indices on OpenSearch 2.19.6 (one node, same machine), the query OpenChoreo's modules would send, or the nearest one it can answer (listed under each table). "+
				"API / raw is obsplane's overhead over its own engine (lower is better, 1.00x is none); OpenSearch / API is how many times longer OpenSearch took than obsplane's API (higher means obsplane is faster). "+
				"Reproduce: `go run ./bench/cmd/obsplane-bench -run query -scales %s%s`.\n\n", bench.Machine(), queryScales, osFlags)
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
				qosc := osc
				switch spans := traces * bench.SpansPerTrace(); {
				case osc == nil:
					ds.OSNote = "not measured in this run (no `-opensearch`)."
				case logs+spans > osMaxDocs:
					qosc = nil
					ds.OSNote = fmt.Sprintf("not loaded at this scale (%d documents, more than `-opensearch-max-docs` %d, to keep the run short).", logs+spans, osMaxDocs)
				default:
					if err := bench.LoadQueryDataOpenSearch(ctx, osc, ds, progress); err != nil {
						return err
					}
				}
				progress(fmt.Sprintf("timing queries at %d logs, %d traces", logs, traces))
				ts, err := bench.TimeQueries(ctx, st, bench.WhitepaperQueries(ds), apiBase, qosc, 5)
				if err != nil {
					return err
				}
				md.WriteString(bench.QueryMarkdown(ds, ts) + "\n")
			}
			fmt.Println(md.String())
			if err := bench.WriteSection(out, "query", md.String()); err != nil {
				return err
			}
		case "sizing":
			cmd := fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run %s -rows %d -gateway-logs %d -sizing-logs %d -sizing-traces %d%s -opensearch-rows %d", run, rows, gwLogs, sizingLogs, sizingTraces, osFlags, osRows)
			m, err := bench.Sizing(ctx, st, osc, sizingLogs, sizingTraces, gwRes, insRes, cmd, progress)
			if err != nil {
				return fmt.Errorf("sizing: %w", err)
			}
			b, _ := json.MarshalIndent(m, "", "  ")
			if err := os.WriteFile(sizingOut, append(b, '\n'), 0o644); err != nil {
				return err
			}
			md := bench.SizingMarkdown(m)
			fmt.Println(md)
			if err := bench.WriteSection(out, "sizing", md); err != nil {
				return err
			}
		case "backfill":
			if osc == nil {
				return fmt.Errorf("backfill: needs -opensearch")
			}
			r, err := bench.Backfill(ctx, st, osc, bfDocs, bfSlices, bfBatch, edBin, progress)
			if err != nil {
				return fmt.Errorf("backfill: %w", err)
			}
			edFlag := ""
			if edBin != "" {
				edFlag = " -elasticdump $(scripts/install-elasticdump.sh)"
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run backfill%s -backfill-docs %d -backfill-slices %d -backfill-batch %d%s", osFlags, bfDocs, bfSlices, bfBatch, edFlag))
			fmt.Println(md)
			if err := bench.WriteSection(out, "backfill", md); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown benchmark %q", name)
		}
	}
	return nil
}
