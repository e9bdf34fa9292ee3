package api_test

import (
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

// ppl posts a PPL query and checks the answer against openapi.json.
func ppl(t *testing.T, s *servers, tok, q string) (resp, obsplaneapi.PPLResponse) {
	t.Helper()
	body := map[string]string{"query": q}
	r := do(t, "POST", s.api.URL+"/api/v1/ppl", tok, body, "Content-Type", "application/json")
	doc, err := openapi3.NewLoader().LoadFromData(obsplaneapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://localhost/api/v1/ppl", strings.NewReader(string(j)))
	req.Header.Set("Content-Type", "application/json")
	route, pp, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("no route for /api/v1/ppl in openapi.json: %v", err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: pp, Route: route},
		Status:                 r.status, Header: r.header, Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("PPL answer does not match openapi.json: %v\n%s", err, r.body)
	}
	var out obsplaneapi.PPLResponse
	if r.status == 200 {
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
	}
	return r, out
}

func TestPPLStatsCountByService(t *testing.T) {
	s := start(t, false, "")
	_, all := ppl(t, s, "", "source=container-logs-* | stats count() as n by kubernetes.namespace_name")
	if len(all.Schema) != 2 || all.Schema[0].Name != "n" || len(all.Datarows) == 0 {
		t.Fatalf("stats: %+v", all)
	}
	var total float64
	for _, row := range all.Datarows {
		var n float64
		if err := json.Unmarshal(row[0], &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	_, c := ppl(t, s, "", "source=logs | stats count()")
	var want float64
	if err := json.Unmarshal(c.Datarows[0][0], &want); err != nil {
		t.Fatal(err)
	}
	if total != want || want == 0 {
		t.Fatalf("grouped counts sum to %v, total count is %v", total, want)
	}
}

func TestPPLIsScopedToTheCallersNamespaces(t *testing.T) {
	s := start(t, true, "")
	tokA := token(t, "RS256", jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
	for _, q := range []string{
		"source=logs | where namespace = 'ns-b'",
		"source=logs | where namespace = 'ns-a' or namespace = 'ns-b'",
		"source=logs | where not (namespace = 'ns-a')",
		"source=logs | where 1 = 1 or true",
		"source=traces | where traceId = '" + traceB + "'",
	} {
		r, out := ppl(t, s, tokA, q)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		if strings.Contains(string(r.body), "ns-b") || strings.Contains(string(r.body), "bank") {
			t.Fatalf("%s: another tenant's rows leaked: %s", q, r.body)
		}
		if strings.Contains(q, "ns-b'") && !strings.Contains(q, "ns-a") && len(out.Datarows) != 0 {
			t.Fatalf("%s: %d rows", q, len(out.Datarows))
		}
	}
	if _, out := ppl(t, s, tokA, "source=logs | where namespace = 'ns-a' | stats count()"); string(out.Datarows[0][0]) == "0" {
		t.Fatal("own namespace reads nothing")
	}
	noNS := token(t, "RS256", jwt.MapClaims{"sub": "mallory"})
	if r, _ := ppl(t, s, noNS, "source=logs"); r.status != 403 {
		t.Fatalf("no namespaces claim: %d %s", r.status, r.body)
	}
}

func TestPPLBadInputNamesTheProblem(t *testing.T) {
	s := start(t, false, "")
	for _, tc := range []struct{ q, want string }{
		{"source=logs | dedup service", "dedup"},
		{"source=logs | where", "position 19: unexpected end of query"},
		{"source=logs | where frobnicate(log) = 1", "frobnicate"},
		{"source=logs | stats count() by", "position 30"},
		{"source=logs | head -1", "unexpected '-'"},
		{"", "query"},
	} {
		r, _ := ppl(t, s, "", tc.q)
		if r.status != 400 || !strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(tc.want)) {
			t.Errorf("%q: %d %s (want 400 naming %q)", tc.q, r.status, r.body, tc.want)
		}
	}
	if r := do(t, "POST", s.api.URL+"/api/v1/ppl", "", `{"query": 1}`); r.status != 400 || !strings.Contains(string(r.body), "query") {
		t.Errorf("wrong type: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", s.api.URL+"/api/v1/ppl", "", `{"query": "source=logs", "x": 1}`); r.status != 400 {
		t.Errorf("unknown field: %d %s", r.status, r.body)
	}
}

// TestPPLTypeAndRangeErrorsAre400: the inputs that made the engine fail
// (answered 500 OBS-INTERNAL before) are 400s naming the problem: type
// errors and out-of-range times caught by the compiler, a chain longer than
// the engine's parser takes, and a zero divisor only known at run time
// (the engine's own message).
func TestPPLTypeAndRangeErrorsAre400(t *testing.T) {
	s := start(t, false, "")
	ors := make([]string, 1500)
	for i := range ors {
		ors[i] = "service = 'a'"
	}
	for _, tc := range []struct{ q, want string }{
		{"source=logs | eval x = mod(severityNumber, 0) | fields x", "mod by zero"},
		{"source=logs | eval x = abs(log) | fields x", "abs needs a number"},
		{"source=logs | eval x = log + 1 | fields x", "+ needs numbers"},
		{"source=logs | stats avg(log)", "avg needs a number"},
		{"source=logs | eval x = round(severityNumber, 100000) | fields x", "round's digits"},
		{"source=logs | where concat(log) > 5", "compares a string with an integer"},
		{"source=logs | where @timestamp < '9999-12-31'", "outside the times the store can hold"},
		{"source=logs | where " + strings.Join(ors, " or "), "more than 1024 conditions"},
		{"source=logs | eval x = mod(severityNumber, severityNumber - severityNumber) | fields x", "Division by zero"},
	} {
		r, _ := ppl(t, s, "", tc.q)
		if r.status != 400 || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%.80s: %d %s (want 400 naming %q)", tc.q, r.status, r.body, tc.want)
		}
	}
	r := do(t, "GET", s.api.URL+"/api/logs?q="+url.QueryEscape("timestamp:<9999-12-31"), "", nil)
	wantError(t, r, 400, "badRequest", "outside the times the store can hold")
}
