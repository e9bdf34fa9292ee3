package migrationapi

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
	"github.com/openchoreo/obsplane/internal/migrate/state"
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

// testRouter is a router over a fresh database of the shared store.
func testRouter(t *testing.T) (*router.Router, *flags.Service, string) {
	t.Helper()
	cfg := router.DefaultConfig()
	cfg.Database = fmt.Sprintf("migrationapi_test_%d", dbSeq.Add(1))
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: cfg.Database}); err != nil {
		t.Fatal(err)
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
	return r, fl, cfg.Database
}

// headerAuth stands in for JWT validation (tested in package auth, and end
// to end against serve in package server): X-Test-Subject names the caller
// and X-Test-Admin grants every namespace; no subject is unauthenticated.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	sub := r.Header.Get("X-Test-Subject")
	if sub == "" {
		return nil, errors.New("missing bearer token")
	}
	return &auth.Principal{Subject: sub, All: r.Header.Get("X-Test-Admin") == "1", Namespaces: []string{"ns-a"}}, nil
}

func do(t *testing.T, h http.Handler, method, path, sub string, admin bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if sub != "" {
		req.Header.Set("X-Test-Subject", sub)
	}
	if admin {
		req.Header.Set("X-Test-Admin", "1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestMigrationAdminOnly: no caller is 401, a tenant 403 naming it, and
// neither touches the state machine; an admin reaches it.
func TestMigrationAdminOnly(t *testing.T) {
	rt, _, _ := testRouter(t)
	var reads atomic.Int64
	status := func(context.Context) (Status, error) {
		reads.Add(1)
		return Status{Phase: "DualWrite"}, nil
	}
	mux := http.NewServeMux()
	(&API{Status: status, Router: rt, Auth: headerAuth{}}).Mount(mux)

	rec := do(t, mux, "GET", "/api/v1/migration", "", false)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "OBS-MIGRATION-UNAUTHENTICATED") || strings.Contains(rec.Body.String(), "DualWrite") {
		t.Fatalf("no caller: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, mux, "GET", "/api/v1/migration", "bob", false)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), `caller \"bob\" is not an admin`) || strings.Contains(rec.Body.String(), "DualWrite") {
		t.Fatalf("tenant: %d %s", rec.Code, rec.Body)
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("refused callers read the state %d times", n)
	}
	rec = do(t, mux, "GET", "/api/v1/migration", "platform", true)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"phase":"DualWrite"`) || !strings.Contains(rec.Body.String(), `"caller":"platform"`) {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}

	// Without authentication every caller is the local admin.
	mux = http.NewServeMux()
	(&API{Status: status, Router: rt}).Mount(mux)
	if rec := do(t, mux, "GET", "/api/v1/migration", "", false); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"caller":"local-admin"`) {
		t.Fatalf("auth none: %d %s", rec.Code, rec.Body)
	}
}

// TestMigrationFigures: the response carries the rollout audit, the
// automatic rollbacks among it (by the router's actor only), the dual-write
// lag and the router's latencies; lists are [] rather than null.
func TestMigrationFigures(t *testing.T) {
	rt, fl, _ := testRouter(t)
	ctx := ctxT(t)
	set := func(p int, actor, reason string) {
		if _, _, err := fl.Update(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: &p}, actor, reason); err != nil {
			t.Fatal(err)
		}
	}
	set(20, "platform", "ramp 20")
	set(0, router.RollbackActor, "automatic rollback: error_rate: 9% above 5%")
	set(0, "platform", "back to 0 by hand")
	rt.Observe(router.ClickHouse, "logs", "primary", 3*time.Millisecond, nil)
	rt.Observe(router.OpenSearch, "logs", "secondary", 30*time.Millisecond, nil)

	mux := http.NewServeMux()
	(&API{Status: func(context.Context) (Status, error) { return Status{Phase: "Cutover"}, nil }, Router: rt,
		Lag: func() (time.Duration, int, bool) { return 1500 * time.Millisecond, 42, true }}).Mount(mux)
	rec := do(t, mux, "GET", "/api/v1/migration", "", false)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var r struct {
		Phase            string             `json:"phase"`
		Transitions      []any              `json:"transitions"`
		Backfill         []any              `json:"backfill"`
		Validations      []any              `json:"validations"`
		DualWriteLag     *float64           `json:"dualWriteLag"`
		DualWritePending *int               `json:"dualWritePending"`
		Rollbacks        []flags.AuditEntry `json:"rollbacks"`
		RolloutAudit     []flags.AuditEntry `json:"rolloutAudit"`
		Latency          *router.Latency    `json:"latency"`
		Router           *router.Status     `json:"router"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Phase != "Cutover" || r.Transitions == nil || r.Backfill == nil || r.Validations == nil {
		t.Fatalf("status part: %s", rec.Body)
	}
	if r.DualWriteLag == nil || *r.DualWriteLag != 1.5 || r.DualWritePending == nil || *r.DualWritePending != 42 {
		t.Fatalf("lag: %s", rec.Body)
	}
	if len(r.RolloutAudit) != 3 || r.RolloutAudit[0].Reason != "back to 0 by hand" {
		t.Fatalf("rollout audit: %+v", r.RolloutAudit)
	}
	if len(r.Rollbacks) != 1 || r.Rollbacks[0].Actor != router.RollbackActor || !strings.Contains(r.Rollbacks[0].Reason, "error_rate") {
		t.Fatalf("rollbacks: %+v", r.Rollbacks)
	}
	if r.Latency == nil || r.Latency.ClickHouse.Requests != 1 || r.Latency.OpenSearch.Requests != 1 || len(r.Latency.Series) != 1 || r.Router == nil {
		t.Fatalf("latency/router: %s", rec.Body)
	}

	// Without a gateway in the process the lag is null, not 0.
	mux = http.NewServeMux()
	(&API{Status: func(context.Context) (Status, error) { return Status{Phase: "Off"}, nil }}).Mount(mux)
	rec = do(t, mux, "GET", "/api/v1/migration", "", false)
	if !strings.Contains(rec.Body.String(), `"dualWriteLag":null`) || !strings.Contains(rec.Body.String(), `"latency":null`) {
		t.Fatalf("no gateway, no router: %s", rec.Body)
	}
}

// TestMigrationUnavailable: a state machine that is missing or cannot read
// the store is a 503 saying so, never a 500.
func TestMigrationUnavailable(t *testing.T) {
	mux := http.NewServeMux()
	(&API{}).Mount(mux)
	if rec := do(t, mux, "GET", "/api/v1/migration", "", false); rec.Code != 503 || !strings.Contains(rec.Body.String(), "not configured") {
		t.Fatalf("no machine: %d %s", rec.Code, rec.Body)
	}
	mux = http.NewServeMux()
	(&API{Status: func(context.Context) (Status, error) { return Status{}, errors.New("store down") }}).Mount(mux)
	if rec := do(t, mux, "GET", "/api/v1/migration", "", false); rec.Code != 503 || !strings.Contains(rec.Body.String(), "could not be read") {
		t.Fatalf("store down: %d %s", rec.Code, rec.Body)
	}
}

// TestConsoleFiles: the page and its files are served from the binary with
// a restrictive CSP; nothing outside the console directory, no directory
// listing, no dot files.
func TestConsoleFiles(t *testing.T) {
	mux := http.NewServeMux()
	(&API{Auth: headerAuth{}}).Mount(mux)
	for _, p := range []string{"/console", "/console/"} {
		rec := do(t, mux, "GET", p, "", false)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), `<script src="/console/console.js"`) {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Header())
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Fatalf("%s: CSP %q", p, csp)
		}
	}
	if rec := do(t, mux, "GET", "/console/console.js", "", false); rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("console.js: %d %s", rec.Code, rec.Header())
	}
	for _, p := range []string{"/console/vendor/", "/console/vendor/.version", "/console/nope.js", "/console/./console.js", "/console/a/../console.js"} {
		if rec := do(t, mux, "GET", p, "", false); rec.Code != 404 && rec.Code != 301 && rec.Code != 307 {
			t.Fatalf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
	// The charting library is embedded (make uplot, a dependency of make
	// build and make test, put it there).
	if !ChartsEmbedded() {
		t.Fatal("uPlot is not in console/vendor: run make uplot (scripts/install-uplot.sh)")
	}
	for _, f := range VendorFiles {
		rec := do(t, mux, "GET", "/console/"+f, "", false)
		b, _ := io.ReadAll(rec.Body)
		if rec.Code != 200 || len(b) < 1000 {
			t.Fatalf("%s: %d, %d bytes", f, rec.Code, len(b))
		}
	}
}

// TestMigrationFromStateMachine: the API serves the real state machine's
// status over the store: transitions newest first with who and why, the
// validations, the rollout from the flags.
func TestMigrationFromStateMachine(t *testing.T) {
	rt, fl, db := testRouter(t)
	ctx := ctxT(t)
	m, err := state.New(st, db, fl, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Move(ctx, state.DualWrite, "ops", "shadow write on", nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Move(ctx, state.Backfilled, "ops", "backfill done", nil); err != nil {
		t.Fatal(err)
	}
	if err := m.RecordValidation(ctx, state.Validation{RunID: "r1", Passed: true, DriftPercent: 0.25, PerNamespace: map[string]float64{"shop": 0.25}}, state.Backfilled, "ops"); err != nil {
		t.Fatal(err)
	}
	p := 5
	if _, _, err := fl.Update(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: &p}, "ops", "first step"); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	(&API{Status: m.Status, Router: rt}).Mount(mux)
	rec := do(t, mux, "GET", "/api/v1/migration", "", false)
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var r struct {
		Phase          string             `json:"phase"`
		Transitions    []state.Transition `json:"transitions"`
		Validations    []state.Validation `json:"validations"`
		RolloutPercent int                `json:"rolloutPercent"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Phase != "Backfilled" || len(r.Transitions) != 2 || r.Transitions[0].To != state.Backfilled || r.Transitions[0].Reason != "backfill done" ||
		r.Transitions[1].Actor != "ops" || r.Transitions[1].Status != "done" {
		t.Fatalf("transitions: %s", rec.Body)
	}
	if len(r.Validations) != 1 || !r.Validations[0].Passed || r.Validations[0].DriftPercent != 0.25 || r.Validations[0].PerNamespace["shop"] != 0.25 {
		t.Fatalf("validations: %s", rec.Body)
	}
	if r.RolloutPercent != 5 {
		t.Fatalf("rollout %d: %s", r.RolloutPercent, rec.Body)
	}
}
