package server

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/migrationapi"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/store"
)

// migrationAPI is GET /api/v1/migration and the console: the state machine
// over the store, the router's flags and latencies, and the gateway's
// dual-write lag when this process runs the gateway.
func migrationAPI(cfg *config.Config, st store.Store, rt *router.Router, a auth.Authenticator, reg prometheus.Registerer, log *slog.Logger) *migrationapi.API {
	return &migrationapi.API{Status: migrationStatus(cfg, st, rt, log), Router: rt, Lag: dualWriteLag(cfg, reg), Auth: a, Log: log,
		PollInterval: cfg.Console.PollInterval, AuditLimit: cfg.Console.AuditLimit}
}

// migrationStatus reads the migration's state machine over the store, with
// the router's flags; nil when it cannot be built (the API then answers 503
// saying so).
func migrationStatus(cfg *config.Config, st store.Store, rt *router.Router, log *slog.Logger) migrationapi.StatusFunc {
	m, err := state.New(st, cfg.Database, rt.Flags(), state.Options{Log: log})
	if err != nil {
		log.Error("migration state machine not available", "err", err)
		return nil
	}
	return m.Status
}

// dualWriteLag reads the lag of the gateway's OpenSearch exporter in this
// process. The exporter's telemetry is registered on reg under a fixed
// name; registering it here first (buildQuery runs before the gateway is
// built) makes the gateway's exporter reuse the same collector, so this
// reads the live figures without a scrape.
func dualWriteLag(cfg *config.Config, reg prometheus.Registerer) migrationapi.LagFunc {
	if !cfg.Has("gateway") || cfg.OpenSearch.URL == "" {
		return nil
	}
	t := opensearchexporter.NewTelemetry(reg)
	return func() (time.Duration, int, bool) {
		lag, pending := t.Lag()
		return lag, pending, true
	}
}
