package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLogsAdapterHealth(t *testing.T) {
	s := start(t, true, "")
	r := do(t, "GET", s.logs.URL+"/health", "", nil)
	if r.status != 200 || r.json(t)["status"] != "healthy" {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
	r = do(t, "GET", s.tracing.URL+"/healthz", "", nil)
	if r.status != 200 || r.json(t)["status"] != "healthy" {
		t.Fatalf("tracing healthz: %d %s", r.status, r.body)
	}
}

func TestLogsAdapterComponentQuery(t *testing.T) {
	s := start(t, false, "")
	r := do(t, "POST", s.logs.URL+"/api/v1/logs/query", "", logsReq(map[string]any{"namespace": "ns-a", "componentUid": compA}, nil))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	logs := m["logs"].([]any)
	// 25 same-timestamp lines + 4 more in ns-a (compA is shared by gateway and api).
	if len(logs) != nSameTS+4 || m["total"].(float64) != float64(nSameTS+4) {
		t.Fatalf("got %d logs, total %v", len(logs), m["total"])
	}
	if _, ok := m["tookMs"].(float64); !ok {
		t.Fatalf("tookMs missing: %s", r.body)
	}
	first := logs[0].(map[string]any)
	// Default sort is desc: the newest line first.
	if first["log"] != "upstream connect error: timeout" || first["level"] != "ERROR" {
		t.Fatalf("first = %v", first)
	}
	if first["timestamp"] != rfc(base.Add(-10*time.Minute)) {
		t.Fatalf("timestamp %v", first["timestamp"])
	}
	md := first["metadata"].(map[string]any)
	want := map[string]string{"componentName": "gateway", "projectName": "shop", "environmentName": "dev", "namespaceName": "ns-a",
		"componentUid": compA, "projectUid": projA, "environmentUid": envA, "containerName": "main", "podName": "gateway-7d9f",
		"podNamespace": "dp-ns-a-shop-dev"}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata.%s = %v, want %s", k, md[k], v)
		}
	}
	levels := map[string]string{}
	for _, l := range logs {
		e := l.(map[string]any)
		levels[e["log"].(string)] = e["level"].(string)
	}
	for body, lvl := range map[string]string{`level=warn msg="slow request"`: "WARN", "E0501 12:34:56 failed to sync": "ERROR",
		"GET /healthz 200": "INFO", "same-ts line 03": "INFO"} {
		if levels[body] != lvl {
			t.Errorf("level of %q = %q, want %s", body, levels[body], lvl)
		}
	}
	for body := range levels {
		if strings.Contains(body, "tenant-b") {
			t.Fatalf("ns-b line leaked: %s", body)
		}
	}
}

