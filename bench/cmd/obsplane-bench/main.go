// Command obsplane-bench runs obsplane's benchmarks and writes their figures
// into docs/BENCHMARKS.md (and, for the peer run, bench/results/<date>.json
// and a chart). Flags only; the benchmarks live in package bench.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/bench"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

type flags struct {
	run, out, data, scales, osURL, vlBin, resultsDir, render, cpuProfile, only, edBin string
	metricsSamples, sizingOut                                                         string
	sizingLogs, sizingTraces                                                          int
	metricsRuns                                                                       int
	bfDocs, bfSlices, bfBatch                                                         int
	rows, batch, osRows, peerMaxLogs, clients, runs                                   int
	loadReaders, loadRate                                                             int
	loadFor                                                                           time.Duration
}

func main() {
	var f flags
	flag.StringVar(&f.run, "run", "peer", "comma-separated benchmarks: insert (the embedded store's insert paths), chhttp (the ClickHouse HTTP interface), backfill (OpenSearch -> store copy), metrics (the metrics adapter against Prometheus), variants (otel_logs sort keys, indexes and codecs side by side on -rows logs), peer (ingest, storage and queries against OpenSearch and VictoriaLogs, per scale)")
	flag.StringVar(&f.out, "out", "docs/BENCHMARKS.md", "markdown file to update")
	flag.IntVar(&f.rows, "rows", 1_000_000, "rows for the insert benchmark")
	flag.IntVar(&f.batch, "batch", 100_000, "rows per insert batch")
	flag.StringVar(&f.data, "data", "", "data directory (default: a temporary one)")
	flag.StringVar(&f.scales, "scales", "1000000:100000", "peer benchmark scales, logs:traces, comma-separated (e.g. 1000000:100000,10000000:1000000)")
	flag.StringVar(&f.osURL, "opensearch", os.Getenv("OBSPLANE_BENCH_OPENSEARCH"), "OpenSearch to compare with (e.g. the URL `scripts/opensearch.sh url` prints); empty: no OpenSearch figures. The benchmark deletes and recreates its own daily indices (container-logs-2026-01-01, otel-traces-2026-01-01) there, so point it at a node no test uses")
	flag.StringVar(&f.vlBin, "victorialogs", os.Getenv("OBSPLANE_BENCH_VICTORIALOGS"), "victoria-logs binary to compare with (scripts/install-victorialogs.sh prints its path); empty: no VictoriaLogs figures")
	flag.IntVar(&f.osRows, "opensearch-rows", 200_000, "rows the insert benchmark bulk-indexes into OpenSearch (the first ones of -rows)")
	flag.IntVar(&f.peerMaxLogs, "peer-max-logs", 2_500_000, "scales with more logs than this run obsplane alone (loaded as batches, no peers, no load case)")
	flag.IntVar(&f.clients, "clients", 4, "OTLP senders per system in the peer run")
	flag.IntVar(&f.runs, "runs", 5, "timed runs per query and system (median), after a warm-up")
	flag.IntVar(&f.loadReaders, "load-readers", 8, "concurrent readers in the under-load case (0 skips it)")
	flag.IntVar(&f.loadRate, "load-rate", 50_000, "logs/s ingested during the under-load case")
	flag.DurationVar(&f.loadFor, "load-for", 30*time.Second, "length of the under-load case, per system")
	flag.StringVar(&f.resultsDir, "results", "bench/results", "where the peer run writes <date>.json")
	flag.StringVar(&f.render, "render", "", "render docs/BENCHMARKS.md and the chart from this results file instead of running anything")
	flag.IntVar(&f.bfDocs, "backfill-docs", 1_000_000, "documents the backfill benchmark loads into OpenSearch and copies")
	flag.IntVar(&f.bfSlices, "backfill-slices", 4, "slices of the backfill benchmark (its raw scan uses the same)")
	flag.IntVar(&f.bfBatch, "backfill-batch", 100000, "documents per insert of the backfill benchmark (its pages, and the raw scan's, hold at most 10000)")
	flag.StringVar(&f.metricsSamples, "metrics-samples", "1000000,10000000", "sample counts of the metrics benchmark, comma-separated")
	flag.IntVar(&f.metricsRuns, "metrics-runs", 5, "timed runs per metrics query (the median is reported)")
	flag.StringVar(&f.edBin, "elasticdump", "", "elasticdump executable for the backfill benchmark's comparison route (scripts/install-elasticdump.sh prints it); empty: not measured")
	flag.IntVar(&f.sizingLogs, "sizing-logs", 1_000_000, "logs the sizing benchmark stores and measures")
	flag.IntVar(&f.sizingTraces, "sizing-traces", 100_000, "traces the sizing benchmark stores and measures")
	flag.StringVar(&f.sizingOut, "sizing-out", "internal/sizing/measured.json", "where the sizing benchmark writes the figures obsplane sizing embeds")
	flag.StringVar(&f.only, "variants", "", "comma-separated variant names for -run variants (default: all)")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (the gateway and the embedded engine's Go side) to this file")
	flag.Parse()
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(pf)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "obsplane-bench: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := mainErr(ctx, f); err != nil {
		fmt.Fprintln(os.Stderr, "obsplane-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func mainErr(ctx context.Context, f flags) error {
	if f.render != "" {
		r, err := bench.ReadResults(f.render)
		if err != nil {
			return err
		}
		return writePeer(r, f.out)
	}
	data := f.data
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
	if f.osURL != "" {
		if osc, err = bench.ConnectOpenSearch(ctx, f.osURL); err != nil {
			return fmt.Errorf("-opensearch: %w", err)
		}
		osFlags = " -opensearch $(scripts/opensearch.sh url)"
	}
	// sizing takes the OpenSearch bulk rate from insert and the ingest rate
	// from peer when they ran before it.
	var insRes *bench.InsertResult
	var peerRes *bench.Results
	for _, name := range strings.Split(f.run, ",") {
		switch name {
		case "insert":
			r, err := bench.Insert(ctx, st, f.rows, f.batch, progress)
			if err != nil {
				return fmt.Errorf("insert: %w", err)
			}
			insRes = r
			if osc != nil {
				if err := bench.InsertOpenSearch(ctx, osc, r, f.osRows, 2, progress); err != nil {
					return fmt.Errorf("insert, opensearch side: %w", err)
				}
			} else {
				r.OpenSearchNote = "not measured in this run (no `-opensearch`)."
			}
			insRes = r
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run insert -rows %d -batch %d%s -opensearch-rows %d", f.rows, f.batch, osFlags, f.osRows))
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "insert", md); err != nil {
				return err
			}
		case "chhttp":
			r, err := bench.CHHTTP(ctx, st, f.rows, f.batch, progress)
			if err != nil {
				return fmt.Errorf("chhttp: %w", err)
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run chhttp -rows %d -batch %d", f.rows, f.batch))
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "chhttp", md); err != nil {
				return err
			}
		case "backfill":
			if osc == nil {
				return fmt.Errorf("backfill: needs -opensearch")
			}
			r, err := bench.Backfill(ctx, st, osc, f.bfDocs, f.bfSlices, f.bfBatch, f.edBin, progress)
			if err != nil {
				return fmt.Errorf("backfill: %w", err)
			}
			edFlag := ""
			if f.edBin != "" {
				edFlag = " -elasticdump $(scripts/install-elasticdump.sh)"
			}
			md := r.Markdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run backfill%s -backfill-docs %d -backfill-slices %d -backfill-batch %d%s", osFlags, f.bfDocs, f.bfSlices, f.bfBatch, edFlag))
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "backfill", md); err != nil {
				return err
			}
		case "metrics":
			var scales []*bench.MetricsScale
			for _, n := range strings.Split(f.metricsSamples, ",") {
				var samples int
				if _, err := fmt.Sscanf(n, "%d", &samples); err != nil {
					return fmt.Errorf("-metrics-samples %q: want a number", n)
				}
				r, err := bench.Metrics(ctx, st, samples, f.metricsRuns, progress)
				if err != nil {
					return fmt.Errorf("metrics: %w", err)
				}
				scales = append(scales, r)
			}
			md := bench.MetricsMarkdown(fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run metrics -metrics-samples %s -metrics-runs %d", f.metricsSamples, f.metricsRuns), scales)
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "metrics", md); err != nil {
				return err
			}
		case "variants":
			vs := bench.LogVariants
			if f.only != "" {
				vs = nil
				for _, v := range bench.LogVariants {
					if strings.Contains(","+f.only+",", ","+v.Name+",") {
						vs = append(vs, v)
					}
				}
			}
			rs, err := bench.SchemaVariants(ctx, st, f.rows, f.runs, vs, bench.VariantCases(f.rows), progress)
			if err != nil {
				return fmt.Errorf("variants: %w", err)
			}
			md := "## otel_logs layouts compared\n\nReproduce: `go run ./bench/cmd/obsplane-bench -run variants -rows " + fmt.Sprint(f.rows) + "`. " + bench.VariantsMarkdown(rs, f.rows)
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "variants", md); err != nil {
				return err
			}
		case "peer":
			r, err := peer(ctx, st, data, osc, f, progress)
			if err != nil {
				return err
			}
			peerRes = r
		case "sizing":
			cmd := fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run %s -rows %d -sizing-logs %d -sizing-traces %d%s -opensearch-rows %d", f.run, f.rows, f.sizingLogs, f.sizingTraces, osFlags, f.osRows)
			m, err := bench.Sizing(ctx, st, osc, f.sizingLogs, f.sizingTraces, peerRes, insRes, cmd, progress)
			if err != nil {
				return fmt.Errorf("sizing: %w", err)
			}
			b, _ := json.MarshalIndent(m, "", "  ")
			if err := os.WriteFile(f.sizingOut, append(b, '\n'), 0o644); err != nil {
				return err
			}
			md := bench.SizingMarkdown(m)
			fmt.Println(md)
			if err := bench.WriteSection(f.out, "sizing", md); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown benchmark %q", name)
		}
	}
	return nil
}

