package bench

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/metricsql/promtest"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// MetricsScale is one run of the metrics adapter benchmark.
type MetricsScale struct {
	Samples, SeriesPerScrape, Scrapes, Components int
	ObsplaneBytes, PrometheusBytes                int64
	Load                                          time.Duration
	// Times per adapter query: obsplane's SQL and Prometheus's module
	// PromQL (its queries of one answer run at once, as the module does).
	Queries []MetricsQueryTime
}

// MetricsQueryTime is one query's median.
type MetricsQueryTime struct {
	Name                 string
	Obsplane, Prometheus time.Duration
}

// Metrics writes the same remote-write samples into obsplane (through its
// gateway) and into a real Prometheus (Debian 2.42, its remote write
// receiver), then times each metrics adapter query on both over the last
// hour of the data at a 1-minute step, and reports the storage each uses.
func Metrics(ctx context.Context, st *chdb.Store, samples, runs int, progress func(string)) (*MetricsScale, error) {
	for _, t := range []string{"otel_metrics_gauge", "otel_metrics_sum"} {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return nil, err
		}
	}
	// 20 components of 5 pods; scrapes to reach the sample count.
	const components, pods = 20, 5
	step := 20 * time.Second
	probe := promtest.NewCluster(promtest.Scaled(components, pods, time.Time{}, step, 1))
	perScrape := probe.SeriesPerScrape()
	scrapes := max(samples/perScrape, 200)
	start := time.Now().Add(-time.Duration(scrapes) * step).Truncate(time.Minute)
	cluster := promtest.NewCluster(promtest.Scaled(components, pods, start, step, scrapes))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rw := l.Addr().String()
	l.Close()
	y, err := gateway.DefaultConfig(gateway.Params{OTLPGRPCAddr: gateway.Off, OTLPHTTPAddr: gateway.Off, ForwardAddr: gateway.Off,
		RemoteWriteAddr: rw, Database: "otel", BatchTimeout: time.Second, BatchSize: 100000, LogLevel: "warn"})
	if err != nil {
		return nil, err
	}
	gctx, stopGW := context.WithCancel(ctx)
	defer stopGW()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- gateway.Run(gctx, gateway.Settings{Store: st, ConfigYAML: y, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		return nil, err
	}
	dir, err := os.MkdirTemp("", "obsplane-bench-prom-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	prom, err := promtest.Start(ctx, promtest.Config{Dir: dir, ScrapeInterval: time.Minute, Receiver: true})
	if err != nil {
		return nil, err
	}
	defer prom.Stop()

	progress(fmt.Sprintf("metrics: writing %d scrapes of %d series into obsplane and Prometheus", scrapes, perScrape))
	t0 := time.Now()
	sent, err := cluster.Push(ctx, []string{"http://" + rw + "/api/v1/write", prom.URL + "/api/v1/write"}, 5000, nil)
	if err != nil {
		return nil, err
	}
	for {
		rows, err := store.ScanAll[struct {
			N int `json:"n"`
		}](ctx, st, `SELECT (SELECT count() FROM otel.otel_metrics_gauge) + (SELECT count() FROM otel.otel_metrics_sum) AS n`, nil)
		if err != nil {
			return nil, err
		}
		if rows[0].N >= sent {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	res := &MetricsScale{Samples: sent, SeriesPerScrape: perScrape, Scrapes: scrapes, Components: components, Load: time.Since(t0)}
	if err := st.Exec(ctx, "OPTIMIZE TABLE otel.otel_metrics_sum FINAL", nil); err != nil {
		return nil, err
	}
	if err := st.Exec(ctx, "OPTIMIZE TABLE otel.otel_metrics_gauge FINAL", nil); err != nil {
		return nil, err
	}
	sizes, err := store.ScanAll[struct {
		B int64 `json:"b"`
	}](ctx, st, `SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE active AND database = 'otel' AND table IN ('otel_metrics_gauge', 'otel_metrics_sum')`, nil)
	if err != nil {
		return nil, err
	}
	res.ObsplaneBytes = sizes[0].B
	res.PrometheusBytes = dirSize(filepath.Join(dir, "data"))

	db := &metricsql.DB{Store: st, Database: "otel"}
	end := start.Add(time.Duration(scrapes-1) * step).Truncate(time.Minute)
	r := metricsql.Range{Start: end.Add(-time.Hour), End: end, Step: time.Minute}
	s := metricsql.Scope{Namespace: "org", ProjectUID: promtest.ProjectUID, ComponentUID: promtest.ComponentUID(3), EnvironmentUID: promtest.EnvironmentUID}
	ps := promtest.Scope{Namespace: s.Namespace, ProjectUID: s.ProjectUID, ComponentUID: s.ComponentUID, EnvironmentUID: s.EnvironmentUID}
	promGroup := func(qs map[string]string, instant bool) func() error {
		return func() error {
			var wg sync.WaitGroup
			errs := make(chan error, len(qs))
			for _, q := range qs {
				wg.Add(1)
				go func(q string) {
					defer wg.Done()
					var err error
					if instant {
						_, err = prom.Query(ctx, q, end)
					} else {
						_, err = prom.QueryRange(ctx, q, r.Start, r.End, r.Step)
					}
					errs <- err
				}(q)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	cases := []struct {
		name       string
		ours, prom func() error
	}{
		{"resource metrics (10 series), 1 h at 1 m",
			func() error { _, err := db.Resource(ctx, s, r); return err }, promGroup(promtest.ResourceQueries(ps), false)},
		{"http metrics (7 series), 1 h at 1 m",
			func() error { _, _, err := db.HTTP(ctx, s, r); return err }, promGroup(promtest.HTTPQueries(ps), false)},
		{"runtime topology, 1 h",
			func() error { _, err := db.Topology(ctx, s, "", r.Start, r.End); return err }, promGroup(promtest.TopologyQueries(ps, "3600s"), true)},
	}
	for _, c := range cases {
		progress("metrics: timing " + c.name)
		o, err := medianOf(runs, c.ours)
		if err != nil {
			return nil, fmt.Errorf("%s (obsplane): %w", c.name, err)
		}
		p, err := medianOf(runs, c.prom)
		if err != nil {
			return nil, fmt.Errorf("%s (prometheus): %w", c.name, err)
		}
		res.Queries = append(res.Queries, MetricsQueryTime{Name: c.name, Obsplane: o, Prometheus: p})
	}
	return res, nil
}

// medianOf runs f once to warm up, then n times, and returns the median.
func medianOf(n int, f func() error) (time.Duration, error) {
	if err := f(); err != nil {
		return 0, err
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(t)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2], nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// MetricsMarkdown renders the runs.
func MetricsMarkdown(cmd string, scales []*MetricsScale) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Metrics adapter against Prometheus\n\n%s. The same remote-write samples (a synthetic cluster of 20 components × 5 pods: kube-state-metrics, cAdvisor and Hubble series at 20 s) "+
		"go into obsplane through its gateway and into Debian's Prometheus 2.42 through its remote write receiver. Each query is one adapter answer for one component over the data's last hour at a 1-minute step: "+
		"obsplane's SQL (internal/metricsql) against the module's PromQL on Prometheus (the queries of one answer at once, as the module sends them); median of the runs after a warm-up. "+
		"Storage: the metric tables' parts after OPTIMIZE FINAL, against Prometheus's data directory (WAL and head chunks: these samples are younger than its first block). Reproduce: `%s`.\n\n", Machine(), cmd)
	for _, s := range scales {
		fmt.Fprintf(&b, "### %d samples (%d series × %d scrapes)\n\n", s.Samples, s.SeriesPerScrape, s.Scrapes)
		fmt.Fprintf(&b, "Storage: obsplane %.1f MiB, Prometheus %.1f MiB. Written into both in %s.\n\n", float64(s.ObsplaneBytes)/(1<<20), float64(s.PrometheusBytes)/(1<<20), s.Load.Round(time.Second))
		b.WriteString("| query | obsplane | Prometheus | Prometheus / obsplane |\n|---|---|---|---|\n")
		for _, q := range s.Queries {
			fmt.Fprintf(&b, "| %s | %s | %s | %.2fx |\n", q.Name, q.Obsplane.Round(time.Millisecond), q.Prometheus.Round(time.Millisecond), q.Prometheus.Seconds()/q.Obsplane.Seconds())
		}
		b.WriteString("\n")
	}
	return b.String()
}
