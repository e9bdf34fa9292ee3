package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/golang-jwt/jwt/v5"

	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
)

// validated calls the :8080 API and checks the answer against the served
// OpenAPI document.
func validated(t *testing.T, s *servers, tok, path string, hdr ...string) resp {
	t.Helper()
	r := do(t, "GET", s.api.URL+path, tok, nil, hdr...)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(obsplaneapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is invalid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://localhost"+path, nil)
	route, pp, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: no route in openapi.json: %v", path, err)
	}
	ct := r.header.Get("Content-Type")
	body := r.body
	if strings.HasPrefix(ct, "application/x-ndjson") {
		// Validate each line as the declared item schema.
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			in := &openapi3filter.ResponseValidationInput{
				RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pp, Route: route},
				Status:                 r.status, Header: http.Header{"Content-Type": {"application/x-ndjson"}},
				Options: &openapi3filter.Options{IncludeResponseStatus: true},
			}
			in.SetBodyBytes(sc.Bytes())
			if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
				t.Fatalf("%s: ndjson line does not match openapi.json: %v\n%s", path, err, sc.Bytes())
			}
		}
		return r
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pp, Route: route},
		Status:                 r.status, Header: r.header, Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s: answer does not match openapi.json: %v\n%s", path, err, body)
	}
	return r
}

func TestAPILogsWhitepaperExample(t *testing.T) {
	s := start(t, false, "")
	r := validated(t, s, "", "/api/logs?component=gateway&tail=10&since=2h")
	var lr obsplaneapi.LogsResponse
	if err := json.Unmarshal(r.body, &lr); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(lr.Logs) != 10 || lr.NextCursor == "" {
		t.Fatalf("tail=10: %d logs, cursor %q", len(lr.Logs), lr.NextCursor)
	}
	if lr.Logs[0].Log != "upstream connect error: timeout" || lr.Logs[0].TraceID != traceA || lr.Logs[0].Level != "ERROR" {
		t.Fatalf("newest first: %+v", lr.Logs[0])
	}
}

// TestAPILogsCursorNoLossNoRepeat pages through 25 lines that share one
// timestamp with a page size that splits them, and expects each exactly once.
func TestAPILogsCursorNoLossNoRepeat(t *testing.T) {
	s := start(t, false, "")
	seen := map[string]int{}
	var order []string
	cur := ""
	for page := 0; page < 20; page++ {
		path := "/api/logs?namespace=ns-a&since=2h&tail=7&q=" + url.QueryEscape(`"same-ts"`)
		if cur != "" {
			path += "&cursor=" + url.QueryEscape(cur)
		}
		r := validated(t, s, "", path)
		var lr obsplaneapi.LogsResponse
		if err := json.Unmarshal(r.body, &lr); err != nil {
			t.Fatal(err)
		}
		for _, l := range lr.Logs {
			seen[l.Log]++
			order = append(order, l.Log)
		}
		if lr.NextCursor == "" {
			break
		}
		cur = lr.NextCursor
	}
	// The JSON answer orders ties in Go, the NDJSON stream in the engine:
	// one order either way, or a client switching between them would skip
	// or repeat lines.
	r := validated(t, s, "", "/api/logs?namespace=ns-a&since=2h&tail=100&q="+url.QueryEscape(`"same-ts"`), "Accept", "application/x-ndjson")
	var streamed []string
	for _, line := range strings.Split(strings.TrimSpace(string(r.body)), "\n") {
		var l obsplaneapi.LogLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("ndjson line %q: %v", line, err)
		}
		streamed = append(streamed, l.Log)
	}
	if strings.Join(streamed, "|") != strings.Join(order, "|") {
		t.Fatalf("paged JSON order\n%v\ndiffers from the NDJSON order\n%v", order, streamed)
	}
	if len(seen) != nSameTS {
		t.Fatalf("saw %d distinct lines, want %d", len(seen), nSameTS)
	}
	// The last page says there is no more, even when it is full: 25 lines
	// in pages of 5 end on a full page without a cursor.
	var pages int
	for cur, page := "", 0; page < 10; page++ {
		path := "/api/logs?namespace=ns-a&since=2h&tail=5&q=" + url.QueryEscape(`"same-ts"`)
		if cur != "" {
			path += "&cursor=" + url.QueryEscape(cur)
		}
		var lr obsplaneapi.LogsResponse
		if err := json.Unmarshal(validated(t, s, "", path).body, &lr); err != nil {
			t.Fatal(err)
		}
		if len(lr.Logs) == 0 {
			t.Fatalf("page %d is empty: the previous page's cursor promised more", page)
		}
		pages++
		if cur = lr.NextCursor; cur == "" {
			break
		}
	}
	if pages != nSameTS/5 {
		t.Fatalf("%d pages of 5 for %d lines, want %d", pages, nSameTS, nSameTS/5)
	}
	for l, n := range seen {
		if n != 1 {
			t.Fatalf("%q seen %d times", l, n)
		}
	}
}

