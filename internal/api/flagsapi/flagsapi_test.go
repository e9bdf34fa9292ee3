package flagsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var st *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

var dbSeq atomic.Int64

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// harness is the flag API over a router on a fresh database.
type harness struct {
	r   *router.Router
	fl  *flags.Service
	cfg router.Config
	api http.Handler
}

func newHarness(t testing.TB, mod func(*router.Config)) *harness {
	t.Helper()
	cfg := router.DefaultConfig()
	cfg.Database = fmt.Sprintf("flagsapi_test_%d", dbSeq.Add(1))
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: cfg.Database}); err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&cfg)
	}
	fl, err := router.NewFlags(st, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	r, err := router.New(router.Options{Config: cfg, Flags: fl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Wait)
	mux := http.NewServeMux()
	(&API{Router: r, Auth: headerAuth{}}).Mount(mux)
	return &harness{r: r, fl: fl, cfg: cfg, api: mux}
}

func (h *harness) setRollout(t *testing.T, p int) {
	t.Helper()
	if _, _, err := h.fl.Update(ctxT(t), flags.UseClickHouse, flags.Change{RolloutPercentage: &p}, "test", "setup"); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) rollout() int {
	f, _ := h.fl.Get(flags.UseClickHouse)
	return f.RolloutPercentage
}

// headerAuth stands in for JWT validation (tested in package auth and
// end to end in package server): X-Test-Subject names the caller, and
// X-Test-Admin grants every namespace; no subject is unauthenticated.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	sub := r.Header.Get("X-Test-Subject")
	if sub == "" {
		return nil, errors.New("missing bearer token")
	}
	return &auth.Principal{Subject: sub, All: r.Header.Get("X-Test-Admin") == "1", Namespaces: []string{"ns-a"}}, nil
}

// who is whom a test request comes from; nil is unauthenticated.
type who struct {
	sub   string
	admin bool
}

var (
	admin = &who{"alice", true}
	dev   = &who{"dev", false}
)

