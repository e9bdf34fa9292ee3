// Package migrationapi serves the migration's state to operators on the
// HTTP port:
//
//	GET /api/v1/migration   the state machine's status with the live figures
//	                        (dual-write lag, auto-rollbacks, dual-read latency)
//	GET /console            the migration console, a page polling the above
//
// Both are for admins, as PATCH /api/v1/flags is: a caller whose token
// grants every namespace ("*"). Under --auth=jwt a browser cannot send a
// bearer token when it navigates, so the console's page and its scripts
// (static, holding no migration data) load without one, and the page asks
// for a token, keeps it in the tab's sessionStorage and sends it with every
// data request: a caller without an admin token sees the page's frame and
// the API's refusal, nothing else.
package migrationapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
)

// LocalAdmin is the caller of every request without authentication.
const LocalAdmin = auth.LocalAdmin

// DefaultAuditLimit is how many rows of the use_clickhouse audit a response
// carries when API.AuditLimit is zero.
const DefaultAuditLimit = 200

// StatusFunc reads the state machine's status (FromMachine adapts a
// state.Machine).
type StatusFunc func(ctx context.Context) (Status, error)

// LagFunc reads the gateway's dual-write lag: the age of the oldest record
// OpenSearch has not acknowledged and how many wait. ok is false when this
// process runs no gateway.
type LagFunc func() (lag time.Duration, pending int, ok bool)

// API serves the migration endpoints.
type API struct {
	// Status is the state machine; nil answers 503 naming what is missing.
	Status StatusFunc
	// Router supplies the rollout flag, its audit and the dual-read
	// latencies; nil leaves them out.
	Router *router.Router
	// Lag is the gateway's dual-write lag; nil: not measured here.
	Lag LagFunc
	// AuditLimit bounds the use_clickhouse audit rows read per request.
	AuditLimit int
	// PollInterval is how often the console refreshes.
	PollInterval time.Duration
	Auth         auth.Authenticator
	Log          *slog.Logger
}

// Mount adds the routes to mux.
func (a *API) Mount(mux *http.ServeMux) {
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.Auth == nil {
		a.Auth = auth.None{}
	}
	if a.AuditLimit <= 0 {
		a.AuditLimit = DefaultAuditLimit
	}
	if a.PollInterval <= 0 {
		a.PollInterval = 3 * time.Second
	}
	mux.Handle("GET /api/v1/migration", a.admin(a.get))
	mux.Handle("GET /console", http.HandlerFunc(a.page))
	mux.Handle("GET /console/{file...}", http.HandlerFunc(a.asset))
}

// admin authenticates as the flag API does: no token under JWT is 401, a
// caller that is not an admin 403 naming the caller.
func (a *API) admin(h func(w http.ResponseWriter, r *http.Request, caller string) error) http.Handler {
	inner := httpx.Wrap(a.Log, false, func(w http.ResponseWriter, r *http.Request) error {
		caller, isAdmin := auth.Caller(a.Auth, r.Context())
		if !isAdmin {
			return &httpx.Error{Status: http.StatusForbidden, Title: httpx.TitleForbidden, Code: "OBS-MIGRATION-FORBIDDEN",
				Message: fmt.Sprintf("caller %q is not an admin; only admins (a token granting every namespace) may read the migration", caller)}
		}
		return h(w, r, caller)
	})
	return auth.Middleware(a.Auth, inner, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, &httpx.Error{Status: http.StatusUnauthorized, Title: httpx.TitleUnauthorized, Code: "OBS-MIGRATION-UNAUTHENTICATED",
			Message: "no authenticated caller: send a bearer token (" + msg + ")"}, false)
	})
}

// Response is the body of GET /api/v1/migration: the state machine's
// Status, flattened, with the live figures beside it.
type Response struct {
	Status
	// DualWriteLag is in seconds; null when this process runs no gateway.
	DualWriteLag     *float64 `json:"dualWriteLag"`
	DualWritePending *int     `json:"dualWritePending"`
	// Rollbacks are the automatic rollbacks in the use_clickhouse audit
	// (actor obsplane-autorollback), newest first.
	Rollbacks []flags.AuditEntry `json:"rollbacks"`
	// RolloutAudit is every change of use_clickhouse, newest first.
	RolloutAudit []flags.AuditEntry `json:"rolloutAudit"`
	// Latency compares the backends over the router's windows; null
	// without a router.
	Latency *router.Latency `json:"latency"`
	// Router is the router's status: backend, dual read, rollback
	// configuration and figures.
	Router *router.Status `json:"router"`
	// PollSeconds is how often the console refreshes.
	PollSeconds float64   `json:"pollSeconds"`
	GeneratedAt time.Time `json:"generatedAt"`
	Caller      string    `json:"caller"`
}

func (a *API) get(w http.ResponseWriter, r *http.Request, caller string) error {
	if a.Status == nil {
		return unavailable("the migration state machine is not configured in this process")
	}
	st, err := a.Status(r.Context())
	if err != nil {
		a.Log.Error("migration: read status", "err", err)
		return unavailable("the migration state could not be read from the store; retry later")
	}
	resp := Response{Status: normalized(st), Rollbacks: []flags.AuditEntry{}, RolloutAudit: []flags.AuditEntry{},
		PollSeconds: a.PollInterval.Seconds(), GeneratedAt: time.Now().UTC(), Caller: caller}
	if a.Lag != nil {
		if lag, pending, ok := a.Lag(); ok {
			s := lag.Seconds()
			resp.DualWriteLag, resp.DualWritePending = &s, &pending
		}
	}
	if a.Router != nil {
		audit, err := a.Router.Flags().Audit(r.Context(), flags.UseClickHouse, a.AuditLimit)
		if err != nil {
			a.Log.Error("migration: read flag audit", "err", err)
			return unavailable("the flag audit could not be read from the store; retry later")
		}
		for _, e := range audit {
			resp.RolloutAudit = append(resp.RolloutAudit, e)
			if e.Actor == router.RollbackActor {
				resp.Rollbacks = append(resp.Rollbacks, e)
			}
		}
		l, s := a.Router.Latency(), a.Router.Status()
		resp.Latency, resp.Router = &l, &s
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func unavailable(msg string) *httpx.Error {
	return &httpx.Error{Status: http.StatusServiceUnavailable, Title: "serviceUnavailable", Code: "OBS-MIGRATION-UNAVAILABLE", Message: msg}
}
