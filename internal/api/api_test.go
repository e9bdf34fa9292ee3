package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/gateway/dualwritetest"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var testStore *chdb.Store

func TestMain(m *testing.M) {
	// The response validator reads each NDJSON line as one JSON value of
	// the declared item schema.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.JSONBodyDecoder)
	chdbtest.Main(m, &testStore)
}

// The fixture: two tenants (namespaces ns-a and ns-b), logs and traces in
// both, all within the hour before base.
var (
	base   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	projA  = "11111111-1111-4111-8111-111111111111"
	compA  = "22222222-2222-4222-8222-222222222222"
	envA   = "33333333-3333-4333-8333-333333333333"
	projB  = "44444444-4444-4444-8444-444444444444"
	compB  = "55555555-5555-4555-8555-555555555555"
	envB   = "66666666-6666-4666-8666-666666666666"
	traceA = "0af7651916cd43dd8448eb211c80319c"
	traceB = "1bf7651916cd43dd8448eb211c80319d"
	// traceC runs across midnight: its spans are in two daily partitions.
	traceC = "2cf7651916cd43dd8448eb211c80319e"
	sameTS = base.Add(-30 * time.Minute)
	// midnight starts base's day.
	midnight = base.Truncate(24 * time.Hour)
	nSameTS  = 25
)

var setupOnce sync.Once

func resA(comp string) map[string]string {
	return map[string]string{
		"openchoreo.namespace": "ns-a", "openchoreo.project": "shop", "openchoreo.component": comp,
		"openchoreo.environment": "dev", "openchoreo.project.uid": projA, "openchoreo.component.uid": compA,
		"openchoreo.environment.uid": envA, "k8s.namespace.name": "dp-ns-a-shop-dev", "k8s.pod.name": comp + "-7d9f",
		"k8s.container.name": "main", "service.name": comp,
	}
}

func resB() map[string]string {
	// The pod-label form of the tenant keys (openchoreo.dev/...), which the
	// schema's tenant columns also read.
	return map[string]string{
		"openchoreo.dev/namespace": "ns-b", "openchoreo.dev/project": "bank", "openchoreo.dev/component": "gateway",
		"openchoreo.dev/environment": "prod", "openchoreo.dev/project-uid": projB, "openchoreo.dev/component-uid": compB,
		"openchoreo.dev/environment-uid": envB, "k8s.namespace.name": "dp-ns-b", "k8s.pod.name": "gateway-1", "k8s.container.name": "main",
	}
}

func setup(t *testing.T) store.Store {
	t.Helper()
	setupOnce.Do(func() {
		ctx := context.Background()
		if _, err := schema.Apply(ctx, testStore, schema.Options{Database: "otel"}); err != nil {
			t.Fatalf("schema: %v", err)
		}
		if err := (&alerts.Manager{Store: testStore}).EnsureTables(ctx); err != nil {
			t.Fatal(err)
		}
		insertLogs(t)
		insertTraces(t)
	})
	return testStore
}

type logRow struct {
	ts     time.Time
	sev    string
	sevNum uint8
	svc    string
	body   string
	trace  string
	res    map[string]string
	attrs  map[string]string // LogAttributes; a k8s.event.reason makes the row a Kubernetes event
}