func TestLogsAdapterFiltersSortLimit(t *testing.T) {
	s := start(t, false, "")
	url := s.logs.URL + "/api/v1/logs/query"
	scope := map[string]any{"namespace": "ns-a"}
	// Levels: WARN via the text, ERROR via SeverityNumber and the klog header.
	r := do(t, "POST", url, "", logsReq(scope, map[string]any{"logLevels": []string{"ERROR", "WARN"}}))
	got := bodies(t, r)
	// As in the OpenSearch module, a line without OTel severity matches when
	// its text contains the level word, so the klog "E0501" line does not.
	if len(got) != 2 || !contains(got, `level=warn msg="slow request"`) || !contains(got, "upstream connect error: timeout") {
		t.Fatalf("levels: %v", got)
	}
	// Phrase: case-insensitive substring.
	got = bodies(t, do(t, "POST", url, "", logsReq(scope, map[string]any{"searchPhrase": "CONNECT ERR"})))
	if len(got) != 1 || got[0] != "upstream connect error: timeout" {
		t.Fatalf("phrase: %v", got)
	}
	// asc + limit; ties are in a stable total order.
	a1 := bodies(t, do(t, "POST", url, "", logsReq(scope, map[string]any{"sortOrder": "asc", "limit": 10})))
	a2 := bodies(t, do(t, "POST", url, "", logsReq(scope, map[string]any{"sortOrder": "asc", "limit": 10})))
	if len(a1) != 10 || strings.Join(a1, "|") != strings.Join(a2, "|") {
		t.Fatalf("asc limit: %v vs %v", a1, a2)
	}
	d := bodies(t, do(t, "POST", url, "", logsReq(scope, map[string]any{"sortOrder": "desc", "limit": 1000})))
	// desc is exactly asc reversed (total order).
	for i := 0; i < 10; i++ {
		if d[len(d)-1-i] != a1[i] {
			t.Fatalf("desc is not asc reversed at %d: %v / %v", i, d, a1)
		}
	}
	// A limit that cuts a run of equal timestamps returns that order's
	// prefix: asc 10 and desc 7 both cut the 25 same-ts lines.
	d7 := bodies(t, do(t, "POST", url, "", logsReq(scope, map[string]any{"sortOrder": "desc", "limit": 7})))
	if len(d7) != 7 || len(d) < 7 || strings.Join(d7, "|") != strings.Join(d[:7], "|") {
		t.Fatalf("desc limit 7 is not the prefix of desc: %v / %v", d7, d)
	}
	// Time range ends are exclusive, as in the OpenSearch module.
	r = do(t, "POST", url, "", map[string]any{"startTime": rfc(sameTS), "endTime": rfc(base), "searchScope": scope})
	for _, b := range bodies(t, r) {
		if strings.HasPrefix(b, "same-ts") {
			t.Fatalf("startTime is not exclusive")
		}
	}
	// Injection attempts are just text.
	for _, evil := range []string{`x') OR 1=1 --`, `\' OR '1'='1`, "{ns:String}", "a\x00b", `%' OR 1 --`} {
		r := do(t, "POST", url, "", logsReq(scope, map[string]any{"searchPhrase": evil}))
		if r.status != 200 || len(bodies(t, r)) != 0 {
			t.Fatalf("phrase %q: %d %s", evil, r.status, r.body)
		}
		r = do(t, "POST", url, "", logsReq(map[string]any{"namespace": "ns-a' OR 1=1 --"}, nil))
		if r.status != 200 || len(bodies(t, r)) != 0 {
			t.Fatalf("namespace injection: %d %s", r.status, r.body)
		}
	}
}

func TestLogsAdapterWorkflowScope(t *testing.T) {
	s := start(t, false, "")
	r := do(t, "POST", s.logs.URL+"/api/v1/logs/query", "", logsReq(map[string]any{"namespace": "ns-a", "workflowRunName": "build-42", "taskName": "compile"}, nil))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	logs := r.json(t)["logs"].([]any)
	if len(logs) != 1 {
		t.Fatalf("workflow logs: %s", r.body)
	}
	e := logs[0].(map[string]any)
	if e["log"] != "compiling" || e["level"] != nil || e["metadata"] != nil {
		t.Fatalf("workflow entry has the component shape: %v", e)
	}
}

