package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
)

// TestOpenAPIStatesWhatTheServerTakes: the patterns the document declares
// are the ones the server checks, so neither drifts from the other.
func TestOpenAPIStatesWhatTheServerTakes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				Schema map[string]any
			}
		}
	}
	if err := json.Unmarshal(obsplaneapi.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"since": httpx.TimePattern, "until": httpx.TimePattern,
		"minDuration": obsplaneapi.DurationPattern, "maxDuration": obsplaneapi.DurationPattern}
	seen := map[string]int{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			for _, p := range op.Parameters {
				if w, ok := want[p.Name]; ok {
					seen[p.Name]++
					if p.Schema["pattern"] != w {
						t.Errorf("%s %s %s: pattern %v, the server checks %s", method, path, p.Name, p.Schema["pattern"], w)
					}
				}
				if p.Name == "limit" || p.Name == "tail" {
					if p.Schema["minimum"] == nil || p.Schema["maximum"] == nil {
						t.Errorf("%s %s %s: no bounds declared", method, path, p.Name)
					}
				}
			}
		}
	}
	if seen["since"] < 5 || seen["minDuration"] != 1 {
		t.Fatalf("patterns checked: %v", seen)
	}
	for _, p := range []string{"/api/v1/flags", "/api/v1/flags/{name}", "/api/v1/flags/{name}/audit", "/api/v1/router/mismatches", "/api/v1/router/status", "/api/v1/migration"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("the admin API's %s is not in the document", p)
		}
	}
}

// TestUndeclaredMethodsAndEmptyNumbers: a method a path does not serve is
// 405 with Allow (not 404), and an empty tail= or limit= is refused rather
// than read as the default.
func TestUndeclaredMethodsAndEmptyNumbers(t *testing.T) {
	s := start(t, false, "")
	for _, m := range []string{"TRACE", "PUT", "DELETE"} {
		r := do(t, m, s.api.URL+"/api/logs", "", nil)
		if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "GET") || !strings.Contains(string(r.body), `"message"`) {
			t.Errorf("%s /api/logs: %d Allow=%q %s", m, r.status, r.header.Get("Allow"), r.body)
		}
	}
	if r := do(t, "GET", s.api.URL+"/api/v1/ppl", "", nil); r.status != 405 || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("GET /api/v1/ppl: %d %v", r.status, r.header)
	}
	for _, u := range []string{"/api/logs?tail=", "/api/traces?limit=", "/api/errors?limit=", "/api/traces/" + traceA + "/logs?tail="} {
		wantError(t, do(t, "GET", s.api.URL+u, "", nil), 400, "badRequest", "is empty")
	}
}