func peer(ctx context.Context, st *chdb.Store, data string, osc *opensearch.Client, f flags, progress func(string)) (*bench.Results, error) {
	rec := &bench.Recorder{Store: st}
	apiBase, stopAPI := bench.StartAPI(rec)
	defer stopAPI()
	commit, _ := exec.Command("git", "describe", "--always", "--dirty").Output()
	r := &bench.Results{Date: time.Now().UTC().Format("2006-01-02"), Commit: strings.TrimSpace(string(commit)), Machine: bench.Machine(), Engine: st.Version,
		Command: fmt.Sprintf("go run ./bench/cmd/obsplane-bench -run peer -scales %s -load-readers %d -load-rate %d -load-for %s", f.scales, f.loadReaders, f.loadRate, f.loadFor)}
	if osc != nil {
		r.OpenSearch = "2.19.6"
		r.Command += " -opensearch $(scripts/opensearch.sh url)"
	}
	var vl *bench.VictoriaLogs
	if f.vlBin != "" {
		var err error
		if vl, err = bench.StartVictoriaLogs(ctx, f.vlBin, filepath.Join(data, "victorialogs")); err != nil {
			return nil, err
		}
		defer vl.Stop()
		r.VictoriaLogs = vl.Version
		r.Command += " -victorialogs $(scripts/install-victorialogs.sh)"
	}
	for i, sc := range strings.Split(f.scales, ",") {
		var o bench.PeerOptions
		if _, err := fmt.Sscanf(sc, "%d:%d", &o.Logs, &o.Traces); err != nil {
			return nil, fmt.Errorf("-scales %q: want logs:traces", sc)
		}
		o.Clients, o.Runs, o.Recorder = f.clients, f.runs, rec
		if o.Logs <= f.peerMaxLogs {
			o.OS, o.ViaGateway = osc, true
			if vl != nil {
				o.VL = vl
				if i > 0 {
					// A fresh VictoriaLogs per scale: its data cannot be
					// truncated.
					vl.Stop()
					var err error
					if vl, err = bench.StartVictoriaLogs(ctx, f.vlBin, filepath.Join(data, "victorialogs")); err != nil {
						return nil, err
					}
					o.VL = vl
				}
			}
			o.LoadReaders, o.LoadRate, o.LoadFor = f.loadReaders, f.loadRate, f.loadFor
		}
		progress(fmt.Sprintf("peer: %d logs, %d traces", o.Logs, o.Traces))
		s, err := bench.Peer(ctx, st, data, apiBase, o, progress)
		if err != nil {
			return nil, err
		}
		r.Scales = append(r.Scales, s)
	}
	r.Check()
	path := filepath.Join(f.resultsDir, r.Date+".json")
	if err := r.Write(path); err != nil {
		return nil, err
	}
	progress("results: " + path)
	if err := writePeer(r, f.out); err != nil {
		return nil, err
	}
	if len(r.Failures) > 0 {
		return r, fmt.Errorf("%d wrong answers or errors (see %s):\n%s", len(r.Failures), path, strings.Join(r.Failures, "\n"))
	}
	return r, nil
}

// writePeer renders the peer section and the chart beside the markdown file.
func writePeer(r *bench.Results, out string) error {
	chart := "bench-queries.svg"
	if svg := r.SVG(); svg != "" {
		if err := os.WriteFile(filepath.Join(filepath.Dir(out), chart), []byte(svg), 0o644); err != nil {
			return err
		}
	} else {
		chart = ""
	}
	md := r.Markdown(chart)
	fmt.Println(md)
	return bench.WriteSection(out, "peer", md)
}
