package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"go.opentelemetry.io/collector/exporter"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// gw is one in-process gateway on loopback ports, writing into its own
// database of the shared engine.
type gw struct {
	db                  string
	grpc, http, forward string
	cancel              context.CancelFunc
	done                chan error
	stopOnce            sync.Once
	stopErr             error
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startGateway(t testing.TB, db string, p Params) *gw {
	t.Helper()
	return startGatewayWith(t, db, p, engine)
}

func startGatewayWith(t testing.TB, db string, p Params, st store.Store) *gw {
	t.Helper()
	return startGatewayExporters(t, db, p, st)
}

// startGatewayExporters is startGatewayWith with extra exporter factories
// (the dual-write one).
func startGatewayExporters(t testing.TB, db string, p Params, st store.Store, exporters ...exporter.Factory) *gw {
	t.Helper()
	ctx := context.Background()
	if _, err := schema.Apply(ctx, engine, schema.Options{Database: db}); err != nil {
		t.Fatalf("schema: %v", err)
	}
	g := &gw{db: db, grpc: freeAddr(t), http: freeAddr(t), forward: freeAddr(t), done: make(chan error, 1)}
	p.OTLPGRPCAddr, p.OTLPHTTPAddr, p.ForwardAddr = g.grpc, g.http, g.forward
	if p.RemoteWriteAddr == "" {
		p.RemoteWriteAddr = Off
	}
	p.Database = db
	if p.BatchTimeout == 0 {
		p.BatchTimeout = 200 * time.Millisecond
	}
	if p.DataDir == "" {
		p.DataDir = t.TempDir()
	}
	p.LogLevel = "warn"
	y, err := DefaultConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	g.cancel = cancel
	ready := make(chan struct{})
	go func() {
		g.done <- Run(rctx, Settings{Store: st, ConfigYAML: y, Exporters: exporters, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-g.done:
		t.Fatalf("gateway stopped at start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("gateway not running after 60s")
	}
	t.Cleanup(func() { g.stop(t) })
	return g
}

func (g *gw) stop(t testing.TB) {
	t.Helper()
	g.stopOnce.Do(func() {
		g.cancel()
		select {
		case g.stopErr = <-g.done:
		case <-time.After(60 * time.Second):
			g.stopErr = fmt.Errorf("gateway did not stop within 60s")
		}
	})
	if g.stopErr != nil {
		t.Errorf("gateway stop: %v", g.stopErr)
	}
}

// running fails the test if Run has returned.
func (g *gw) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-g.done:
		g.done <- err
		t.Fatalf("gateway stopped: %v", err)
	default:
	}
}

func count(t *testing.T, sql string) int {
	t.Helper()
	rows, err := engine.Query(context.Background(), sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var r struct {
		N int `json:"n"`
	}
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", sql, rows.Err())
	}
	if err := rows.Scan(&r); err != nil {
		t.Fatal(err)
	}
	return r.N
}

// waitCount polls until sql's count reaches want, then checks it stays
// there (nothing written twice) for a moment.
func waitCount(t *testing.T, sql string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	got := 0
	for time.Now().Before(deadline) {
		if got = count(t, sql); got >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if got = count(t, sql); got != want {
		t.Fatalf("%s: %d rows, want exactly %d", sql, got, want)
	}
}

func telemetrygen(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TELEMETRYGEN"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "install-telemetrygen.sh")
	out, err := exec.Command("bash", script).Output()
	if err != nil {
		t.Fatalf("install telemetrygen (%s): %v", script, err)
	}
	return strings.TrimSpace(string(out))
}

func runTelemetrygen(t *testing.T, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(telemetrygen(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("telemetrygen %v: %v\n%s", args, err, out)
	}
	return time.Since(start)
}

func TestE2ETelemetrygenLogsAndTraces(t *testing.T) {
	g := startGateway(t, "gw_tgen", Params{BatchSize: 5000})
	const nLogs, nTraces = 20000, 1000

	t0 := time.Now()
	d := runTelemetrygen(t, "logs", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--logs", strconv.Itoa(nLogs),
		"--workers", "4", "--rate", "0", "--body", "level=warn telemetrygen line")
	waitCount(t, "SELECT count() AS n FROM gw_tgen.otel_logs", 4*nLogs)
	// waitCount includes a 0.5s stability check; subtract it.
	visible := time.Since(t0) - 500*time.Millisecond
	t.Logf("telemetrygen: %d logs over OTLP/gRPC sent in %v, all in otel_logs after %v (%.0f rows/s end to end)",
		4*nLogs, d, visible, float64(4*nLogs)/visible.Seconds())
	// The source's severity (telemetrygen sends Info/9) wins over the
	// level=warn in the line: derivation is only for lines without one.
	if n := count(t, "SELECT count() AS n FROM gw_tgen.otel_logs WHERE SeverityText = 'Info' AND SeverityNumber = 9 AND ServiceName = 'telemetrygen'"); n != 4*nLogs {
		t.Errorf("source severity kept on %d of %d rows", n, 4*nLogs)
	}

	d = runTelemetrygen(t, "traces", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--traces", strconv.Itoa(nTraces),
		"--workers", "2", "--rate", "0", "--child-spans", "1",
		// telemetrygen's batching span processor drops spans client-side
		// when unthrottled (its queue holds 2048); unbatched export sends
		// each span synchronously, so every span is offered to the gateway.
		"--batch=false")
	// Each trace is a parent and one child span.
	waitCount(t, "SELECT count() AS n FROM gw_tgen.otel_traces", 2*2*nTraces)
	t.Logf("telemetrygen: %d spans over OTLP/gRPC in %v (client side)", 4*nTraces, d)

	// OTLP/HTTP too, and metrics.
	runTelemetrygen(t, "logs", "--otlp-endpoint", g.http, "--otlp-http", "--otlp-insecure", "--logs", "500", "--rate", "0", "--body", "via http")
	waitCount(t, "SELECT count() AS n FROM gw_tgen.otel_logs WHERE Body = 'via http'", 500)
	runTelemetrygen(t, "metrics", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--metrics", "300", "--rate", "0", "--metric-type", "Sum")
	waitCount(t, "SELECT count() AS n FROM gw_tgen.otel_metrics_sum", 300)
	g.running(t)
}

// --- Fluent forward protocol -------------------------------------------

// fluentRecord is what Fluent Bit's forward output sends for one container
// line after the tail, cri and kubernetes filters.
func fluentRecord(pod, component, line string) map[string]any {
	return map[string]any{
		"log":    line,
		"stream": "stdout",
		"logtag": "F",
		"kubernetes": map[string]any{
			"pod_name":       pod,
			"namespace_name": "dp-default-org-default-project-development-3b7a1c2e",
			"pod_id":         "8c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
			"host":           "kind-openchoreo-worker",
			"container_name": "main",
			"docker_id":      "0a1b2c3d4e5f",
			"labels": map[string]any{
				"openchoreo.dev/component":       component,
				"openchoreo.dev/component-uid":   "uid-" + component,
				"openchoreo.dev/environment":     "development",
				"openchoreo.dev/environment-uid": "env-uid-1",
				"openchoreo.dev/project":         "default-project",
				"openchoreo.dev/project-uid":     "proj-uid-1",
				"openchoreo.dev/namespace":       "default-org",
			},
		},
	}
}

// eventTime is Fluentd's EventTime: msgpack extension type 0, seconds and
// nanoseconds as big-endian uint32s.
type eventTime time.Time

var _ msgpack.Marshaler = eventTime{}

func (e eventTime) MarshalMsgpack() ([]byte, error) {
	t := time.Time(e)
	b := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	s, ns := uint32(t.Unix()), uint32(t.Nanosecond())
	b[2], b[3], b[4], b[5] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
	b[6], b[7], b[8], b[9] = byte(ns>>24), byte(ns>>16), byte(ns>>8), byte(ns)
	return b, nil
}

func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendAcked writes frame (whose option map carries chunk) and waits for the
// server's {"ack": chunk}: the record was handed to the pipeline.
func sendAcked(t *testing.T, addr string, frame []byte, chunk string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var resp map[string]string
	if err := msgpack.NewDecoder(c).Decode(&resp); err != nil {
		t.Fatalf("ack for %s: %v", chunk, err)
	}
	if resp["ack"] != chunk {
		t.Fatalf("ack %v, want %s", resp, chunk)
	}
}

func TestE2EForwardModes(t *testing.T) {
	g := startGateway(t, "gw_fwd", Params{})
	now := time.Date(2025, 11, 2, 10, 0, 0, 0, time.UTC)
	tag := "kube.var.log.containers.x.log"

	// Message mode: [tag, time, record, option].
	sendAcked(t, g.forward, mp(t, []any{tag, eventTime(now), fluentRecord("api-0", "api", `{"level":"error","msg":"db down"}`), map[string]any{"chunk": "m1"}}), "m1")

	// Forward mode: [tag, [[time, record]...], option] — two pods in one frame.
	sendAcked(t, g.forward, mp(t, []any{tag, []any{
		[]any{now.Unix(), fluentRecord("api-0", "api", "INFO started")},
		[]any{eventTime(now.Add(time.Second)), fluentRecord("web-0", "web", "WARN slow request")},
	}, map[string]any{"chunk": "f1"}}), "f1")

	// PackedForward: the entries concatenated in a bin.
	var packed bytes.Buffer
	for i := 0; i < 3; i++ {
		packed.Write(mp(t, []any{eventTime(now.Add(time.Duration(i) * time.Millisecond)), fluentRecord("web-0", "web", fmt.Sprintf("packed %d", i))}))
	}
	sendAcked(t, g.forward, mp(t, []any{tag, packed.Bytes(), map[string]any{"chunk": "p1", "size": 3}}), "p1")

	// CompressedPackedForward: the same, gzipped.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := 0; i < 4; i++ {
		zw.Write(mp(t, []any{eventTime(now), fluentRecord("worker-0", "worker", fmt.Sprintf("ERROR compressed %d", i))}))
	}
	zw.Close()
	sendAcked(t, g.forward, mp(t, []any{tag, gz.Bytes(), map[string]any{"chunk": "c1", "size": 4, "compressed": "gzip"}}), "c1")

	waitCount(t, "SELECT count() AS n FROM gw_fwd.otel_logs", 1+2+3+4)

	// The enriched columns, as the query API reads them.
	rows, err := engine.Query(context.Background(), `SELECT ServiceName AS s, OpenChoreoComponent AS c, OpenChoreoProject AS p,
		OpenChoreoEnvironment AS e, OpenChoreoNamespace AS ns, OpenChoreoComponentUID AS cu, K8sPodName AS pod, K8sNamespace AS kns,
		ResourceAttributes['k8s.node.name'] AS node, ResourceAttributes['k8s.container.name'] AS ctr,
		SeverityText AS lvl, SeverityNumber AS num, Body AS body, LogAttributes AS la
		FROM gw_fwd.otel_logs ORDER BY Timestamp, Body`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		S, C, P, E, Ns, Cu, Pod, Kns, Node, Ctr, Lvl, Body string
		Num                                                int
		La                                                 map[string]string
	}
	byBody := map[string]row{}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		byBody[r.Body] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]struct{ comp, lvl string }{
		`{"level":"error","msg":"db down"}`: {"api", "ERROR"},
		"INFO started":                      {"api", "INFO"},
		"WARN slow request":                 {"web", "WARN"},
		"packed 1":                          {"web", "INFO"},
		"ERROR compressed 3":                {"worker", "ERROR"},
	} {
		r, ok := byBody[body]
		if !ok {
			t.Errorf("no row with body %q (have %d rows)", body, len(byBody))
			continue
		}
		if r.S != want.comp || r.C != want.comp || r.P != "default-project" || r.E != "development" || r.Ns != "default-org" ||
			r.Cu != "uid-"+want.comp || r.Kns != "dp-default-org-default-project-development-3b7a1c2e" ||
			r.Node != "kind-openchoreo-worker" || r.Ctr != "main" || r.Lvl != want.lvl || !strings.HasPrefix(r.Pod, want.comp+"-") {
			t.Errorf("%q: %+v", body, r)
		}
		if _, ok := r.La["kubernetes"]; ok || r.La["stream"] != "stdout" || r.La["fluent.tag"] != tag {
			t.Errorf("%q: log attributes %v", body, r.La)
		}
	}
	g.running(t)
}

// TestE2EForwardBadInput: garbage and truncated frames get their connection
// closed and nothing else: records before them on the same connection and
// on other connections are all written, and the gateway keeps running.
func TestE2EForwardBadInput(t *testing.T) {
	g := startGateway(t, "gw_bad", Params{})
	tag := "kube.bad"
	now := time.Now()
	good := 0
	send := func(frames ...[]byte) {
		c, err := net.DialTimeout("tcp", g.forward, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range frames {
			_, _ = c.Write(f)
		}
		// Give the server time to read before closing.
		time.Sleep(100 * time.Millisecond)
		c.Close()
	}
	goodFrame := func(chunk string) []byte {
		good++
		return mp(t, []any{tag, eventTime(now), fluentRecord("api-0", "api", "good "+chunk), map[string]any{"chunk": chunk}})
	}

	sendAcked(t, g.forward, goodFrame("before"), "before")
	truncated := mp(t, []any{tag, eventTime(now), fluentRecord("api-0", "api", "never complete")})
	garbage := []byte("\xc1\xc1\xc1 this is not msgpack at all \x00\xff\xfe")
	wrongShape := mp(t, map[string]any{"not": "an array"})
	badGzip := mp(t, []any{tag, []byte("definitely not gzip"), map[string]any{"compressed": "gzip"}})
	badEntries := mp(t, []any{tag, []byte{0x92, 0xc1}, map[string]any{}}) // packed entries that do not decode
	badTime := mp(t, []any{tag, "yesterday", map[string]any{"log": "x"}})

	// A good frame followed by garbage on one connection: the good one
	// (read first) still counts.
	send(goodFrame("same-conn"), garbage)
	send(truncated[:len(truncated)/2])
	send(wrongShape)
	send(badGzip)
	send(badEntries)
	send(badTime)
	send([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}) // array32 header claiming 4G elements
	for i := 0; i < 5; i++ {
		c := fmt.Sprintf("after-%d", i)
		sendAcked(t, g.forward, goodFrame(c), c)
	}
	waitCount(t, "SELECT count() AS n FROM gw_bad.otel_logs", good)
	g.running(t)
}
