package metricsql_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/metricsql/promtest"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// Tolerance of the comparison with Prometheus, relative to the larger
// value: both evaluate the same algorithm on the same millisecond samples,
// so only floating point summation order differs.
const tolerance = 1e-6

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// pipeline is a real Prometheus scraping the example cluster and remote
// writing into a real gateway that stores into the embedded engine.
type pipeline struct {
	db      *metricsql.DB
	prom    *promtest.Prometheus
	cluster *promtest.Cluster
	start   time.Time
	step    time.Duration
}

func startPipeline(t *testing.T, database string, scrapes int) *pipeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := schema.Apply(ctx, engine, schema.Options{Database: database}); err != nil {
		t.Fatal(err)
	}
	db := &metricsql.DB{Store: engine, Database: database}
	rw := freeAddr(t)
	y, err := gateway.DefaultConfig(gateway.Params{OTLPGRPCAddr: gateway.Off, OTLPHTTPAddr: gateway.Off, ForwardAddr: gateway.Off,
		RemoteWriteAddr: rw, Database: database, BatchTimeout: 200 * time.Millisecond, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- gateway.Run(ctx, gateway.Settings{Store: engine, ConfigYAML: y, PodLabels: gateway.StoredPodLabels(db), Ready: func() { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("gateway: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("gateway not ready")
	}

	// Virtual time starts after Prometheus does: its remote write sends
	// only samples newer than its own start. It runs ahead of the clock,
	// which the TSDB takes.
	step := 20 * time.Second
	start := time.Now().Add(time.Minute).Truncate(time.Minute)
	cluster := promtest.NewCluster(promtest.Example(start, step, scrapes))
	srv := httptest.NewServer(cluster)
	t.Cleanup(srv.Close)
	target := strings.TrimPrefix(srv.URL, "http://")
	prom, err := promtest.Start(ctx, promtest.Config{Dir: t.TempDir(), ScrapeInterval: time.Second,
		Jobs:           promtest.Jobs(target),
		RemoteWriteURL: "http://" + rw + "/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prom.Stop)
	p := &pipeline{db: db, prom: prom, cluster: cluster, start: start, step: step}
	p.waitIngested(t, database)
	return p
}

// clusterMetrics are the names the example cluster exposes.
var clusterMetrics = []string{"kube_pod_labels", "kube_pod_status_phase", "kube_pod_container_resource_requests", "kube_pod_container_resource_limits",
	"container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_network_receive_bytes_total",
	"container_network_transmit_bytes_total", "container_fs_reads_bytes_total", "container_fs_writes_bytes_total",
	"hubble_http_requests_total", "hubble_http_request_duration_seconds_bucket", "hubble_http_request_duration_seconds_sum",
	"hubble_http_request_duration_seconds_count"}

// waitIngested waits until the cluster has served every scrape and the
// gateway has stored every sample Prometheus holds of its series.
func (p *pipeline) waitIngested(t *testing.T, database string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(90*time.Second + time.Duration(p.cluster.Scraped("/ksm"))*2*time.Second)
	var want, got float64
	for time.Now().Before(deadline) {
		time.Sleep(2 * time.Second)
		if !p.cluster.Done() {
			continue
		}
		want = 0
		for _, m := range clusterMetrics {
			res, err := p.prom.Query(ctx, `sum(count_over_time(`+m+`[2h]))`, p.cluster.LastTime("/hubble").Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(res) > 0 {
				want += res[0].Points[0].V
			}
		}
		rows, err := store.ScanAll[struct {
			N float64 `json:"n"`
		}](ctx, engine, fmt.Sprintf(`SELECT (SELECT count(DISTINCT MetricName, Attributes, TimeUnixMilli) FROM %[1]s.otel_metrics_gauge WHERE match(MetricName, '^(kube_|container_|hubble_)'))
			+ (SELECT count(DISTINCT MetricName, Attributes, TimeUnixMilli) FROM %[1]s.otel_metrics_sum WHERE match(MetricName, '^(kube_|container_|hubble_)')) AS n`, database), nil)
		if err != nil {
			t.Fatal(err)
		}
		got = rows[0].N
		if got == want {
			return
		}
	}
	up := p.prom.SelfMetrics("prometheus_remote_storage_")
	t.Fatalf("stored %v samples of the cluster's series, Prometheus holds %v (scrapes %d/%d/%d, up %v)\n%s", got, want,
		p.cluster.Scraped("/ksm"), p.cluster.Scraped("/cadvisor"), p.cluster.Scraped("/hubble"), up, p.prom.Log())
}

func compare(t *testing.T, what string, want []promtest.Point, got []metricsql.Point) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: Prometheus has %d points, obsplane %d\nprometheus %v\nobsplane   %v", what, len(want), len(got), want, got)
		return
	}
	for i := range want {
		w, g := want[i], got[i]
		if !w.T.Equal(g.T) {
			t.Errorf("%s: point %d at %v in Prometheus, %v in obsplane", what, i, w.T, g.T)
			return
		}
		if d := math.Abs(w.V - g.V); d > tolerance*math.Max(math.Abs(w.V), math.Abs(g.V)) && d > 1e-12 {
			t.Errorf("%s at %v: Prometheus %v, obsplane %v (off by %.3g%%)", what, w.T, w.V, g.V, 100*d/math.Abs(w.V))
		}
	}
}

func (p *pipeline) promSeries(t *testing.T, q string, r metricsql.Range) []promtest.Point {
	t.Helper()
	res, err := p.prom.QueryRange(context.Background(), q, r.Start, r.End, r.Step)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if len(res) == 0 {
		return nil
	}
	// The module answers the first series; with the scope fixing every
	// label of its `sum by`, there is one.
	if len(res) > 1 {
		t.Errorf("%d series for %s", len(res), q)
	}
	return res[0].Points
}

// TestAnswersMatchPrometheusModule is the metrics adapter's reference
// check: a real Prometheus scrapes a cluster's kube-state-metrics, cAdvisor
// and Hubble series and remote-writes them into the gateway; then every
// resource and HTTP series obsplane computes in SQL for a scope is compared
// with what the same Prometheus answers to OpenChoreo's module PromQL for
// it, point by point, within tolerance.
func TestAnswersMatchPrometheusModule(t *testing.T) {
	p := startPipeline(t, "metrics_eq", 40)
	ctx := context.Background()
	last := p.cluster.LastTime("/ksm")
	ranges := []metricsql.Range{
		{Start: p.start.Add(3 * time.Minute), End: last, Step: time.Minute},
		{Start: p.start.Add(10*time.Minute + 7*time.Second), End: last.Add(4 * time.Minute), Step: 5 * time.Minute},
		{Start: p.start, End: p.start.Add(15 * time.Minute), Step: 30 * time.Second},
	}
	scopes := []metricsql.Scope{
		{Namespace: "org", ComponentUID: promtest.APIUID},
		{Namespace: "org", ComponentUID: promtest.WebUID, ProjectUID: promtest.ProjectUID, EnvironmentUID: promtest.EnvironmentUID},
		{Namespace: "org", ProjectUID: promtest.ProjectUID, EnvironmentUID: promtest.EnvironmentUID},
		{Namespace: "org"},
		{Namespace: "org2", ComponentUID: promtest.OtherUID},
	}
	points := 0
	var ours, theirs time.Duration
	began := time.Now()
	for _, s := range scopes {
		ps := promtest.Scope{Namespace: s.Namespace, ProjectUID: s.ProjectUID, ComponentUID: s.ComponentUID, EnvironmentUID: s.EnvironmentUID}
		for _, r := range ranges {
			t0 := time.Now()
			res, err := p.db.Resource(ctx, s, r)
			if err != nil {
				t.Fatal(err)
			}
			ours += time.Since(t0)
			for name, q := range promtest.ResourceQueries(ps) {
				t0 := time.Now()
				want := p.promSeries(t, q, r)
				theirs += time.Since(t0)
				compare(t, fmt.Sprintf("%+v %s step %s: %s", s, r.Start.Format(time.TimeOnly), r.Step, name), want, res[name])
				points += len(want)
			}
			t0 = time.Now()
			httpRes, src, err := p.db.HTTP(ctx, s, r)
			if err != nil {
				t.Fatal(err)
			}
			ours += time.Since(t0)
			if src != metricsql.SourceHubble {
				t.Errorf("%+v: HTTP metrics answered from %s, want hubble", s, src)
			}
			for name, q := range promtest.HTTPQueries(ps) {
				want := p.promSeries(t, q, r)
				compare(t, fmt.Sprintf("%+v %s step %s: %s", s, r.Start.Format(time.TimeOnly), r.Step, name), want, httpRes[name])
				points += len(want)
			}
		}
	}
	if t.Failed() {
		raw, err := p.prom.Query(ctx, `container_memory_working_set_bytes{container="main",pod="api-7d9c8b6f5-x2x7k"}[40m]`, p.start.Add(30*time.Minute))
		t.Logf("DEBUG prom raw: %v %v", raw, err)
		rows, _ := store.ScanAll[map[string]any](ctx, engine, `SELECT toString(TimeUnixMilli) t, Value, Flags FROM metrics_eq.otel_metrics_gauge WHERE MetricName='container_memory_working_set_bytes' AND Attributes['container']='main' AND Attributes['pod']='api-7d9c8b6f5-x2x7k' ORDER BY TimeUnixMilli`, nil)
		t.Logf("DEBUG ours: %v", rows)
	}
	if points < 1000 {
		t.Errorf("only %d points compared; the cluster's data did not reach the queries", points)
	}
	t.Logf("%d points agree with Prometheus within %g (queries: obsplane %v, Prometheus %v, comparison %v in all)", points, tolerance, ours, theirs, time.Since(began))

	// The runtime topology: every edge's aggregates against the module's
	// instant queries at the window's end.
	edges := 0
	for _, w := range []struct {
		start, end time.Time
		component  string
	}{{p.start, last, ""}, {p.start.Add(4 * time.Minute), last.Add(-time.Minute), promtest.WebUID}} {
		s := metricsql.Scope{Namespace: "org", ProjectUID: promtest.ProjectUID, EnvironmentUID: promtest.EnvironmentUID}
		got, err := p.db.Topology(ctx, s, w.component, w.start, w.end)
		if err != nil {
			t.Fatal(err)
		}
		byEdge := map[string]metricsql.EdgeMetrics{}
		for _, e := range got {
			byEdge[e.SourceUID+">"+e.TargetUID] = e.Metrics
		}
		dur := fmt.Sprintf("%dms", w.end.Sub(w.start).Milliseconds())
		for name, q := range promtest.TopologyQueries(promtest.Scope{Namespace: "org", ProjectUID: promtest.ProjectUID, EnvironmentUID: promtest.EnvironmentUID}, dur) {
			res, err := p.prom.Query(ctx, q, w.end)
			if err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
			seen := 0
			for _, r := range res {
				src, dst := r.Metric["src_component_uid"], r.Metric["dst_component_uid"]
				if w.component != "" && src != w.component && dst != w.component {
					continue
				}
				seen++
				m, ok := byEdge[src+">"+dst]
				if !ok {
					t.Errorf("topology %s: edge %s->%s missing in obsplane", name, src, dst)
					continue
				}
				v := map[string]float64{"requestCount": m.RequestCount, "unsuccessfulRequestCount": m.UnsuccessfulRequestCount, "meanLatency": m.MeanLatency,
					"latencyP50": m.LatencyP50, "latencyP90": m.LatencyP90, "latencyP99": m.LatencyP99}[name]
				compare(t, "topology "+name+" "+src+"->"+dst, r.Points, []metricsql.Point{{T: r.Points[0].T, V: v}})
				edges++
			}
			if name == "requestCount" && seen != len(got) {
				t.Errorf("topology: Prometheus has %d edges, obsplane %d: %+v", seen, len(got), got)
			}
		}
	}
	if edges < 10 {
		t.Errorf("only %d topology values compared", edges)
	}

	// A component UID of another namespace answers nothing in this one.
	res, err := p.db.Resource(ctx, metricsql.Scope{Namespace: "org", ComponentUID: promtest.OtherUID}, ranges[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		keys := make([]string, 0, len(res))
		for k := range res {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("org2's component read through namespace org: %v", keys)
	}
}
