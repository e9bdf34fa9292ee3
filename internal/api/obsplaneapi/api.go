// Package obsplaneapi serves obsplane's own query API on :8080: logs with
// filters, full-text search, cursor pagination and NDJSON streaming
// (logs.go); traces by id and trace search (traces.go); service topology,
// latency percentiles and error tracking (analytics.go); trace<->log
// correlation (logs.go); PPL (ppl.go); alert rule state (alerts.go). The
// OpenAPI document is openapi.json beside this file, served at
// /api/openapi.json.
//
// Handlers parse and validate parameters into readmodel queries, call the
// read model with the caller's tenancy, and write JSON. The read model
// scopes every read to the caller's namespaces, binds every user value as a
// parameter, and runs under the per-query limits; handlers bound time ranges
// and row counts.
package obsplaneapi

import (
	_ "embed"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// OpenAPI is the API's OpenAPI 3 document.
//
//go:embed openapi.json
var OpenAPI []byte

// Limits of the API's parameters.
const (
	DefaultTail     = 100
	MaxTail         = 10000
	MaxStreamRows   = readmodel.MaxStreamLines
	DefaultSince    = time.Hour
	MaxParam        = 1024
	DefaultTraceLim = 20
	MaxTraceLim     = 1000
)

// API serves the :8080 routes.
type API struct {
	// Reads answers every read (the router's read model in serve).
	Reads    readmodel.Reader
	Auth     auth.Authenticator
	Log      *slog.Logger
	MaxRange time.Duration
	// MaxRows caps a PPL answer (the query-max-rows setting).
	MaxRows int
	Alerts  *alerts.Manager
	Now     func() time.Time
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now().UTC()
	}
	return time.Now().UTC()
}

// Mount adds the routes to mux.
func (a *API) Mount(mux *http.ServeMux) {
	httpx.Defaults(&a.MaxRange, &a.Log, &a.Auth)
	wrap := func(f httpx.HandlerFunc) http.Handler {
		return httpx.JSONErrors(auth.Middleware(a.Auth, httpx.Wrap(a.Log, false, f), func(w http.ResponseWriter, msg string) {
			httpx.WriteError(w, httpx.Unauthorized("%s", msg), false)
		}), false)
	}
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(OpenAPI)
	})
	mux.Handle("GET /api/logs", wrap(a.logs))
	mux.Handle("GET /api/traces", wrap(a.traceSearch))
	mux.Handle("GET /api/traces/{traceId}", wrap(a.traceByID))
	mux.Handle("GET /api/traces/{traceId}/logs", wrap(a.traceLogs))
	mux.Handle("GET /api/topology", wrap(a.topology))
	mux.Handle("GET /api/latency", wrap(a.latency))
	mux.Handle("GET /api/errors", wrap(a.errorGroups))
	mux.Handle("GET /api/alerts/rules", wrap(a.alertRules))
	mux.Handle("POST /api/v1/ppl", wrap(a.ppl))
	mux.Handle("/api/", wrap(func(w http.ResponseWriter, r *http.Request) error {
		return httpx.NotFound("no such endpoint: %s %s", r.Method, httpx.Truncate(r.URL.Path, 200))
	}))
}

// params reads query parameters, refusing unknown ones (a typo such as
// "servce=" would otherwise silently widen the query) and repeated ones.
type params struct {
	v url.Values
}

func readParams(r *http.Request, allowed ...string) (*params, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, httpx.BadRequest("malformed query string: %v", err)
	}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	for k, vs := range v {
		if !ok[k] {
			return nil, httpx.BadRequest("unknown query parameter %q (allowed: %s)", httpx.Truncate(k, 64), strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, httpx.BadRequest("query parameter %q given %d times", k, len(vs))
		}
		if len(vs[0]) > MaxParam {
			return nil, httpx.BadRequest("query parameter %q is longer than %d bytes", k, MaxParam)
		}
	}
	return &params{v: v}, nil
}

func (p *params) str(name string) string { return p.v.Get(name) }

func (p *params) intIn(name string, def, min, max int) (int, error) {
	s := p.v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, httpx.BadRequest("%s=%q is not an integer", name, httpx.Truncate(s, 32))
	}
	if n < min || n > max {
		return 0, httpx.BadRequest("%s=%d is out of range: want %d to %d", name, n, min, max)
	}
	return n, nil
}

// selected reads what every read of this API starts from: the namespace,
// project, component and environment filters (names or uids) and the
// since/until window (default the last hour, bounded by MaxRange).
func (a *API) selected(p *params) (readmodel.Selector, readmodel.Window, error) {
	sel := readmodel.Selector{Namespace: p.str("namespace"), Project: p.str("project"), Component: p.str("component"), Environment: p.str("environment")}
	now := a.now()
	since, err := httpx.ParseTime("since", p.str("since"), now)
	if err != nil {
		return sel, readmodel.Window{}, err
	}
	until, err := httpx.ParseTime("until", p.str("until"), now)
	if err != nil {
		return sel, readmodel.Window{}, err
	}
	if until.IsZero() {
		until = now
	}
	if since.IsZero() {
		since = until.Add(-DefaultSince)
	}
	if until.Before(since) {
		return sel, readmodel.Window{}, httpx.BadRequest("until (%s) is before since (%s)", until.Format(time.RFC3339Nano), since.Format(time.RFC3339Nano))
	}
	if until.Sub(since) > a.MaxRange {
		return sel, readmodel.Window{}, httpx.BadRequest("time range %s is wider than the maximum of %s", until.Sub(since), a.MaxRange)
	}
	return sel, readmodel.Window{Since: since, Until: until}, nil
}
