package metricsadapter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/metricsadapter"
	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/metricsql/promtest"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

var start = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

const scrapes = 40 // 13 virtual minutes at 20 s

type fixture struct {
	url     string
	db      *metricsql.DB
	alerts  *alerts.Manager
	hooks   *captured
	spec    *openapi3.T
	router  routers.Router
	handler *metricsadapter.Handler
}

// captured records what the Observer's webhook would receive.
type captured struct {
	mu   sync.Mutex
	body []alerts.WebhookPayload
}

func (c *captured) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p alerts.WebhookPayload
	_ = json.NewDecoder(r.Body).Decode(&p)
	c.mu.Lock()
	c.body = append(c.body, p)
	c.mu.Unlock()
}

func (c *captured) all() []alerts.WebhookPayload {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]alerts.WebhookPayload(nil), c.body...)
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

// setup writes the example cluster's samples through a real gateway (the
// remote write receiver and the pod label join) once for the package's
// tests, and serves the adapter over them.
func setup(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = newFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func newFixture() (*fixture, error) {
	ctx := context.Background()
	const database = "madapter"
	if _, err := schema.Apply(ctx, engine, schema.Options{Database: database}); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rw := l.Addr().String()
	l.Close()
	db := &metricsql.DB{Store: engine, Database: database}
	y, err := gateway.DefaultConfig(gateway.Params{OTLPGRPCAddr: gateway.Off, OTLPHTTPAddr: gateway.Off, ForwardAddr: gateway.Off,
		RemoteWriteAddr: rw, Database: database, BatchTimeout: 100 * time.Millisecond, LogLevel: "warn"})
	if err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	// The gateway runs for the test binary's life.
	go func() {
		done <- gateway.Run(context.Background(), gateway.Settings{Store: engine, ConfigYAML: y, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		return nil, fmt.Errorf("gateway: %w", err)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("gateway not ready")
	}
	cluster := promtest.NewCluster(promtest.Example(start, 20*time.Second, scrapes))
	sent, err := cluster.Push(ctx, []string{"http://" + rw + "/api/v1/write"}, 2000, nil)
	if err != nil {
		return nil, err
	}
	// The batch processor flushes within 100 ms; wait for every sample.
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := store.ScanAll[struct {
			N int `json:"n"`
		}](ctx, engine, `SELECT (SELECT count() FROM madapter.otel_metrics_gauge) + (SELECT count() FROM madapter.otel_metrics_sum) AS n`, nil)
		if err != nil {
			return nil, err
		}
		if rows[0].N == sent {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("stored %d of %d samples", rows[0].N, sent)
		}
		time.Sleep(200 * time.Millisecond)
	}
	hooks := &captured{}
	hookSrv := httptest.NewServer(hooks)
	am := &alerts.Manager{Store: engine, WebhookURL: hookSrv.URL, Tables: alerts.Tables{Rules: "test_metric_rules", State: "test_metric_state"},
		Evaluate: metricsadapter.Evaluator(db), Now: func() time.Time { return start.Add(10 * time.Minute) }}
	if err := am.EnsureTables(ctx); err != nil {
		return nil, err
	}
	h := &metricsadapter.Handler{Store: engine, Reads: db, Alerts: am, Now: func() time.Time { return start.Add(time.Hour) }}
	srv := httptest.NewServer(h.Routes())
	spec, err := openapi3.NewLoader().LoadFromFile("testdata/observability-metrics-adapter.yaml")
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(ctx); err != nil {
		return nil, fmt.Errorf("contract: %w", err)
	}
	spec.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := legacy.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	return &fixture{url: srv.URL, db: db, alerts: am, hooks: hooks, spec: spec, router: router, handler: h}, nil
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends a request and checks request and answer against the
// contract. MetricsQueryResponse is a oneOf of two schemas without required
// properties, which any object matches both of; the contract picks the
// variant by the request's metric, so the answer is checked against that
// variant.
func (f *fixture) call(t *testing.T, method, path string, body any) answer {
	t.Helper()
	var rd io.Reader
	var raw []byte
	if body != nil {
		if s, ok := body.(string); ok {
			raw = []byte(s)
		} else {
			raw, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}

	route, params, err := f.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in the contract: %v", method, path, err)
	}
	vreq, _ := http.NewRequest(method, f.url+path, bytes.NewReader(raw))
	vreq.Header = req.Header
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: &openapi3filter.Options{MultiError: true}}
	// The request's own validity is the test's to state; the answer must
	// match the contract whatever was asked.
	_ = openapi3filter.ValidateRequest(context.Background(), in)
	if route.Operation.OperationID == "queryMetrics" && a.status == 200 {
		variant := "ResourceMetricsTimeSeries"
		if m, _ := body.(map[string]any); m != nil && m["metric"] == "http" {
			variant = "HttpMetricsTimeSeries"
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if err := f.spec.Components.Schemas[variant].Value.VisitJSON(v); err != nil {
			t.Errorf("%s %s: answer does not match %s: %v\n%s", method, path, variant, err, b)
		}
		return a
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.status, Header: a.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(b)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: answer %d does not match the contract: %v\n%s", method, path, a.status, err, b)
	}
	return a
}

func rfc(t time.Time) string { return t.Format(time.RFC3339) }

func queryBody(metric string, scope map[string]any, from, to time.Time, step string) map[string]any {
	b := map[string]any{"metric": metric, "startTime": rfc(from), "endTime": rfc(to), "searchScope": scope}
	if step != "" {
		b["step"] = step
	}
	return b
}

var apiScope = map[string]any{"namespace": "org", "projectUid": promtest.ProjectUID, "componentUid": promtest.APIUID, "environmentUid": promtest.EnvironmentUID}

func TestContractEveryOperation(t *testing.T) {
	f := setup(t)
	if a := f.call(t, "GET", "/healthz", nil); a.status != 200 || !strings.Contains(string(a.body), "healthy") {
		t.Errorf("healthz: %d %s", a.status, a.body)
	}

	// Resource metrics: every contract series has points.
	a := f.call(t, "POST", "/api/v1/metrics/query", queryBody("resource", apiScope, start.Add(3*time.Minute), start.Add(12*time.Minute), "1m"))
	var res map[string][]struct {
		Timestamp time.Time
		Value     float64
	}
	if err := json.Unmarshal(a.body, &res); err != nil || a.status != 200 {
		t.Fatalf("resource: %d %s", a.status, a.body)
	}
	for _, n := range readmodel.ResourceMetricNames {
		if len(res[n]) == 0 {
			t.Errorf("resource series %s is empty", n)
		}
	}
	if p := res["cpuLimits"]; len(p) > 0 && (p[0].Value != 2 || !p[0].Timestamp.Equal(start.Add(3*time.Minute))) {
		t.Errorf("cpuLimits of two running api pods at 1 core: %+v", p[0])
	}

	// HTTP metrics from Hubble, named as such.
	a = f.call(t, "POST", "/api/v1/metrics/query", queryBody("http", apiScope, start.Add(3*time.Minute), start.Add(12*time.Minute), "1m"))
	if a.status != 200 || a.header.Get(metricsadapter.SourceHeader) != "hubble" {
		t.Fatalf("http: %d %s %s", a.status, a.header.Get(metricsadapter.SourceHeader), a.body)
	}
	if err := json.Unmarshal(a.body, &res); err != nil {
		t.Fatal(err)
	}
	for _, n := range readmodel.HTTPMetricNames {
		if len(res[n]) == 0 {
			t.Errorf("http series %s is empty", n)
		}
	}
	// No step: the module's 5m.
	a = f.call(t, "POST", "/api/v1/metrics/query", queryBody("resource", apiScope, start.Add(3*time.Minute), start.Add(13*time.Minute), ""))
	_ = json.Unmarshal(a.body, &res)
	if len(res["cpuUsage"]) != 3 {
		t.Errorf("default step: %d points over 10 minutes, want 3 at 5m", len(res["cpuUsage"]))
	}

	// Runtime topology: api and web call each other.
	a = f.call(t, "POST", "/api/v1alpha1/metrics/runtime-topology", map[string]any{"startTime": rfc(start), "endTime": rfc(start.Add(13 * time.Minute)),
		"searchScope": map[string]any{"namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID}})
	var topo metricsadapter.TopologyResponse
	if err := json.Unmarshal(a.body, &topo); err != nil || a.status != 200 {
		t.Fatalf("topology: %d %s", a.status, a.body)
	}
	ids := map[string]bool{}
	for _, e := range topo.Edges {
		ids[e.ID] = true
		if e.Metrics.RequestCount <= 0 || e.Metrics.LatencyP99 < e.Metrics.LatencyP50 || e.Source.Kind != "component" {
			t.Errorf("edge %+v", e)
		}
	}
	if !ids[promtest.APIUID+"->"+promtest.WebUID] || !ids[promtest.WebUID+"->"+promtest.APIUID] || len(ids) != 2 {
		t.Errorf("edges %v", ids)
	}

	// Alert rules: create, conflict, get, update, unchanged, delete, gone.
	rule := map[string]any{
		"metadata":  map[string]any{"name": "api-cpu", "namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID, "componentUid": promtest.APIUID},
		"source":    map[string]any{"metric": "cpu_usage"},
		"condition": map[string]any{"enabled": true, "window": "5m", "interval": "1m", "operator": "gt", "threshold": 1},
	}
	if a := f.call(t, "POST", "/api/v1alpha1/alerts/rules", rule); a.status != 201 || !strings.Contains(string(a.body), `"created"`) {
		t.Errorf("create: %d %s", a.status, a.body)
	}
	if a := f.call(t, "POST", "/api/v1alpha1/alerts/rules", rule); a.status != 409 {
		t.Errorf("create twice: %d %s", a.status, a.body)
	}
	if a := f.call(t, "GET", "/api/v1alpha1/alerts/rules/api-cpu", nil); a.status != 200 || !strings.Contains(string(a.body), `"metric":"cpu_usage"`) {
		t.Errorf("get: %d %s", a.status, a.body)
	}
	if a := f.call(t, "PUT", "/api/v1alpha1/alerts/rules/api-cpu", rule); a.status != 200 || !strings.Contains(string(a.body), `"unchanged"`) {
		t.Errorf("update unchanged: %d %s", a.status, a.body)
	}
	rule["condition"].(map[string]any)["threshold"] = 2.5
	if a := f.call(t, "PUT", "/api/v1alpha1/alerts/rules/api-cpu", rule); a.status != 200 || !strings.Contains(string(a.body), `"updated"`) {
		t.Errorf("update: %d %s", a.status, a.body)
	}
	if a := f.call(t, "DELETE", "/api/v1alpha1/alerts/rules/api-cpu", nil); a.status != 200 || !strings.Contains(string(a.body), `"deleted"`) {
		t.Errorf("delete: %d %s", a.status, a.body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if a := f.call(t, m, "/api/v1alpha1/alerts/rules/api-cpu", nil); a.status != 404 {
			t.Errorf("%s after delete: %d %s", m, a.status, a.body)
		}
	}

	// The webhook relays firing Alertmanager alerts to the Observer.
	before := len(f.hooks.all())
	a = f.call(t, "POST", "/api/v1alpha1/alerts/webhook", map[string]any{"receiver": "openchoreo-alerts", "status": "firing", "version": "4",
		"groupLabels": map[string]any{"alertname": "api-cpu"}, "commonLabels": map[string]any{"openchoreo_alert": "true"}, "externalURL": "http://alertmanager:9093", "alerts": []any{
			map[string]any{"status": "firing", "startsAt": "2026-03-01T10:05:00Z", "labels": map[string]any{"alertname": "api-cpu"}, "fingerprint": "3f2a",
				"annotations": map[string]any{"rule_name": "api-cpu", "rule_namespace": "org", "alert_value": "91.50"}},
			map[string]any{"status": "resolved", "annotations": map[string]any{"rule_name": "old", "rule_namespace": "org", "alert_value": "1"}},
		}})
	if a.status != 200 || !strings.Contains(string(a.body), "forwarded 1 firing") {
		t.Errorf("webhook: %d %s", a.status, a.body)
	}
	got := f.hooks.all()[before:]
	if len(got) != 1 || got[0].RuleName != "api-cpu" || got[0].AlertValue != 91.5 || got[0].AlertTimestamp != "2026-03-01T10:05:00Z" {
		t.Errorf("relayed: %+v", got)
	}
	if a := f.call(t, "POST", "/api/v1alpha1/alerts/webhook", map[string]any{"receiver": "x"}); a.status != 400 || !strings.Contains(string(a.body), "'alerts'") {
		t.Errorf("webhook without alerts: %d %s", a.status, a.body)
	}
}

// TestRuleAsTheObserverSendsIt: the Observer forwards the AlertRuleRequest
// of its own API, whose source also carries "type" (found by the Observer
// contract test, internal/observertest); the rule is stored as without it.
func TestRuleAsTheObserverSendsIt(t *testing.T) {
	f := setup(t)
	rule := map[string]any{
		"metadata":  map[string]any{"name": "api-memory", "namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID, "componentUid": promtest.APIUID},
		"source":    map[string]any{"type": "metric", "metric": "memory_usage"},
		"condition": map[string]any{"enabled": true, "window": "5m", "interval": "1m", "operator": "gte", "threshold": 80},
	}
	if a := f.call(t, "POST", "/api/v1alpha1/alerts/rules", rule); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	t.Cleanup(func() { f.call(t, "DELETE", "/api/v1alpha1/alerts/rules/api-memory", nil) })
	if a := f.call(t, "GET", "/api/v1alpha1/alerts/rules/api-memory", nil); a.status != 200 || !strings.Contains(string(a.body), `"metric":"memory_usage"`) {
		t.Errorf("get: %d %s", a.status, a.body)
	}
}

func TestBadInputIsRefusedNamingTheProblem(t *testing.T) {
	f := setup(t)
	from, to := start.Add(3*time.Minute), start.Add(12*time.Minute)
	q := func(mod func(map[string]any)) map[string]any {
		b := queryBody("resource", map[string]any{"namespace": "org", "componentUid": promtest.APIUID}, from, to, "1m")
		mod(b)
		return b
	}
	cases := []struct {
		name, path string
		body       any
		status     int
		says       string
	}{
		{"zero step", "/api/v1/metrics/query", q(func(b map[string]any) { b["step"] = "0s" }), 400, "step"},
		{"negative step", "/api/v1/metrics/query", q(func(b map[string]any) { b["step"] = "-1m" }), 400, "step"},
		{"unparsable step", "/api/v1/metrics/query", q(func(b map[string]any) { b["step"] = "soon" }), 400, "step"},
		{"step too small for the range", "/api/v1/metrics/query", q(func(b map[string]any) { b["step"] = "1ms" }), 400, "too small"},
		{"reversed range", "/api/v1/metrics/query", q(func(b map[string]any) { b["startTime"], b["endTime"] = rfc(to), rfc(from) }), 400, "before"},
		{"enormous range", "/api/v1/metrics/query", q(func(b map[string]any) { b["startTime"] = "1971-01-01T00:00:00Z" }), 400, "wider"},
		{"bad time", "/api/v1/metrics/query", q(func(b map[string]any) { b["endTime"] = "yesterday" }), 400, "endTime"},
		{"unknown metric kind", "/api/v1/metrics/query", q(func(b map[string]any) { b["metric"] = "disk" }), 400, "disk"},
		{"metric not a string", "/api/v1/metrics/query", q(func(b map[string]any) { b["metric"] = 7 }), 400, "metric"},
		{"no scope", "/api/v1/metrics/query", q(func(b map[string]any) { delete(b, "searchScope") }), 400, "searchScope"},
		{"no namespace", "/api/v1/metrics/query", q(func(b map[string]any) { b["searchScope"] = map[string]any{"componentUid": promtest.APIUID} }), 400, "namespace"},
		{"malformed uid", "/api/v1/metrics/query", q(func(b map[string]any) {
			b["searchScope"] = map[string]any{"namespace": "org", "componentUid": "api'; DROP TABLE x"}
		}), 400, "componentUid"},
		{"scope not an object", "/api/v1/metrics/query", q(func(b map[string]any) { b["searchScope"] = "org" }), 400, "searchScope"},
		{"not JSON", "/api/v1/metrics/query", "{metric: resource", 400, "JSON"},
		{"topology without project", "/api/v1alpha1/metrics/runtime-topology", map[string]any{"startTime": rfc(from), "endTime": rfc(to),
			"searchScope": map[string]any{"namespace": "org", "environmentUid": promtest.EnvironmentUID}}, 400, "projectUid"},
		{"topology empty window", "/api/v1alpha1/metrics/runtime-topology", map[string]any{"startTime": rfc(from), "endTime": rfc(from),
			"searchScope": map[string]any{"namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID}}, 400, "after"},
		{"rule without metric", "/api/v1alpha1/alerts/rules", map[string]any{"metadata": map[string]any{"name": "x"}}, 400, "source"},
		{"budget rule", "/api/v1alpha1/alerts/rules", map[string]any{
			"metadata":  map[string]any{"name": "b", "namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID, "componentUid": promtest.APIUID},
			"source":    map[string]any{"metric": "budget"},
			"condition": map[string]any{"enabled": true, "window": "1h", "interval": "5m", "operator": "gt", "threshold": 10}}, 400, "budget"},
		{"rule of another source type", "/api/v1alpha1/alerts/rules", map[string]any{
			"metadata":  map[string]any{"name": "l", "namespace": "org", "projectUid": promtest.ProjectUID, "environmentUid": promtest.EnvironmentUID, "componentUid": promtest.APIUID},
			"source":    map[string]any{"type": "log", "metric": "cpu_usage"},
			"condition": map[string]any{"enabled": true, "window": "5m", "interval": "1m", "operator": "gt", "threshold": 10}}, 400, "source.type"},
		{"webhook alert without rule name", "/api/v1alpha1/alerts/webhook", map[string]any{"alerts": []any{map[string]any{"status": "firing", "annotations": map[string]any{"alert_value": "1"}}}}, 400, "rule_name"},
	}
	for _, c := range cases {
		a := f.call(t, "POST", c.path, c.body)
		if a.status != c.status || !strings.Contains(string(a.body), c.says) {
			t.Errorf("%s: %d %s (want %d naming %q)", c.name, a.status, a.body, c.status, c.says)
		}
	}
}

func TestMetricRuleFiresToTheObserver(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	mk := func(name, metric, op string, threshold float64) alerts.Rule {
		return alerts.Rule{Name: name, Namespace: "org", ProjectUID: promtest.ProjectUID, EnvironmentUID: promtest.EnvironmentUID, ComponentUID: promtest.APIUID,
			Metric: metric, Enabled: true, Window: "3m", Interval: "1m", Operator: op, Threshold: threshold}
	}
	for _, r := range []alerts.Rule{mk("cpu-high", "cpu_usage", "gt", 1), mk("cpu-absurd", "cpu_usage", "gt", 1e6), mk("mem-high", "memory_usage", "gte", 10)} {
		if _, err := f.alerts.Create(ctx, r, "test", func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
	}
	before := len(f.hooks.all())
	if err := f.alerts.EvaluateDue(ctx); err != nil {
		t.Fatal(err)
	}
	fired := map[string]alerts.WebhookPayload{}
	for _, p := range f.hooks.all()[before:] {
		fired[p.RuleName] = p
	}
	// The api pods use 0.05-0.45 cores of a 1-core limit each (5-45%) and
	// 100-150 MiB of 512 MiB (about 20-30%).
	if p, ok := fired["cpu-high"]; !ok || p.RuleNamespace != "org" || p.AlertValue < 5 || p.AlertValue > 45 {
		t.Errorf("cpu-high: %+v (fired %v)", p, ok)
	}
	if p, ok := fired["mem-high"]; !ok || p.AlertValue < 19 || p.AlertValue > 30 {
		t.Errorf("mem-high: %+v (fired %v)", p, ok)
	}
	if _, ok := fired["cpu-absurd"]; ok || len(fired) != 2 {
		t.Errorf("fired %v", fired)
	}
	// The value is the module's: usage over limits, from the same SQL.
	v, err := f.db.Usage(ctx, metricsql.Scope{Namespace: "org", ComponentUID: promtest.APIUID}, "cpu_usage", 3*time.Minute,
		metricsql.Range{Start: start.Add(10 * time.Minute), End: start.Add(10 * time.Minute), Step: time.Minute})
	if err != nil || len(v) != 1 || v[0].V != fired["cpu-high"].AlertValue {
		t.Errorf("alert value %v, usage %v %v", fired["cpu-high"].AlertValue, v, err)
	}
	states, err := f.alerts.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	state := func(name string) string {
		r, err := f.alerts.Get(ctx, "org", name)
		if err != nil {
			t.Fatal(err)
		}
		return alerts.StateOf(r, states).State
	}
	if state("cpu-high") != "firing" || state("cpu-absurd") != "ok" {
		t.Errorf("states: %+v", states)
	}
}