func TestAPILogsNDJSONAndFilters(t *testing.T) {
	s := start(t, false, "")
	r := validated(t, s, "", "/api/logs?namespace=ns-a&since=2h&tail=100", "Accept", "application/x-ndjson")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if r.status != 200 || len(lines) != nSameTS+4 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/x-ndjson") {
		t.Fatalf("ndjson: %d, %d lines, %s", r.status, len(lines), r.header.Get("Content-Type"))
	}
	for path, want := range map[string]int{
		"/api/logs?since=2h&level=warn": 1,
		"/api/logs?since=2h&namespace=ns-a&q=" + url.QueryEscape("connect AND timeout"): 1,
		"/api/logs?since=2h&namespace=ns-a&q=" + url.QueryEscape(`"slow request"`):      1,
		"/api/logs?since=2h&component=api":                                              1,
		"/api/logs?since=2h&traceId=" + traceA:                                          1,
	} {
		var lr obsplaneapi.LogsResponse
		r := validated(t, s, "", path)
		_ = json.Unmarshal(r.body, &lr)
		if len(lr.Logs) != want {
			t.Errorf("%s: %d logs, want %d: %s", path, len(lr.Logs), want, r.body)
		}
	}
}

func TestAPITracesTopologyLatencyErrors(t *testing.T) {
	s := start(t, false, "")
	r := validated(t, s, "", "/api/traces/"+traceA)
	if r.status != 200 || len(r.json(t)["spans"].([]any)) != 3 {
		t.Fatalf("trace: %d %s", r.status, r.body)
	}
	if r := validated(t, s, "", "/api/traces/"+strings.Repeat("f", 32)); r.status != 404 {
		t.Fatalf("missing trace: %d", r.status)
	}
	r = validated(t, s, "", "/api/traces/"+traceA+"/logs")
	if len(r.json(t)["logs"].([]any)) != 1 {
		t.Fatalf("trace logs: %s", r.body)
	}
	r = validated(t, s, "", "/api/traces?since=2h&service=gateway&status=error&minDuration=50ms")
	tr := r.json(t)["traces"].([]any)
	if len(tr) != 2 { // traceA (ns-a, gateway child errs) and traceB (ns-b): auth=none reads all
		t.Fatalf("trace search: %s", r.body)
	}
	r = validated(t, s, "", "/api/topology?since=2h&namespace=ns-a")
	edges := r.json(t)["edges"].([]any)
	if len(edges) != 1 {
		t.Fatalf("topology: %s", r.body)
	}
	e := edges[0].(map[string]any)
	if e["parent"] != "frontend" || e["child"] != "gateway" || e["calls"].(float64) != 1 || e["errorRate"].(float64) != 1 || e["p99Ms"].(float64) < 89 {
		t.Fatalf("edge: %v", e)
	}
	r = validated(t, s, "", "/api/latency?since=2h&namespace=ns-a")
	pts := r.json(t)["points"].([]any)
	if len(pts) != 2 { // frontend and gateway SERVER spans, one bucket each
		t.Fatalf("latency: %s", r.body)
	}
	r = validated(t, s, "", "/api/errors?since=2h&namespace=ns-a")
	errs := r.json(t)["errors"].([]any)
	if len(errs) != 1 || errs[0].(map[string]any)["message"] != "upstream timeout" {
		t.Fatalf("errors: %s", r.body)
	}
	validated(t, s, "", "/api/openapi.json")
}

