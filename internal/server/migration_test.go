package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

// openSearchURL returns the URL of the real OpenSearch (scripts/opensearch.sh,
// shared by every test that needs it), starting it if need be.
func openSearchURL(t *testing.T) string {
	t.Helper()
	url, skip, err := opensearchtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
	}
	return url
}

// TestShadowWriteAndRoutedReads runs serve in the dual-write phase with
// OpenSearch as the primary and dual read on: OTLP logs land in ClickHouse
// and, in OpenChoreo's layout, in OpenSearch; the unmodified logs adapter
// request answers from OpenSearch with every line, and ClickHouse holds the
// same lines.
func TestShadowWriteAndRoutedReads(t *testing.T) {
	osURL := openSearchURL(t)
	data := t.TempDir()
	grpcAddr, httpAddr, adapterAddr, tracingAddr := freePort(t), freePort(t), freePort(t), freePort(t)
	_, logs := startServe(t, httpAddr, "--data", data, "--otlp-grpc-addr", grpcAddr, "--logs-adapter-addr", adapterAddr,
		"--tracing-adapter-addr", tracingAddr,
		"--opensearch-url", osURL, "--shadow-write", "--backend", "opensearch", "--dual-read")

	ns := fmt.Sprintf("mig-%d", rand.Uint32())
	const n = 300
	now := time.Now().UTC()
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	a := rl.Resource().Attributes()
	for k, v := range map[string]string{"openchoreo.namespace": ns, "openchoreo.component": "api", "openchoreo.project": "shop",
		"k8s.namespace.name": "dp-" + ns, "k8s.pod.name": "api-1", "k8s.container.name": "main"} {
		a.PutStr(k, v)
	}
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Minute + time.Duration(i)*time.Millisecond)))
		lr.Body().SetStr(fmt.Sprintf("level=info shadow line %d", i))
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := plogotlp.NewGRPCClient(conn).Export(context.Background(), plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}

	req := map[string]any{"startTime": now.Add(-time.Hour).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339),
		"searchScope": map[string]any{"namespace": ns}, "limit": 1000}
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, _ := json.Marshal(req)
		resp, err := http.Post("http://"+adapterAddr+"/api/v1/logs/query", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %.300s", resp.StatusCode, b)
		var out struct {
			Total int `json:"total"`
		}
		if resp.StatusCode == 200 && json.Unmarshal(b, &out) == nil && out.Total == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OpenSearch (primary) never answered %d lines; last answer %s\n%s", n, last, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	// ClickHouse gets the same lines once its queue flushes (PPL reads
	// ClickHouse).
	q, _ := json.Marshal(map[string]string{"query": "source=logs | where namespace = '" + ns + "' | stats count()"})
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Post("http://"+httpAddr+"/api/v1/ppl", "application/json", bytes.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), fmt.Sprintf("[[%d]]", n)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse count: %s", b)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// /api/logs goes through the router too: a plain filter is answered by
	// the primary (OpenSearch); a free-text search only ClickHouse can do.
	var api struct {
		Logs []map[string]any `json:"logs"`
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/logs?namespace="+ns+"&since=2h&tail=1000", &api); code != 200 || len(api.Logs) != n {
		t.Fatalf("/api/logs from the primary: %d, %d lines", code, len(api.Logs))
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/logs?namespace="+ns+"&since=2h&tail=1000&q=shadow", &api); code != 200 || len(api.Logs) != n {
		t.Fatalf("/api/logs with q: %d, %d lines", code, len(api.Logs))
	}
	// Traces take the same path: dual-written into otel-traces-*, read by
	// the unmodified tracing adapter request from OpenSearch, compared with
	// ClickHouse in the background until the two agree.
	const traces = 12
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("openchoreo.dev/namespace", ns)
	rs.Resource().Attributes().PutStr("service.name", "api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range traces {
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		// Random ids: the dual write's _id is trace-span and a second
		// run's spans must not be taken for replays of this one's.
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
		binary.BigEndian.PutUint64(sid[:], rand.Uint64()|1)
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName("GET /")
		sp.SetKind(ptrace.SpanKindServer)
		start := now.Add(-time.Minute + time.Duration(i)*time.Second)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(5 * time.Millisecond)))
	}
	if _, err := ptraceotlp.NewGRPCClient(conn).Export(context.Background(), ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
		t.Fatal(err)
	}
	treq, _ := json.Marshal(map[string]any{"startTime": now.Add(-time.Hour).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339),
		"searchScope": map[string]any{"namespace": ns}})
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Post("http://"+tracingAddr+"/api/v1alpha1/traces/query", "application/json", bytes.NewReader(treq))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var out struct {
			Total int `json:"total"`
		}
		if resp.StatusCode == 200 && json.Unmarshal(b, &out) == nil && out.Total == traces && metric(t, httpAddr,
			`obsplane_router_dualread_total{op="traces.query",outcome="match"}`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("traces never answered by OpenSearch and matched by ClickHouse; last answer %d %.300s\n%s", resp.StatusCode, b, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The router served the reads from OpenSearch and shadowed them on
	// ClickHouse.
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`obsplane_router_requests_total{backend="opensearch",op="logs.query",outcome="ok",role="primary"}`,
		`obsplane_router_requests_total{backend="opensearch",op="api.logs",outcome="ok",role="primary"}`,
		`obsplane_router_requests_total{backend="clickhouse",op="api.logs",outcome="ok",role="primary"}`, `obsplane_gateway_dualwrite_records_total{outcome="created"}`,
		`obsplane_router_requests_total{backend="opensearch",op="traces.query",outcome="ok",role="primary"}`,
		`obsplane_router_requests_total{backend="clickhouse",op="traces.query",outcome="ok",role="secondary"}`,
		`otelcol_exporter_queue_capacity{data_type="logs",exporter="clickhousestore"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// metric reports whether serve's /metrics has the series.
func metric(t *testing.T, httpAddr, series string) bool {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), series)
}