func TestLogsAdapterBadInput(t *testing.T) {
	s := start(t, false, "")
	url := s.logs.URL + "/api/v1/logs/query"
	scope := map[string]any{"namespace": "ns-a"}
	cases := []struct {
		name, contains string
		body           any
	}{
		{"empty body", "body is required", ""},
		{"invalid JSON", "invalid JSON", `{"startTime":`},
		{"not an object", "invalid JSON", `[1,2]`},
		{"trailing data", "after the JSON", `{} {}`},
		{"missing times", "'startTime' and 'endTime'", map[string]any{"searchScope": scope}},
		{"missing scope", "searchScope", map[string]any{"startTime": rfc(base.Add(-time.Hour)), "endTime": rfc(base)}},
		{"empty namespace", "namespace", logsReq(map[string]any{"namespace": " "}, nil)},
		{"bad time", "startTime", map[string]any{"startTime": "yesterday", "endTime": rfc(base), "searchScope": scope}},
		{"reversed range", "before startTime", map[string]any{"startTime": rfc(base), "endTime": rfc(base.Add(-time.Hour)), "searchScope": scope}},
		{"unbounded range", "wider than", map[string]any{"startTime": "2000-01-01T00:00:00Z", "endTime": rfc(base), "searchScope": scope}},
		{"limit 0", "limit", logsReq(scope, map[string]any{"limit": 0})},
		{"limit 1001", "limit", logsReq(scope, map[string]any{"limit": 1001})},
		{"limit string", "limit", logsReq(scope, map[string]any{"limit": "10"})},
		{"limit fraction", "limit", logsReq(scope, map[string]any{"limit": 1.5})},
		{"bad sort", "sortOrder", logsReq(scope, map[string]any{"sortOrder": "sideways"})},
		{"bad level", "logLevels", logsReq(scope, map[string]any{"logLevels": []string{"LOUD"}})},
		{"duplicate level", "twice", logsReq(scope, map[string]any{"logLevels": []string{"INFO", "INFO"}})},
		{"levels not array", "logLevels", logsReq(scope, map[string]any{"logLevels": "INFO"})},
		{"giant phrase", "searchPhrase", logsReq(scope, map[string]any{"searchPhrase": strings.Repeat("x", 5000)})},
		{"unknown field", "unknown field", logsReq(scope, map[string]any{"bogus": 1})},
		{"unknown scope field", "searchScope", logsReq(map[string]any{"namespace": "ns-a", "pod": "x"}, nil)},
		{"mixed scope", "mixes", logsReq(map[string]any{"namespace": "ns-a", "workflowRunName": "w", "componentUid": compA}, nil)},
		{"scope wrong type", "searchScope", logsReq(map[string]any{"namespace": 7}, nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, do(t, "POST", url, "", c.body), 400, "badRequest", c.contains)
		})
	}
	// Oversized body.
	wantError(t, do(t, "POST", url, "", `{"searchPhrase":"`+strings.Repeat("a", 2<<20)+`"}`), 400, "badRequest", "larger than")
	// Unknown path and wrong method answer JSON too.
	r := do(t, "GET", url, "", nil)
	if r.status != http.StatusMethodNotAllowed || r.json(t)["title"] != "badRequest" {
		t.Fatalf("GET query: %d %s", r.status, r.body)
	}
	wantError(t, do(t, "POST", s.logs.URL+"/api/v1/nope", "", "{}"), 404, "notFound", "no such endpoint")
	// Events: validated like logs, answered from the event rows of ns-a
	// (parity with OpenSearch is tested in internal/opensearch/logsbackend).
	ev := do(t, "POST", s.logs.URL+"/api/v1/events/query", "", eventsReq(scope))
	if m := ev.json(t); ev.status != 200 || m["total"] != float64(1) || len(m["events"].([]any)) != 1 ||
		m["events"].([]any)[0].(map[string]any)["reason"] != "BackOff" {
		t.Errorf("events query: %d %s", ev.status, ev.body)
	}
	ev = do(t, "POST", s.logs.URL+"/api/v1/events/query", "", eventsReq(map[string]any{"namespace": "ns-a", "componentUid": compA}))
	if m := ev.json(t); ev.status != 200 || m["total"] != float64(0) || len(m["events"].([]any)) != 0 {
		t.Errorf("events query of a component with none: %d %s", ev.status, ev.body)
	}
	wantError(t, do(t, "POST", s.logs.URL+"/api/v1/events/query", "", "{"), 400, "badRequest", "invalid JSON")
	wantError(t, do(t, "POST", s.logs.URL+"/api/v1/events/query", "", logsReq(scope, map[string]any{"limit": 0})), 400, "badRequest", "limit")
}

func bodies(t *testing.T, r resp) []string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var out []string
	for _, l := range r.json(t)["logs"].([]any) {
		out = append(out, l.(map[string]any)["log"].(string))
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestTracingAdapter(t *testing.T) {
	s := start(t, false, "")
	scope := map[string]any{"namespace": "ns-a"}
	r := do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/query", "", logsReq(scope, nil))
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	m := r.json(t)
	traces := m["traces"].([]any)
	if len(traces) != 1 || m["total"].(float64) != 1 {
		t.Fatalf("traces: %s", r.body)
	}
	tr := traces[0].(map[string]any)
	want := map[string]any{"traceId": traceA, "traceName": "GET /checkout", "spanCount": 3.0, "rootSpanId": "a000000000000001",
		"rootSpanName": "GET /checkout", "rootSpanKind": "Server", "durationNs": float64(120 * time.Millisecond), "hasErrors": true,
		"startTime": rfc(base.Add(-10 * time.Minute)), "endTime": rfc(base.Add(-10*time.Minute + 120*time.Millisecond))}
	for k, v := range want {
		if tr[k] != v {
			t.Errorf("%s = %v, want %v", k, tr[k], v)
		}
	}
	// Scope by component uid and by name.
	for _, c := range []string{compA, "frontend"} {
		r = do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/query", "", logsReq(map[string]any{"namespace": "ns-a", "component": c}, nil))
		if n := len(r.json(t)["traces"].([]any)); n != 1 {
			t.Fatalf("component %s: %s", c, r.body)
		}
	}
	// Spans of the trace.
	r = do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/"+traceA+"/spans/query", "", logsReq(scope, map[string]any{"sortOrder": "asc", "includeAttributes": true}))
	m = r.json(t)
	spans := m["spans"].([]any)
	if len(spans) != 3 || m["total"].(float64) != 3 {
		t.Fatalf("spans: %s", r.body)
	}
	sp := spans[2].(map[string]any)
	if sp["spanId"] != "a000000000000003" || sp["parentSpanId"] != "a000000000000002" || sp["spanKind"] != "Server" ||
		sp["durationNs"].(float64) != float64(90*time.Millisecond) {
		t.Fatalf("span: %v", sp)
	}
	st := sp["status"].(map[string]any)
	if st["code"] != "error" || st["message"] != "upstream timeout" {
		t.Fatalf("status: %v", st)
	}
	if sp["attributes"].(map[string]any)["http.method"] != "GET" || sp["resourceAttributes"].(map[string]any)["openchoreo.namespace"] != "ns-a" {
		t.Fatalf("attributes: %v", sp)
	}
	// Without includeAttributes there are none.
	r = do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/"+traceA+"/spans/query", "", logsReq(scope, nil))
	if _, ok := r.json(t)["spans"].([]any)[0].(map[string]any)["attributes"]; ok {
		t.Fatalf("attributes without includeAttributes: %s", r.body)
	}
	// Span details.
	r = do(t, "GET", s.tracing.URL+"/api/v1alpha1/traces/"+traceA+"/spans/a000000000000001", "", nil)
	if r.status != 200 || r.json(t)["spanName"] != "GET /checkout" || r.json(t)["status"].(map[string]any)["code"] != "ok" {
		t.Fatalf("details: %d %s", r.status, r.body)
	}
	r = do(t, "GET", s.tracing.URL+"/api/v1alpha1/traces/"+traceA+"/spans/ffffffffffffffff", "", nil)
	if r.status != 404 || r.json(t)["detail"] != "span not found" {
		t.Fatalf("missing span: %d %s", r.status, r.body)
	}
	// Bad input.
	for name, c := range map[string]struct {
		path string
		body any
		want string
	}{
		"bad trace id":  {"/api/v1alpha1/traces/not-hex'/spans/query", logsReq(scope, nil), "traceId"},
		"reversed":      {"/api/v1alpha1/traces/query", map[string]any{"startTime": rfc(base), "endTime": rfc(base.Add(-time.Hour)), "searchScope": scope}, "before"},
		"no namespace":  {"/api/v1alpha1/traces/query", logsReq(map[string]any{"project": "x"}, nil), "namespace is required"},
		"limit":         {"/api/v1alpha1/traces/query", logsReq(scope, map[string]any{"limit": 5000}), "limit"},
		"includeAttr":   {"/api/v1alpha1/traces/query", logsReq(scope, map[string]any{"includeAttributes": "yes"}), "includeAttributes"},
		"invalid json":  {"/api/v1alpha1/traces/query", "{{", "invalid JSON"},
		"unknown field": {"/api/v1alpha1/traces/query", logsReq(scope, map[string]any{"x": 1}), "unknown field"},
	} {
		r := do(t, "POST", s.tracing.URL+c.path, "", c.body)
		wantError(t, r, 400, "badRequest", c.want)
		if r.json(t)["detail"] == nil {
			t.Fatalf("%s: no detail: %s", name, r.body)
		}
	}
	r = do(t, "GET", s.tracing.URL+"/api/v1alpha1/traces/"+traceA+"/spans/zz", "", nil)
	wantError(t, r, 400, "badRequest", "spanId")
}

func TestAlertRules(t *testing.T) {
	hooks := make(chan map[string]any, 10)
	wh := newWebhook(t, hooks)
	s := start(t, false, wh)
	url := s.logs.URL + "/api/v1alpha1/alerts/rules"
	rule := func(name string, threshold float64) map[string]any {
		return map[string]any{
			"metadata":  map[string]any{"name": name, "namespace": "ns-a", "projectUid": projA, "environmentUid": envA, "componentUid": compA},
			"source":    map[string]any{"query": "error"},
			"condition": map[string]any{"enabled": true, "window": "1h", "interval": "1m", "operator": "gt", "threshold": threshold},
		}
	}
	r := do(t, "POST", url, "", rule("errors-high", 1))
	if r.status != 201 || r.json(t)["action"] != "created" || r.json(t)["status"] != "synced" || r.json(t)["ruleLogicalId"] != "errors-high" || r.json(t)["ruleBackendId"] == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	wantError(t, do(t, "POST", url, "", rule("errors-high", 1)), 409, "conflict", "already exists")
	r = do(t, "PUT", url+"/errors-high", "", rule("errors-high", 1))
	if r.status != 200 || r.json(t)["action"] != "unchanged" {
		t.Fatalf("unchanged update: %d %s", r.status, r.body)
	}
	r = do(t, "PUT", url+"/errors-high", "", rule("errors-high", 0))
	if r.status != 200 || r.json(t)["action"] != "updated" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	r = do(t, "GET", url+"/errors-high", "", nil)
	m := r.json(t)
	if r.status != 200 || m["condition"].(map[string]any)["threshold"].(float64) != 0 || m["state"].(map[string]any)["state"] != "pending" ||
		m["metadata"].(map[string]any)["componentUid"] != compA || m["source"].(map[string]any)["query"] != "error" {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	// Evaluate: ns-a compA lines containing "error" in the last hour: 2
	// ("upstream connect error", and none else... "E0501" has no "error").
	if err := s.alerts.EvaluateDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hooks:
		if h["ruleName"] != "errors-high" || h["ruleNamespace"] != "ns-a" || h["alertValue"].(float64) < 1 || h["alertTimestamp"] != base.Format(time.RFC3339) {
			t.Fatalf("webhook payload: %v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook not called")
	}
	st := do(t, "GET", url+"/errors-high", "", nil).json(t)["state"].(map[string]any)
	if st["state"] != "firing" || st["lastFiredAt"] == nil {
		t.Fatalf("state after firing: %v", st)
	}
	// Listed on :8080 too.
	r = do(t, "GET", s.api.URL+"/api/alerts/rules", "", nil)
	if !strings.Contains(string(r.body), `"errors-high"`) || !strings.Contains(string(r.body), `"firing"`) {
		t.Fatalf("list: %s", r.body)
	}
	// Not due again within the interval: no second call.
	if err := s.alerts.EvaluateDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hooks:
		t.Fatalf("second webhook within interval: %v", h)
	case <-time.After(200 * time.Millisecond):
	}
	r = do(t, "DELETE", url+"/errors-high", "", nil)
	if r.status != 200 || r.json(t)["action"] != "deleted" {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, do(t, "GET", url+"/errors-high", "", nil), 404, "notFound", "not found")
	wantError(t, do(t, "DELETE", url+"/errors-high", "", nil), 404, "notFound", "not found")
	wantError(t, do(t, "PUT", url+"/errors-high", "", rule("errors-high", 1)), 404, "notFound", "not found")
	// Recreate after delete works.
	if r := do(t, "POST", url, "", rule("errors-high", 1)); r.status != 201 {
		t.Fatalf("recreate: %d %s", r.status, r.body)
	}
	do(t, "DELETE", url+"/errors-high", "", nil)

	bad := func(mut func(m map[string]any)) map[string]any { m := rule("bad", 1); mut(m); return m }
	for name, c := range map[string]struct {
		body any
		want string
	}{
		"no metadata":   {bad(func(m map[string]any) { delete(m, "metadata") }), "metadata"},
		"no threshold":  {bad(func(m map[string]any) { delete(m["condition"].(map[string]any), "threshold") }), "condition.threshold"},
		"bad uuid":      {bad(func(m map[string]any) { m["metadata"].(map[string]any)["componentUid"] = "nope" }), "componentUid"},
		"bad operator":  {bad(func(m map[string]any) { m["condition"].(map[string]any)["operator"] = "approx" }), "operator"},
		"bad window":    {bad(func(m map[string]any) { m["condition"].(map[string]any)["window"] = "30s" }), "window"},
		"bad interval":  {bad(func(m map[string]any) { m["condition"].(map[string]any)["interval"] = "forever" }), "interval"},
		"enabled type":  {bad(func(m map[string]any) { m["condition"].(map[string]any)["enabled"] = "yes" }), "enabled"},
		"threshold str": {bad(func(m map[string]any) { m["condition"].(map[string]any)["threshold"] = "10" }), "threshold"},
		"invalid json":  {"{", "invalid JSON"},
	} {
		t.Run(name, func(t *testing.T) { wantError(t, do(t, "POST", url, "", c.body), 400, "badRequest", c.want) })
	}
	wantError(t, do(t, "PUT", url+"/other", "", rule("bad", 1)), 400, "badRequest", "differs")
	// Webhook endpoint: an alert of a rule that exists, in its namespace.
	if r := do(t, "POST", url, "", rule("wh-rule", 1)); r.status != 201 {
		t.Fatalf("create wh-rule: %d %s", r.status, r.body)
	}
	r = do(t, "POST", s.logs.URL+"/api/v1alpha1/alerts/webhook", "", map[string]any{"ruleName": "wh-rule", "ruleNamespace": "ns-a", "alertValue": 3})
	if r.status != 200 || r.json(t)["status"] != "success" {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	select {
	case h := <-hooks:
		if h["ruleName"] != "wh-rule" || h["alertValue"].(float64) != 3 {
			t.Fatalf("forwarded: %v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("webhook not forwarded")
	}
	wantError(t, do(t, "POST", s.logs.URL+"/api/v1alpha1/alerts/webhook", "", "nope"), 400, "badRequest", "invalid JSON")
}

func newWebhook(t *testing.T, ch chan map[string]any) string {
	srv := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := jsonDecode(r, &m); err != nil {
			w.WriteHeader(400)
			return
		}
		ch <- m
		fmt.Fprint(w, `{"ok":true}`)
	})
	return srv + "/api/v1alpha1/alerts/webhook"
}
