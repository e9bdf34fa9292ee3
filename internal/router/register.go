package router

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/openchoreo/obsplane/internal/server"
)

func init() { server.Register(hook) }

var current atomic.Pointer[Router]

// Current returns the router serve installed, or nil before it is built
// (or when the query component is off). A nil *Router's Do answers from
// ClickHouse, so callers use the result without checking; they must call
// Current at request time, not at start-up, because hooks run in import
// order.
func Current() *Router { return current.Load() }

// SetCurrent installs r as the process's router (serve's hook does; tests
// of other packages may).
func SetCurrent(r *Router) { current.Store(r) }

var (
	authMu sync.Mutex
	authMW func(http.Handler) http.Handler
)

// SetAuthMiddleware installs the middleware that authenticates requests to
// the router's endpoints and stores their Caller with WithCaller. The query
// API (internal/api) calls it from init or from its serve hook, wrapping its
// JWT authentication and deciding who is an admin. With --auth=none it is
// not needed: every request runs as LocalAdmin. With --auth=jwt and no
// middleware installed, the endpoints answer 401 (fail closed).
func SetAuthMiddleware(mw func(http.Handler) http.Handler) {
	authMu.Lock()
	defer authMu.Unlock()
	authMW = mw
}

// configFor returns the router's configuration for serve: the primary and
// dual read from observer.telemetry.*, the rest at their defaults. Without
// an OpenSearch to read, everything goes to ClickHouse.
func configFor(env *server.Env) Config {
	c := DefaultConfig()
	t := env.Config.Observer.Telemetry
	c.Backend = t.Backend
	c.DualRead = t.DualRead == "true"
	if env.Config.OpenSearch.URL == "" {
		c.Backend, c.DualRead = BackendClickStack, false
	}
	return c
}

// hook builds the router on serve's store, registry and logger, mounts its
// endpoints on the :8080 mux, and runs its refresh and rollback loops.
func hook(ctx context.Context, env *server.Env) ([]server.Component, error) {
	if !queryEnabled(env.Config.Components) {
		return nil, nil
	}
	cfg := configFor(env)
	log := env.Logger.With("component", "router")
	fl, err := NewFlags(env.Store, cfg, SystemClock{}, log)
	if err != nil {
		return nil, err
	}
	// A store that cannot be read now is not fatal: the flags keep their
	// defaults (no user on ClickHouse while migrating) until a refresh
	// succeeds.
	if err := fl.Refresh(ctx); err != nil {
		log.Error("router: initial flag load failed; using defaults until the next refresh", "err", err)
	}
	r, err := New(Options{Config: cfg, Flags: fl, Pinger: env.Store, Registerer: env.Registry, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	var h http.Handler = r.Handler()
	if env.Config.Auth == "none" {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			next.ServeHTTP(w, req.WithContext(WithCaller(req.Context(), LocalAdmin{})))
		})
	} else {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			// Read at request time: the API's hook may install the
			// middleware after this one ran.
			authMu.Lock()
			mw := authMW
			authMu.Unlock()
			if mw == nil {
				inner.ServeHTTP(w, req)
				return
			}
			mw(inner).ServeHTTP(w, req)
		})
	}
	for _, p := range Patterns {
		env.Mux.Handle(p, h)
	}
	SetCurrent(r)
	log.Info("router ready", "backend", cfg.Backend, "dualRead", cfg.DualRead, "rollback", cfg.Rollback.Enabled)
	return []server.Component{{Name: "router", Run: r.Run}}, nil
}

func queryEnabled(components string) bool {
	for _, c := range strings.Split(components, ",") {
		if c = strings.TrimSpace(c); c == "all" || c == "query" {
			return true
		}
	}
	return false
}
