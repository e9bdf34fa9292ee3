package opensearchexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

// The tests run against the real OpenSearch of scripts/opensearch.sh (the
// shared node), and start a second node of their own for the outage test so
// the shared one is never stopped.
var (
	osURL      string
	skipReason string
)

func TestMain(m *testing.M) {
	osURL, skipReason = opensearchtest.ForMain("opensearchexporter")
	os.Exit(m.Run())
}

// script and startNode drive a second node of the test's own (env gives its
// port and home), for the outage test.
func script(env []string, args ...string) (string, error) { return opensearchtest.Script(env, args...) }

func startNode(env []string) (string, error) { return script(env, "start") }

func skipIfNoOpenSearch(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// testDay is a day no real data uses, random per run so concurrent runs
// against one node do not share indices.
func testDay() time.Time {
	return time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rand.IntN(3000))
}

// sampleLogs builds n records as the gateway has them after the openchoreo
// processor: one pod's resource, lines 1 ms apart from start.
func sampleLogs(start time.Time, n int, tag string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	for k, v := range map[string]string{
		"service.name": "checkout", "k8s.pod.name": "checkout-7d9f-abcde", "k8s.namespace.name": "dp-default-shop-dev-1a2b3c",
		"k8s.container.name": "main", "k8s.node.name": "node-1", "k8s.pod.uid": "3f1c7a2e-0000-4000-8000-000000000001",
		"k8s.pod.label.openchoreo.dev/component-uid": "c-uid", "k8s.pod.label.openchoreo.dev/namespace": "default",
		"openchoreo.component.uid": "c-uid", "openchoreo.namespace": "default", "openchoreo.component": "checkout",
		"openchoreo.project.uid": "p-uid",
	} {
		res.PutStr(k, v)
	}
	sl := rl.ScopeLogs().AppendEmpty()
	for i := 0; i < n; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("%s line %d level=info", tag, i))
		lr.SetSeverityText("INFO")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		lr.Attributes().PutStr("log.iostream", "stdout")
	}
	return ld
}

type testHost struct {
	exts map[component.ID]component.Component
}