func insertLogs(t *testing.T) {
	var rows []logRow
	for i := 0; i < nSameTS; i++ {
		rows = append(rows, logRow{sameTS, "", 0, "gateway", fmt.Sprintf("same-ts line %02d", i), "", resA("gateway"), nil})
	}
	rows = append(rows,
		logRow{base.Add(-10 * time.Minute), "ERROR", 17, "gateway", "upstream connect error: timeout", traceA, resA("gateway"), nil},
		logRow{base.Add(-11 * time.Minute), "", 0, "gateway", `level=warn msg="slow request"`, "", resA("gateway"), nil},
		logRow{base.Add(-12 * time.Minute), "INFO", 9, "gateway", "GET /healthz 200", "", resA("gateway"), nil},
		logRow{base.Add(-13 * time.Minute), "", 0, "api", "E0501 12:34:56 failed to sync", "", resA("api"), nil},
		logRow{base.Add(-14 * time.Minute), "ERROR", 17, "gateway", "secret tenant-b error", traceB, resB(), nil},
		logRow{base.Add(-15 * time.Minute), "INFO", 9, "gateway", "tenant-b hello", "", resB(), nil},
	)
	// Workflow run pods: Kubernetes namespace workflows-ns-a, pods named
	// after the run; init/wait containers are excluded by the adapter.
	wf := func(container, body string, ts time.Time) logRow {
		return logRow{ts, "", 0, "", body, "", map[string]string{"k8s.namespace.name": "workflows-ns-a", "k8s.pod.name": "build-42-step-1",
			"k8s.container.name": container, "k8s.pod.annotations.workflows.argoproj.io/node-name": "build-42.compile"}, nil}
	}
	rows = append(rows, wf("main", "compiling", base.Add(-20*time.Minute)), wf("wait", "waiting", base.Add(-19*time.Minute)))
	// Kubernetes events of each tenant, as the k8s events receiver and
	// OpenChoreo's enrich processor shape them.
	ev := func(ns, reason string, ts time.Time) logRow {
		return logRow{ts, "Warning", 0, "", "Back-off restarting failed container", "",
			map[string]string{"k8s.object.kind": "Pod", "k8s.object.name": "gateway-1", "k8s.object.label.openchoreo.dev/namespace": ns},
			map[string]string{"k8s.event.reason": reason, "k8s.namespace.name": "dp-" + ns}}
	}
	// Three hours back: outside the ranges the logs tests query.
	rows = append(rows, ev("ns-a", "BackOff", base.Add(-3*time.Hour)), ev("ns-b", "Failed", base.Add(-3*time.Hour-time.Minute)))
	// Rows as the backfill's mapping writes them (the same columns the
	// gateway's exporter fills).
	recs := make([]opensearch.LogRecord, 0, len(rows))
	for _, r := range rows {
		recs = append(recs, opensearch.LogRecord{Timestamp: r.ts, TraceID: r.trace, SeverityText: r.sev, SeverityNumber: r.sevNum,
			ServiceName: r.svc, Body: r.body, ResourceAttributes: r.res, LogAttributes: r.attrs})
	}
	if err := testStore.Insert(context.Background(), opensearch.LogsBatch("otel", recs)); err != nil {
		t.Fatalf("insert logs: %v", err)
	}
}

type spanRow struct {
	ts                time.Time
	trace, id, parent string
	name, kind, svc   string
	dur               time.Duration
	status, msg       string
	res               map[string]string
}

func insertTraces(t *testing.T) {
	t0 := base.Add(-10 * time.Minute)
	rows := []spanRow{
		{t0, traceA, "a000000000000001", "", "GET /checkout", "Server", "frontend", 120 * time.Millisecond, "Ok", "", resA("frontend")},
		{t0.Add(5 * time.Millisecond), traceA, "a000000000000002", "a000000000000001", "call gateway", "Client", "frontend", 100 * time.Millisecond, "Unset", "", resA("frontend")},
		{t0.Add(6 * time.Millisecond), traceA, "a000000000000003", "a000000000000002", "POST /pay", "Server", "gateway", 90 * time.Millisecond, "Error", "upstream timeout", resA("gateway")},
		{t0, traceB, "b000000000000001", "", "GET /secret", "Server", "gateway", 50 * time.Millisecond, "Error", "tenant-b failure", resB()},
		{midnight.Add(-100 * time.Millisecond), traceC, "c000000000000001", "", "GET /nightly", "Server", "frontend", 300 * time.Millisecond, "Ok", "", resA("frontend")},
		{midnight.Add(100 * time.Millisecond), traceC, "c000000000000002", "c000000000000001", "POST /report", "Server", "gateway", 50 * time.Millisecond, "Ok", "", resA("gateway")},
	}
	// Through the gateway's clickhousestore exporter, as the gateway
	// writes spans.
	td := ptrace.NewTraces()
	kinds := map[string]ptrace.SpanKind{"Server": ptrace.SpanKindServer, "Client": ptrace.SpanKindClient}
	codes := map[string]ptrace.StatusCode{"Ok": ptrace.StatusCodeOk, "Error": ptrace.StatusCodeError, "Unset": ptrace.StatusCodeUnset}
	id := func(dst []byte, hexID string) {
		if _, err := hex.Decode(dst, []byte(hexID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		rs := td.ResourceSpans().AppendEmpty()
		for k, v := range r.res {
			rs.Resource().Attributes().PutStr(k, v)
		}
		rs.Resource().Attributes().PutStr("service.name", r.svc)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		var tid pcommon.TraceID
		var sid, pid pcommon.SpanID
		id(tid[:], r.trace)
		id(sid[:], r.id)
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		if r.parent != "" {
			id(pid[:], r.parent)
			sp.SetParentSpanID(pid)
		}
		sp.SetName(r.name)
		sp.SetKind(kinds[r.kind])
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(r.ts))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(r.ts.Add(r.dur)))
		sp.Status().SetCode(codes[r.status])
		sp.Status().SetMessage(r.msg)
		sp.Attributes().PutStr("http.method", "GET")
	}
	dualwritetest.StoreTraces(t, testStore, td)
}