func TestAPIBadInput(t *testing.T) {
	s := start(t, false, "")
	for path, want := range map[string]string{
		"/api/logs?tail=0":                            "tail",
		"/api/logs?tail=abc":                          "tail",
		"/api/logs?tail=99999999":                     "tail",
		"/api/logs?since=soon":                        "since",
		"/api/logs?since=1h&until=2h":                 "before since",
		"/api/logs?since=90d":                         "wider than",
		"/api/logs?level=loud":                        "level",
		"/api/logs?cursor=garbage":                    "cursor",
		"/api/logs?servce=x":                          "unknown query parameter",
		"/api/logs?q=" + url.QueryEscape(`"open`):     "q:",
		"/api/logs?q=" + url.QueryEscape("nofield:x"): "q:",
		"/api/logs?q=" + strings.Repeat("a", 2000):    "longer than",
		"/api/logs?component=a&component=b":           "given 2 times",
		"/api/traces/xyz'":                            "traceid",
		"/api/traces?minDuration=fast":                "minDuration",
		"/api/traces?status=bad":                      "status",
		"/api/traces?kind=weird":                      "kind",
		"/api/traces?limit=100000":                    "limit",
		"/api/errors?limit=-1":                        "limit",
	} {
		r := validated(t, s, "", path)
		wantError(t, r, 400, "badRequest", want)
	}
	// Injection through filters is just a value.
	for _, v := range []string{`gateway' OR 1=1 --`, `x\' OR \'1`, "{f_namespace:String}"} {
		r := validated(t, s, "", "/api/logs?since=2h&component="+url.QueryEscape(v))
		if r.status != 200 || len(r.json(t)["logs"].([]any)) != 0 {
			t.Fatalf("component %q: %d %s", v, r.status, r.body)
		}
	}
	wantError(t, do(t, "GET", s.api.URL+"/api/nothing", "", nil), 404, "notFound", "no such endpoint")
}

// TestTenancy tries to read ns-b with a token for ns-a through every
// endpoint and filter.
func TestTenancy(t *testing.T) {
	s := start(t, true, "")
	for _, alg := range []string{"RS256", "ES256"} {
		tokA := token(t, alg, jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
		// No token, bad token, no claim.
		wantError(t, do(t, "GET", s.api.URL+"/api/logs", "", nil), 401, "unauthorized", "bearer")
		wantError(t, do(t, "GET", s.api.URL+"/api/logs", "x.y.z", nil), 401, "unauthorized", "invalid token")
		wantError(t, do(t, "POST", s.logs.URL+"/api/v1/logs/query", "", logsReq(map[string]any{"namespace": "ns-a"}, nil)), 401, "unauthorized", "bearer")
		wantError(t, do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/query", "", logsReq(map[string]any{"namespace": "ns-a"}, nil)), 401, "unauthorized", "bearer")
		noClaim := token(t, alg, jwt.MapClaims{"sub": "mallory"})
		wantError(t, do(t, "GET", s.api.URL+"/api/logs", noClaim, nil), 403, "forbidden", "no namespace")
		expired := token(t, alg, jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}, "exp": 1})
		wantError(t, do(t, "GET", s.api.URL+"/api/logs", expired, nil), 401, "unauthorized", "expired")

		// Adapters: the other namespace is 403, by every scope form.
		wantError(t, do(t, "POST", s.logs.URL+"/api/v1/logs/query", tokA, logsReq(map[string]any{"namespace": "ns-b"}, nil)), 403, "forbidden", "ns-b")
		wantError(t, do(t, "POST", s.logs.URL+"/api/v1/logs/query", tokA, logsReq(map[string]any{"namespace": "ns-b", "workflowRunName": "x"}, nil)), 403, "forbidden", "ns-b")
		wantError(t, do(t, "POST", s.logs.URL+"/api/v1/events/query", tokA, logsReq(map[string]any{"namespace": "ns-b"}, nil)), 403, "forbidden", "ns-b")
		if r := do(t, "POST", s.logs.URL+"/api/v1/events/query", tokA, eventsReq(map[string]any{"namespace": "ns-a"})); r.status != 200 ||
			strings.Contains(string(r.body), "Failed") || !strings.Contains(string(r.body), "BackOff") {
			t.Errorf("ns-a events for a ns-a token: %d %s", r.status, r.body)
		}
		wantError(t, do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/query", tokA, logsReq(map[string]any{"namespace": "ns-b"}, nil)), 403, "forbidden", "ns-b")
		wantError(t, do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/"+traceB+"/spans/query", tokA, logsReq(map[string]any{"namespace": "ns-b"}, nil)), 403, "forbidden", "ns-b")
		// Own namespace but the other tenant's uids/trace: nothing.
		r := do(t, "POST", s.logs.URL+"/api/v1/logs/query", tokA, logsReq(map[string]any{"namespace": "ns-a", "componentUid": compB}, nil))
		if len(bodies(t, r)) != 0 {
			t.Fatalf("compB via ns-a: %s", r.body)
		}
		r = do(t, "POST", s.tracing.URL+"/api/v1alpha1/traces/"+traceB+"/spans/query", tokA, logsReq(map[string]any{"namespace": "ns-a"}, nil))
		if r.status != 200 || len(r.json(t)["spans"].([]any)) != 0 {
			t.Fatalf("traceB spans via ns-a: %s", r.body)
		}
		if r := do(t, "GET", s.tracing.URL+"/api/v1alpha1/traces/"+traceB+"/spans/b000000000000001", tokA, nil); r.status != 404 {
			t.Fatalf("span of ns-b: %d %s", r.status, r.body)
		}
		// :8080: explicit namespace is 403; everything else silently scoped.
		wantError(t, do(t, "GET", s.api.URL+"/api/logs?namespace=ns-b", tokA, nil), 403, "forbidden", "ns-b")
		wantError(t, do(t, "GET", s.api.URL+"/api/topology?namespace=ns-b", tokA, nil), 403, "forbidden", "ns-b")
		for _, path := range []string{
			"/api/logs?since=2h&tail=1000", "/api/logs?since=2h&component=gateway&tail=1000",
			"/api/logs?since=2h&q=" + url.QueryEscape("tenant"), "/api/logs?since=2h&q=" + url.QueryEscape("namespace:ns-b"),
			"/api/logs?since=2h&q=" + url.QueryEscape(`kubernetes.labels.openchoreo_dev/namespace:ns-b OR secret`),
			"/api/logs?since=2h&traceId=" + traceB, "/api/traces/" + traceB + "/logs",
			"/api/traces?since=2h", "/api/traces?since=2h&service=gateway", "/api/topology?since=2h", "/api/latency?since=2h",
			"/api/errors?since=2h",
		} {
			r := validated(t, s, tokA, path)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", path, r.status, r.body)
			}
			if strings.Contains(string(r.body), "tenant-b") || strings.Contains(string(r.body), traceB) || strings.Contains(string(r.body), "ns-b") {
				t.Fatalf("%s leaked ns-b: %s", path, r.body)
			}
		}
		if r := validated(t, s, tokA, "/api/traces/"+traceB); r.status != 404 {
			t.Fatalf("trace of ns-b: %d %s", r.status, r.body)
		}
		// Alert rules of another namespace: cannot be created, nor seen.
		rb := map[string]any{"metadata": map[string]any{"name": "b-rule", "namespace": "ns-b", "projectUid": projB, "environmentUid": envB, "componentUid": compB},
			"source": map[string]any{"query": ""}, "condition": map[string]any{"enabled": true, "window": "5m", "interval": "1m", "operator": "gt", "threshold": 0}}
		wantError(t, do(t, "POST", s.logs.URL+"/api/v1alpha1/alerts/rules", tokA, rb), 403, "forbidden", "ns-b")
		admin := token(t, alg, jwt.MapClaims{"sub": "observer", "namespaces": []string{"*"}})
		if r := do(t, "POST", s.logs.URL+"/api/v1alpha1/alerts/rules", admin, rb); r.status != 201 {
			t.Fatalf("admin create: %d %s", r.status, r.body)
		}
		wantError(t, do(t, "GET", s.logs.URL+"/api/v1alpha1/alerts/rules/b-rule", tokA, nil), 404, "notFound", "not found")
		wantError(t, do(t, "DELETE", s.logs.URL+"/api/v1alpha1/alerts/rules/b-rule", tokA, nil), 404, "notFound", "not found")
		if r := validated(t, s, tokA, "/api/alerts/rules"); strings.Contains(string(r.body), "b-rule") {
			t.Fatalf("rule list leaked: %s", r.body)
		}
		if r := do(t, "DELETE", s.logs.URL+"/api/v1alpha1/alerts/rules/b-rule", admin, nil); r.status != 200 {
			t.Fatalf("admin delete: %d %s", r.status, r.body)
		}
		// The admin token reads ns-b.
		if r := do(t, "POST", s.logs.URL+"/api/v1/logs/query", admin, logsReq(map[string]any{"namespace": "ns-b"}, nil)); len(bodies(t, r)) != 2 {
			t.Fatalf("admin ns-b: %s", r.body)
		}
	}
}

// TestAPITraceAcrossMidnight reads a trace whose spans lie in two daily
// partitions: the trace-id window must cover both days.
func TestAPITraceAcrossMidnight(t *testing.T) {
	s := start(t, false, "")
	r := validated(t, s, "", "/api/traces/"+traceC)
	var tr obsplaneapi.TraceResponse
	if err := json.Unmarshal(r.body, &tr); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var ids []string
	for _, sp := range tr.Spans {
		ids = append(ids, sp.SpanID)
	}
	if strings.Join(ids, ",") != "c000000000000001,c000000000000002" {
		t.Fatalf("spans %v, want both sides of midnight in start order", ids)
	}
}