func (h *testHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func newFileStorage(t *testing.T, dir string) (*testHost, component.ID) {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	id := component.MustNewID("file_storage")
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	host := &testHost{exts: map[component.ID]component.Component{id: ext}}
	if err := ext.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return host, id
}

func enabledConfig(url string) *Config {
	cfg := createDefaultConfigStruct()
	cfg.Enabled = true
	cfg.Endpoint = url
	// Fast retries keep the outage test short.
	cfg.BackOffConfig.InitialInterval = 100 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 500 * time.Millisecond
	cfg.TimeoutConfig.Timeout = 5 * time.Second
	return cfg
}

func newLogs(t *testing.T, cfg *Config, tel *Telemetry) exporter.Logs {
	t.Helper()
	set := exportertest.NewNopSettings(Type)
	// A fixed id: the persistent queue is found again by it after a restart.
	set.ID = component.NewIDWithName(Type, "dualwrite")
	exp, err := NewFactory(WithTelemetry(tel)).CreateLogs(context.Background(), set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func search(t *testing.T, c *opensearch.Client, index string) []map[string]any {
	t.Helper()
	body := `{"size": 1000, "sort": [{"@timestamp": "asc"}]}`
	req, _ := http.NewRequest(http.MethodPost, "/"+index+"/_search?ignore_unavailable=true", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Hits struct {
			Hits []struct {
				Index  string         `json:"_index"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	for _, h := range out.Hits.Hits {
		h.Source["_index"] = h.Index
		docs = append(docs, h.Source)
	}
	return docs
}

func refresh(c *opensearch.Client, pattern string) {
	req, _ := http.NewRequest(http.MethodPost, "/"+pattern+"/_refresh?ignore_unavailable=true&allow_no_indices=true", nil)
	if resp, err := c.API.Client.Perform(req); err == nil {
		resp.Body.Close()
	}
}

func deleteIndices(c *opensearch.Client, pattern string) {
	req, _ := http.NewRequest(http.MethodDelete, "/"+pattern+"?ignore_unavailable=true&allow_no_indices=true", nil)
	if resp, err := c.API.Client.Perform(req); err == nil {
		resp.Body.Close()
	}
}

// waitDocs polls until pattern holds want documents.
func waitDocs(t *testing.T, c *opensearch.Client, pattern string, want int, within time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var docs []map[string]any
	for {
		refresh(c, pattern)
		docs = search(t, c, pattern)
		if len(docs) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(docs) != want {
		t.Fatalf("%s holds %d documents after %s, want %d", pattern, len(docs), within, want)
	}
	return docs
}

func TestRecordsBecomeFluentBitDocumentsInDailyIndices(t *testing.T) {
	skipIfNoOpenSearch(t)
	c, err := opensearch.New(osURL)
	if err != nil {
		t.Fatal(err)
	}
	// 23:59:59.998 UTC: two lines on one day, two on the next.
	day := testDay()
	start := day.Add(24*time.Hour - 2*time.Millisecond)
	first, second := opensearch.ContainerLogsIndex(day), opensearch.ContainerLogsIndex(day.Add(24*time.Hour))
	t.Cleanup(func() { deleteIndices(c, first+","+second) })

	tel := NewTelemetry(nil)
	exp := newLogs(t, enabledConfig(osURL), tel)
	if err := exp.Start(context.Background(), &testHost{}); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	if err := exp.ConsumeLogs(context.Background(), sampleLogs(start, 4, "daily")); err != nil {
		t.Fatal(err)
	}
	docs := waitDocs(t, c, first+","+second, 4, 30*time.Second)
	for i, d := range docs {
		wantIndex := first
		if i >= 2 {
			wantIndex = second
		}
		if d["_index"] != wantIndex {
			t.Errorf("doc %d in %v, want %s", i, d["_index"], wantIndex)
		}
		ts := start.Add(time.Duration(i) * time.Millisecond)
		if d["@timestamp"] != ts.Format("2006-01-02T15:04:05.000Z") || d["log"] != fmt.Sprintf("daily line %d level=info", i) || d["stream"] != "stdout" {
			t.Errorf("doc %d: @timestamp %v log %v stream %v", i, d["@timestamp"], d["log"], d["stream"])
		}
		k, _ := d["kubernetes"].(map[string]any)
		labels, _ := k["labels"].(map[string]any)
		if k["pod_name"] != "checkout-7d9f-abcde" || k["namespace_name"] != "dp-default-shop-dev-1a2b3c" || k["container_name"] != "main" ||
			k["host"] != "node-1" || k["pod_id"] != "3f1c7a2e-0000-4000-8000-000000000001" {
			t.Errorf("doc %d kubernetes = %v", i, k)
		}
		for l, v := range map[string]string{"openchoreo_dev/component-uid": "c-uid", "openchoreo_dev/namespace": "default",
			"openchoreo_dev/component": "checkout", "openchoreo_dev/project-uid": "p-uid"} {
			if labels[l] != v {
				t.Errorf("doc %d label %s = %v, want %s", i, l, labels[l], v)
			}
		}
	}
	// The Observer's own query shape finds them (the template mapped the
	// index: labels keyword, log wildcard).
	q := `{"query":{"bool":{"filter":[{"term":{"kubernetes.labels.openchoreo_dev/component-uid":"c-uid"}},{"term":{"kubernetes.labels.openchoreo_dev/namespace":"default"}},{"wildcard":{"log":{"value":"*INFO*","case_insensitive":true}}}]}}}`
	req, _ := http.NewRequest(http.MethodPost, "/"+opensearch.ContainerLogsPrefix+"*/_count", strings.NewReader(q))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		t.Fatal(err)
	}
	var cnt struct{ Count int }
	_ = json.NewDecoder(resp.Body).Decode(&cnt)
	resp.Body.Close()
	if cnt.Count < 4 {
		t.Errorf("Observer-style query counts %d, want at least 4", cnt.Count)
	}
	// A replay of the same records (a retry after a lost answer) adds
	// nothing.
	if err := exp.ConsumeLogs(context.Background(), sampleLogs(start, 4, "daily")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(tel.Docs.WithLabelValues("existing")) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	waitDocs(t, c, first+","+second, 4, time.Second)
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("created")); got != 4 {
		t.Errorf("created = %v, want 4", got)
	}
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("existing")); got != 4 {
		t.Errorf("existing = %v, want 4 (the replay)", got)
	}
	if lag, pending := tel.Lag(); lag != 0 || pending != 0 {
		t.Errorf("lag %s, pending %d after everything was written; want 0, 0", lag, pending)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The node also binds port+100 for transport.
		if p+100 < 65536 {
			if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+100)); err == nil {
				l2.Close()
				return p
			}
		}
	}
}

// TestOutageQueuesAndResumesAcrossRestart: with OpenSearch down the exporter
// accepts records at once (the ClickHouse path is never held), queues them
// on disk, survives its own restart, and writes every record exactly once
// when OpenSearch is back.
func TestOutageQueuesAndResumesAcrossRestart(t *testing.T) {
	skipIfNoOpenSearch(t)
	port := freePort(t)
	env := []string{fmt.Sprintf("OPENSEARCH_PORT=%d", port), "OPENSEARCH_HOME_DIR=" + t.TempDir()}
	url, err := startNode(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = script(env, "stop") })
	c, err := opensearch.New(url)
	if err != nil {
		t.Fatal(err)
	}
	day := testDay().Add(12 * time.Hour)
	index := opensearch.ContainerLogsIndex(day)

	queueDir := t.TempDir()
	tel := NewTelemetry(prometheus.NewRegistry())
	cfg := enabledConfig(url)
	host, storageID := newFileStorage(t, queueDir)
	cfg.QueueConfig.Get().StorageID = &storageID

	exp := newLogs(t, cfg, tel)
	if err := exp.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	if err := exp.ConsumeLogs(context.Background(), sampleLogs(day, 10, "before")); err != nil {
		t.Fatal(err)
	}
	waitDocs(t, c, index, 10, 30*time.Second)

	if _, err := script(env, "stop"); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for i := 0; i < 5; i++ {
		if err := exp.ConsumeLogs(context.Background(), sampleLogs(day.Add(time.Duration(i+1)*time.Second), 20, fmt.Sprintf("outage-%d", i))); err != nil {
			t.Fatalf("ConsumeLogs during the outage: %v (must never fail the pipeline)", err)
		}
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("5 ConsumeLogs calls took %s during the outage; the pipeline must not wait for OpenSearch", d)
	}
	time.Sleep(time.Second)
	if lag, pending := tel.Lag(); pending != 100 || lag < time.Second/2 {
		t.Errorf("during the outage: lag %s pending %d, want ~1s and 100", lag, pending)
	}
	// The gateway restarts while OpenSearch is still down: the queue is on
	// disk.
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	exp = newLogs(t, cfg, tel)
	if err := exp.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	if err := exp.ConsumeLogs(context.Background(), sampleLogs(day.Add(10*time.Second), 5, "after-restart")); err != nil {
		t.Fatal(err)
	}

	if _, err := startNode(env); err != nil {
		t.Fatal(err)
	}
	docs := waitDocs(t, c, index, 115, 2*time.Minute)
	seen := map[string]bool{}
	for _, d := range docs {
		l, _ := d["log"].(string)
		if seen[l] {
			t.Errorf("line %q stored twice", l)
		}
		seen[l] = true
	}
	for i := 0; i < 5; i++ {
		for j := 0; j < 20; j++ {
			if l := fmt.Sprintf("outage-%d line %d level=info", i, j); !seen[l] {
				t.Errorf("line %q lost", l)
			}
		}
	}
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("dropped")); got != 0 {
		t.Errorf("dropped = %v, want 0", got)
	}
}

func TestDisabledWritesNothing(t *testing.T) {
	cfg := createDefaultConfigStruct()
	if cfg.Enabled {
		t.Fatal("dual write must be off by default")
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the default (disabled) config must be valid: %v", err)
	}
	// An endpoint nobody listens on: a disabled exporter never dials it.
	cfg.Endpoint = "http://127.0.0.1:1"
	exp := newLogs(t, cfg, NewTelemetry(nil))
	if err := exp.Start(context.Background(), &testHost{}); err != nil {
		t.Fatal(err)
	}
	if err := exp.ConsumeLogs(context.Background(), sampleLogs(time.Now(), 3, "x")); err != nil {
		t.Fatal(err)
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestQueueFullDropsInsteadOfFailingThePipeline(t *testing.T) {
	// Nothing listens: every push fails and waits for a retry, so the
	// one-slot queue fills and the next batch is refused.
	cfg := enabledConfig("http://127.0.0.1:1")
	cfg.EnsureTemplates = false
	cfg.QueueConfig.Get().QueueSize = 1
	cfg.QueueConfig.Get().NumConsumers = 1
	tel := NewTelemetry(nil)
	exp := newLogs(t, cfg, tel)
	if err := exp.Start(context.Background(), &testHost{}); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	for i := 0; i < 5; i++ {
		if err := exp.ConsumeLogs(context.Background(), sampleLogs(time.Now(), 2, "x")); err != nil {
			t.Fatalf("batch %d: %v; a full shadow queue must not fail the pipeline", i, err)
		}
	}
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("dropped")); got < 2 {
		t.Errorf("dropped = %v, want the refused batches counted", got)
	}
	if _, pending := tel.Lag(); pending > 4 {
		t.Errorf("pending = %d; refused batches must not count as pending", pending)
	}
}

func TestConfig(t *testing.T) {
	load := func(t *testing.T, raw map[string]any) *Config {
		t.Helper()
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		if err := confmap.NewFromStringMap(raw).Unmarshal(cfg); err != nil {
			t.Fatalf("unmarshal %v: %v", raw, err)
		}
		return cfg
	}
	// The whitepaper's block, as written, plus enabled.
	cfg := load(t, map[string]any{"endpoints": []any{"http://opensearch:9200"}, "index": "container-logs", "enabled": true})
	if err := cfg.Validate(); err != nil {
		t.Errorf("whitepaper config: %v", err)
	}
	if cfg.URL() != "http://opensearch:9200" || !cfg.QueueConfig.HasValue() || cfg.QueueConfig.Get().BlockOnOverflow {
		t.Errorf("defaults: %+v", cfg)
	}
	storage := load(t, map[string]any{"enabled": true, "endpoint": "https://os:9200", "sending_queue": map[string]any{"storage": "file_storage/dualwrite"}})
	if id := storage.QueueConfig.Get().StorageID; id == nil || id.String() != "file_storage/dualwrite" {
		t.Errorf("sending_queue.storage = %v", id)
	}
	for _, tc := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"enabled": true}, "needs endpoint"},
		{map[string]any{"enabled": true, "endpoint": "opensearch:9200"}, "must be http(s)"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "endpoints": []any{"http://b:1"}}, "not both"},
		{map[string]any{"enabled": true, "endpoints": []any{"http://a:1", "http://b:1"}}, "more than one"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "index": "Container*"}, "index"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "index_date_format": "yyyy-MM-dd"}, "Go date layout"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "sending_queue": map[string]any{"enabled": false}}, "sending_queue must be enabled"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "sending_queue": map[string]any{"block_on_overflow": true}}, "block_on_overflow"},
		{map[string]any{"enabled": true, "endpoint": "http://a:1", "bulk_max_attempts": 0}, "bulk_max_attempts"},
		{map[string]any{"enabled": false, "endpoint": "nonsense"}, ""},
	} {
		err := load(t, tc.raw).Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%v) = %v, want %q", tc.raw, err, tc.want)
		}
	}
}

func TestLagTracker(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := &lagTracker{now: func() time.Time { return now }}
	a := tr.add(3)
	now = now.Add(time.Second)
	tr.add(2)
	now = now.Add(time.Second)
	if lag, p := tr.state(); lag != 2*time.Second || p != 5 {
		t.Errorf("lag %s pending %d, want 2s 5", lag, p)
	}
	tr.ack(3) // the first batch is written
	if lag, p := tr.state(); lag != time.Second || p != 2 {
		t.Errorf("lag %s pending %d, want 1s 2", lag, p)
	}
	tr.cancel(a) // already retired: no effect on the count
	tr.ack(10)   // more than known (a backlog from before a restart)
	if lag, p := tr.state(); lag != 0 || p < 0 || p > 2 {
		t.Errorf("lag %s pending %d after draining, want 0", lag, p)
	}
}