// --- auth fixture: a JWKS with one RSA and one EC key -----------------------

type keys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	set *auth.JWKS
}

var testKeys = func() *keys {
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	e, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return &keys{rsa: r, ec: e, set: auth.StaticJWKS(map[string]any{"r1": &r.PublicKey, "e1": &e.PublicKey})}
}()

func token(t *testing.T, alg string, claims jwt.MapClaims) string {
	t.Helper()
	if claims["exp"] == nil {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	var tok *jwt.Token
	var key any
	switch alg {
	case "RS256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodRS256, claims), testKeys.rsa
		tok.Header["kid"] = "r1"
	case "ES256":
		tok, key = jwt.NewWithClaims(jwt.SigningMethodES256, claims), testKeys.ec
		tok.Header["kid"] = "e1"
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// servers starts the three APIs; jwtAuth selects JWT validation.
type servers struct {
	logs, tracing, api *httptest.Server
	alerts             *alerts.Manager
}

func start(t *testing.T, jwtAuth bool, webhook string) *servers {
	st := setup(t)
	var a auth.Authenticator = auth.None{}
	if jwtAuth {
		a = auth.NewJWTWithKeys(testKeys.set)
	}
	reads, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	am := &alerts.Manager{Store: st, Reads: reads, WebhookURL: webhook, Now: func() time.Time { return base }}
	s := &servers{alerts: am}
	s.logs = httptest.NewServer((&logsadapter.Handler{Reads: reads, Health: st, Auth: a, Alerts: am}).Routes())
	s.tracing = httptest.NewServer((&tracingadapter.Handler{Reads: reads, Health: st, Auth: a}).Routes())
	mux := http.NewServeMux()
	(&obsplaneapi.API{Reads: reads, Auth: a, Alerts: am, Now: func() time.Time { return base }}).Mount(mux)
	s.api = httptest.NewServer(httpx.JSONErrors(mux, false))
	t.Cleanup(func() { s.logs.Close(); s.tracing.Close(); s.api.Close() })
	return s
}

type resp struct {
	status int
	body   []byte
	header http.Header
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("not JSON (%d): %s", r.status, r.body)
	}
	return m
}

func do(t *testing.T, method, url, tok string, body any, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, b, res.Header}
}

func rfc(t time.Time) string { return t.Format(time.RFC3339Nano) }

func logsReq(scope map[string]any, extra map[string]any) map[string]any {
	m := map[string]any{"startTime": rfc(base.Add(-time.Hour)), "endTime": rfc(base), "searchScope": scope}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// eventsReq is logsReq over the last four hours, where the fixture's
// Kubernetes events are.
func eventsReq(scope map[string]any) map[string]any {
	return logsReq(scope, map[string]any{"startTime": rfc(base.Add(-4 * time.Hour))})
}

// wantError checks a 4xx error body: {"title","errorCode","message"} with
// the message naming the problem.
func wantError(t *testing.T, r resp, status int, title, contains string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	for _, k := range []string{"title", "errorCode", "message"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, r.body)
		}
	}
	if m["title"] != title {
		t.Fatalf("title %v, want %s: %s", m["title"], title, r.body)
	}
	if !strings.Contains(strings.ToLower(m["message"].(string)), strings.ToLower(contains)) {
		t.Fatalf("message %q does not mention %q", m["message"], contains)
	}
}

func httptestServer(t *testing.T, f http.HandlerFunc) string {
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return s.URL
}

func jsonDecode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }
