// Package api wires obsplane's query APIs into `obsplane serve`: the
// obsplane API on the :8080 mux, and OpenChoreo's logs adapter (:9098),
// metrics adapter (:9099) and tracing adapter (:9100) on their own
// listeners, plus the alert rule schedulers. It registers itself with
// server.Register; cmd/obsplane imports it for that side effect:
//
//	import _ "github.com/openchoreo/obsplane/internal/api"
//
// All of it runs only in processes with the "query" component.
//
// Alert webhooks go to --alert-webhook-url, or, when only --observer-url is
// set, to that Observer's /api/v1alpha1/alerts/webhook (as OpenChoreo's
// OpenSearch module does).
//
// The adapter ports authenticate with --adapter-auth (default none): the
// unmodified Observer calls them without a token and authorizes its own
// callers, exactly as with the upstream adapters, so they belong on a
// private address. The :8080 API always uses --auth.
package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/openchoreo/obsplane/internal/api/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/metricsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/logsbackend"
	"github.com/openchoreo/obsplane/internal/opensearch/tracesbackend"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/server"
)

func init() { server.Register(Hook) }

// Authenticator returns the authenticator for mode (none or jwt).
func Authenticator(cfg *config.Config, mode string) (auth.Authenticator, error) {
	switch mode {
	case "none", "":
		return auth.None{}, nil
	case "jwt":
		if cfg.JWKSURL == "" {
			return nil, fmt.Errorf("--auth=jwt needs --jwks-url")
		}
		return auth.NewJWT(cfg.JWKSURL), nil
	}
	return nil, fmt.Errorf("auth mode %q: want jwt or none", mode)
}

// WebhookURL is where fired alerts are posted.
func WebhookURL(cfg *config.Config) string {
	if u := cfg.AlertWebhookURL; u != "" {
		return u
	}
	if u := cfg.ObserverURL; u != "" {
		return strings.TrimRight(u, "/") + "/api/v1alpha1/alerts/webhook"
	}
	return ""
}

// Hook mounts the obsplane API, and returns the adapter listeners and the
// alert scheduler as components.
func Hook(ctx context.Context, env *server.Env) ([]server.Component, error) {
	cfg := env.Config
	if !cfg.Has("query") {
		return nil, nil
	}
	a, err := Authenticator(cfg, cfg.Auth)
	if err != nil {
		return nil, err
	}
	adapterAuth, err := Authenticator(cfg, cfg.AdapterAuth)
	if err != nil {
		return nil, err
	}
	if cfg.AdapterAuth == "none" && cfg.Auth == "jwt" {
		env.Logger.Warn("adapter ports take no token (--adapter-auth=none): keep them on a private address reachable only by the Observer")
	}
	log := env.Logger.With("component", "api")
	am := &alerts.Manager{Store: env.Store, Log: log, WebhookURL: WebhookURL(cfg)}
	if err := am.EnsureTables(ctx); err != nil {
		return nil, err
	}
	var osLogs obsplaneapi.LogsBackend
	var osBackend logsadapter.Backend
	var osTraces tracingadapter.Backend
	if cfg.OpenSearch.URL != "" {
		c, err := opensearch.New(cfg.OpenSearch.URL, opensearch.Options{Timeout: opensearch.ReadTimeout})
		if err != nil {
			return nil, fmt.Errorf("--opensearch-url: %w", err)
		}
		b := &logsbackend.Backend{Client: c}
		osLogs, osBackend = b, b
		osTraces = &tracesbackend.Backend{Client: c}
	}
	(&obsplaneapi.API{Store: env.Store, Auth: a, Log: log, Alerts: am, OpenSearch: osLogs}).Mount(env.Mux)
	// The router's flag and mismatch endpoints authenticate the same way.
	// An admin is a caller whose token grants every namespace ("*"): the
	// platform team that runs the migration, not a tenant.
	router.SetAuthMiddleware(func(next http.Handler) http.Handler {
		return auth.Middleware(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := auth.FromContext(r.Context())
			next.ServeHTTP(w, r.WithContext(router.WithCaller(r.Context(), router.StaticCaller{Subject: p.Subject, Admin: p.All})))
		}), func(w http.ResponseWriter, msg string) {
			httpx.WriteError(w, httpx.Unauthorized("%s", msg), false)
		})
	})
	comps := []server.Component{{Name: "alert-scheduler", Run: am.Run}}
	if addr := cfg.Listen.LogsAdapter; addr != config.Off {
		h := &logsadapter.Handler{Store: env.Store, Auth: adapterAuth, Log: log.With("api", "logs-adapter"), Alerts: am, OpenSearch: osBackend}
		comps = append(comps, server.HTTPComponent("logs-adapter", addr, h.Routes(), env.Logger))
	}
	if addr := cfg.Listen.MetricsAdapter; addr != config.Off {
		// Metric alert rules are the metrics adapter's own, in their own
		// tables, evaluated from the metric tables.
		mdb := &metricsql.DB{Store: env.Store, Database: "otel"}
		mam := &alerts.Manager{Store: env.Store, Log: log, WebhookURL: WebhookURL(cfg),
			RulesTable: metricsadapter.RulesTable, StateTable: metricsadapter.StateTable, Evaluate: metricsadapter.Evaluator(mdb)}
		if err := mam.EnsureTables(ctx); err != nil {
			return nil, err
		}
		h := &metricsadapter.Handler{Store: env.Store, DB: mdb, Auth: adapterAuth, Log: log.With("api", "metrics-adapter"), Alerts: mam}
		comps = append(comps, server.Component{Name: "metric-alert-scheduler", Run: mam.Run},
			server.HTTPComponent("metrics-adapter", addr, h.Routes(), env.Logger))
	}
	if addr := cfg.Listen.TracingAdapter; addr != config.Off {
		h := &tracingadapter.Handler{Store: env.Store, Auth: adapterAuth, Log: log.With("api", "tracing-adapter"), OpenSearch: osTraces}
		comps = append(comps, server.HTTPComponent("tracing-adapter", addr, h.Routes(), env.Logger))
	}
	return comps, nil
}