// call sends one request to h as c and returns the status and decoded JSON
// body.
func call(t *testing.T, h http.Handler, c *who, method, path, body, ctype string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c != nil {
		req.Header.Set("X-Test-Subject", c.sub)
		if c.admin {
			req.Header.Set("X-Test-Admin", "1")
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	raw, _ := io.ReadAll(rec.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
	}
	return rec.Code, m
}

// backend is a Do function answering res (or err).
func backend(res router.Result, err error) router.Func {
	return func(context.Context) (any, router.Result, error) { return res, res, err }
}

func TestFlagAPI(t *testing.T) {
	h := newHarness(t, nil)
	api := h.api

	code, body := call(t, api, dev, "GET", "/api/v1/flags", "", "")
	// use_clickhouse, and the runtime switches of the migration process.
	if code != 200 || len(body["flags"].([]any)) != 3 {
		t.Fatalf("list: %d %v", code, body)
	}
	for _, name := range []string{flags.ShadowWrite, flags.ClickStackPrimary} {
		code, body = call(t, api, admin, "PATCH", "/api/v1/flags/"+name, `{"enabled":true,"reason":"switch"}`, "application/json")
		if code != 200 || body["enabled"] != true {
			t.Fatalf("patch %s: %d %v", name, code, body)
		}
		if f, _ := h.fl.Get(name); !f.Enabled {
			t.Fatalf("%s not enabled after PATCH", name)
		}
		off := false
		if _, _, err := h.fl.Update(ctxT(t), name, flags.Change{Enabled: &off}, "test", "reset"); err != nil {
			t.Fatal(err)
		}
	}
	code, body = call(t, api, dev, "GET", "/api/v1/flags/use_clickhouse", "", "")
	if code != 200 || body["rolloutPercentage"] != 0.0 || body["enabled"] != true {
		t.Fatalf("get: %d %v", code, body)
	}
	code, body = call(t, api, admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":20,"reason":"week 2"}`, "application/json")
	if code != 200 || body["rolloutPercentage"] != 20.0 || body["updatedBy"] != "alice" {
		t.Fatalf("patch: %d %v", code, body)
	}
	if h.rollout() != 20 {
		t.Fatalf("rollout = %d", h.rollout())
	}
	code, body = call(t, api, admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"enabled":false}`, "")
	if code != 200 || body["enabled"] != false || body["rolloutPercentage"] != 20.0 {
		t.Fatalf("patch enabled: %d %v", code, body)
	}
	code, body = call(t, api, admin, "GET", "/api/v1/flags/use_clickhouse/audit", "", "")
	if code != 200 {
		t.Fatalf("audit: %d %v", code, body)
	}
	rows := body["audit"].([]any)
	if len(rows) != 2 {
		t.Fatalf("audit rows = %v", rows)
	}
	first := rows[1].(map[string]any)
	if first["actor"] != "alice" || first["reason"] != "week 2" ||
		first["oldValue"] != `{"enabled":true,"rolloutPercentage":0}` || first["newValue"] != `{"enabled":true,"rolloutPercentage":20}` || first["at"] == "" {
		t.Errorf("audit row = %v", first)
	}
	code, body = call(t, api, dev, "GET", "/api/v1/router/status", "", "")
	if code != 200 || body["backend"] != "opensearch" {
		t.Errorf("status: %d %v", code, body)
	}
}

// TestFlagAPIBadInput: every bad request gets a 4xx error body naming the
// problem, and leaves the flag and its audit trail as they were.
func TestFlagAPIBadInput(t *testing.T) {
	h := newHarness(t, nil)
	h.setRollout(t, 10)
	api := h.api
	before, _ := h.fl.Get(flags.UseClickHouse)
	auditBefore, _ := h.fl.Audit(ctxT(t), flags.UseClickHouse, 100)

	for _, c := range []struct {
		name          string
		caller        *who
		method, path  string
		body, ctype   string
		status        int
		code, mention string
	}{
		{"unknown flag", admin, "PATCH", "/api/v1/flags/use_clickhuose", `{"rolloutPercentage":5}`, "", 404, "OBS-ROUTER-FLAG-NOT-FOUND", "use_clickhuose"},
		{"unknown flag get", dev, "GET", "/api/v1/flags/nope", "", "", 404, "OBS-ROUTER-FLAG-NOT-FOUND", "nope"},
		{"above 100", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":101}`, "", 400, "OBS-ROUTER-INVALID-FLAG-CHANGE", "101"},
		{"negative", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":-5}`, "", 400, "OBS-ROUTER-INVALID-FLAG-CHANGE", "0..100"},
		{"huge", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":99999999999999999999}`, "", 400, "OBS-ROUTER-BAD-JSON", "rolloutPercentage"},
		{"fraction", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":20.5}`, "", 400, "OBS-ROUTER-BAD-JSON", "integer"},
		{"string", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":"20"}`, "", 400, "OBS-ROUTER-BAD-JSON", "rolloutPercentage"},
		{"enabled string", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"enabled":"yes"}`, "", 400, "OBS-ROUTER-BAD-JSON", "enabled"},
		{"malformed", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":`, "", 400, "OBS-ROUTER-BAD-JSON", "malformed"},
		{"not an object", admin, "PATCH", "/api/v1/flags/use_clickhouse", `[1,2]`, "", 400, "OBS-ROUTER-BAD-JSON", ""},
		{"trailing", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":5} {"x":1}`, "", 400, "OBS-ROUTER-BAD-JSON", "after the JSON"},
		{"unknown field", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercent":5}`, "", 400, "OBS-ROUTER-UNKNOWN-FIELD", "rolloutPercent"},
		{"empty body", admin, "PATCH", "/api/v1/flags/use_clickhouse", ``, "", 400, "OBS-ROUTER-BAD-JSON", "empty"},
		{"nothing to change", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{}`, "", 400, "OBS-ROUTER-INVALID-FLAG-CHANGE", "nothing to change"},
		{"null only", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":null}`, "", 400, "OBS-ROUTER-INVALID-FLAG-CHANGE", "nothing to change"},
		{"content type", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":5}`, "text/plain", 415, "OBS-ROUTER-BAD-CONTENT-TYPE", "text/plain"},
		{"too large", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"reason":"` + strings.Repeat("x", maxPatchBody) + `"}`, "", 413, "OBS-ROUTER-BODY-TOO-LARGE", "larger"},
		{"long reason", admin, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":5,"reason":"` + strings.Repeat("x", maxReason+1) + `"}`, "", 400, "OBS-ROUTER-INVALID-FLAG-CHANGE", "reason"},
		{"not admin", dev, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":5}`, "", 403, "OBS-ROUTER-FORBIDDEN", "dev"},
		{"not admin audit", dev, "GET", "/api/v1/flags/use_clickhouse/audit", "", "", 403, "OBS-ROUTER-FORBIDDEN", "admin"},
		{"not admin mismatches", dev, "GET", "/api/v1/router/mismatches", "", "", 403, "OBS-ROUTER-FORBIDDEN", "admin"},
		{"no caller", nil, "PATCH", "/api/v1/flags/use_clickhouse", `{"rolloutPercentage":5}`, "", 401, "OBS-ROUTER-UNAUTHENTICATED", "token"},
		{"no caller get", nil, "GET", "/api/v1/flags", "", "", 401, "OBS-ROUTER-UNAUTHENTICATED", ""},
		{"bad limit", admin, "GET", "/api/v1/router/mismatches?limit=-1", "", "", 400, "OBS-ROUTER-BAD-LIMIT", "limit"},
		{"bad audit limit", admin, "GET", "/api/v1/flags/use_clickhouse/audit?limit=abc", "", "", 400, "OBS-ROUTER-BAD-LIMIT", "abc"},
	} {
		code, body := call(t, api, c.caller, c.method, c.path, c.body, c.ctype)
		if code != c.status || body["errorCode"] != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.name, code, body, c.status, c.code)
			continue
		}
		msg, _ := body["message"].(string)
		if body["title"] == "" || body["title"] == nil || msg == "" || !strings.Contains(msg, c.mention) {
			t.Errorf("%s: error body %v should name %q", c.name, body, c.mention)
		}
	}
	after, _ := h.fl.Get(flags.UseClickHouse)
	if after != before {
		t.Errorf("flag changed by bad input: %+v -> %+v", before, after)
	}
	auditAfter, _ := h.fl.Audit(ctxT(t), flags.UseClickHouse, 100)
	if len(auditAfter) != len(auditBefore) {
		t.Errorf("audit rows %d -> %d after bad input", len(auditBefore), len(auditAfter))
	}
	// And what is stored is unchanged too.
	other, _ := router.NewFlags(st, h.cfg, nil, nil)
	if err := other.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if o, _ := other.Get(flags.UseClickHouse); o.RolloutPercentage != 10 || !o.Enabled {
		t.Errorf("stored flag = %+v", o)
	}
}

func TestMismatchesEndpoint(t *testing.T) {
	h := newHarness(t, func(c *router.Config) { c.DualRead = true })
	ctx := ctxT(t)
	_, _ = h.r.Do(ctx, "dev-7", "traces.search", backend(router.Result{Total: 2, IDs: []string{"t1", "t2"}}, nil), backend(router.Result{Total: 3, IDs: []string{"t1", "t2", "t3"}}, nil))
	h.r.Wait()
	code, body := call(t, h.api, admin, "GET", "/api/v1/router/mismatches?op=traces.search&limit=10", "", "")
	if code != 200 {
		t.Fatalf("%d %v", code, body)
	}
	ms := body["mismatches"].([]any)
	if len(ms) != 1 {
		t.Fatalf("mismatches = %v", ms)
	}
	m := ms[0].(map[string]any)
	kinds := m["kinds"].([]any)
	if m["op"] != "traces.search" || m["user"] != "dev-7" || m["primary"] != "opensearch" || len(kinds) != 2 ||
		m["primaryResult"].(map[string]any)["total"] != 3.0 || !strings.Contains(m["detail"].(string), "t3") {
		t.Errorf("sample = %v", m)
	}
	code, body = call(t, h.api, admin, "GET", "/api/v1/router/mismatches?op=logs.query", "", "")
	if code != 200 || len(body["mismatches"].([]any)) != 0 {
		t.Errorf("other op: %d %v", code, body)
	}
}

// FuzzPatchFlag: no PATCH body, however malformed, gets a 5xx or a panic,
// and a rejected one never changes the flag.
func FuzzPatchFlag(f *testing.F) {
	for _, s := range []string{`{"rolloutPercentage":20}`, `{"enabled":true}`, `{"rolloutPercentage":101}`, `{`, `null`, `[]`, `{"reason":"x","enabled":false}`, `{"rolloutPercentage":1e2}`} {
		f.Add(s)
	}
	h := newHarness(f, nil)
	api := h.api
	f.Fuzz(func(t *testing.T, body string) {
		before, _ := h.fl.Get(flags.UseClickHouse)
		req := httptest.NewRequest("PATCH", "/api/v1/flags/use_clickhouse", strings.NewReader(body))
		req.Header.Set("X-Test-Subject", "alice")
		req.Header.Set("X-Test-Admin", "1")
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code != 200 {
			if after, _ := h.fl.Get(flags.UseClickHouse); after != before {
				t.Fatalf("body %q rejected (%d) but the flag changed", body, rec.Code)
			}
		}
	})
}
