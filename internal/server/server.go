// Package server runs `obsplane serve`. Run constructs every part in order
// — logger, store, schema, read model, router, alert manager, HTTP
// handlers, gateway, listeners — passing each what it needs, runs them together as one run
// group, and stops them in reverse: listeners first, the gateway next (which
// flushes what it holds into the store), the store last.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/backupapi"
	"github.com/openchoreo/obsplane/internal/api/flagsapi"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/metricsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/api/tracingadapter"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/listener"
	"github.com/openchoreo/obsplane/internal/metricsql"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/logsbackend"
	"github.com/openchoreo/obsplane/internal/opensearch/tracesbackend"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/remote"
)

// OpenStore opens the store the config names: a ClickHouse server when
// --clickhouse-dsn is set, the embedded engine on --data otherwise.
func OpenStore(cfg *config.Config) (store.Store, error) {
	if cfg.ClickHouseDSN != "" {
		return remote.Open(remote.Config{DSN: cfg.ClickHouseDSN})
	}
	return chdb.Open(chdb.Config{LibPath: cfg.ChdbLib, DataDir: cfg.DataDir, BackupPath: BackupDir(cfg)})
}

// SchemaOptions are the schema settings of cfg: its database and retention.
func SchemaOptions(cfg *config.Config) schema.Options {
	r := cfg.Retention
	return schema.Options{Database: cfg.Database, Hot: r.Hot, Warm: r.Warm, Cold: r.Cold, DeleteAfter: r.DeleteAfter,
		StatementTimeout: cfg.SchemaStatementTimeout}
}

// BackupDir is where the embedded store may write backups: --backup-dir, or
// backups beside the engine under --data.
func BackupDir(cfg *config.Config) string {
	if cfg.BackupDir != "" {
		return cfg.BackupDir
	}
	return filepath.Join(cfg.DataDir, "backups")
}

// NewLogger returns the process logger in the configured level and format.
func NewLogger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// component is one part Run runs until its context ends. run must have
// released everything (flushed queues included) when it returns.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// Run serves until ctx is cancelled (SIGTERM in cmd) and returns after a
// clean shutdown. A component that fails stops the whole process.
func Run(ctx context.Context, cfg *config.Config) error {
	log := NewLogger(cfg)
	slog.SetDefault(log)
	if cfg.Auth == "none" {
		log.Warn("AUTHENTICATION IS DISABLED (--auth=none): every caller reads every namespace; use --auth=jwt in production")
	}

	st, err := OpenStore(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
		log.Info("store closed")
	}()
	log.Info("store open", "kind", st.Kind(), "data", cfg.DataDir, "database", cfg.Database)

	// The schema is brought up to date before any component starts, so the
	// gateway never writes into a table that is not there yet.
	applied, err := schema.Apply(ctx, st, SchemaOptions(cfg))
	if err != nil {
		return err
	}
	log.Info("schema up to date", "applied", applied, "version", schema.Latest())

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	health := newHealth(st)
	reg.MustRegister(newStoreCollector(st, cfg.DataDir, log))
	gatherers := prometheus.Gatherers{reg}
	mux := http.NewServeMux()
	var comps, listeners []component

	// One flag service for the process: the router reads use_clickhouse
	// and clickstack_primary from it, the gateway's dual-write gate
	// shadow_write, so a change made anywhere reaches both on the next
	// refresh.
	var fl *flags.Service
	if cfg.Has("query") || cfg.OpenSearch.URL != "" {
		if fl, err = newFlags(ctx, cfg, st, log.With("component", "flags")); err != nil {
			return err
		}
	}
	// The migration's phase, validations and transitions as metrics, read
	// from the store at each scrape, so every process reports the same.
	mig, err := state.New(st, cfg.Database, fl, state.Options{Log: log.With("component", "migration")})
	if err != nil {
		return err
	}
	reg.MustRegister(state.NewCollector(mig, cfg.Migration.MetricsTimeout))
	if cfg.Has("query") {
		services, ls, err := buildQuery(ctx, cfg, st, fl, reg, log, mux)
		if err != nil {
			return err
		}
		comps, listeners = append(comps, services...), append(listeners, ls...)
	} else if fl != nil {
		// Without the query side the router does not refresh the flags;
		// the gateway's gate still has to see changes.
		comps = append(comps, component{"flag-refresh", func(ctx context.Context) error {
			fl.Run(ctx, cfg.Router.FlagRefresh)
			return nil
		}})
	}
	if cfg.Has("gateway") {
		var gwFlags *flags.Service
		if cfg.OpenSearch.URL != "" {
			gwFlags = fl
		}
		s, telemetry, ok, err := gateway.FromConfig(cfg, st, gwFlags, reg, log.With("component", "gateway"))
		if err != nil {
			return err
		}
		if ok {
			s.Ready = health.gate("gateway")
			if telemetry != nil {
				gatherers = append(gatherers, telemetry)
			}
			comps = append(comps, component{"gateway", func(ctx context.Context) error { return gateway.Run(ctx, s) }})
		}
	}
	mux.HandleFunc("GET /healthz", health.healthz)
	mux.HandleFunc("GET /readyz", health.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError}))
	if cfg.Listen.HTTP != config.Off {
		listeners = append(listeners, httpListener("http", cfg.Listen.HTTP, httpx.JSONErrors(mux, false), ListenLimits(cfg), log))
	}
	if c, err := clickHouseHTTP(cfg, st, log, reg); err != nil {
		return err
	} else if c != nil {
		listeners = append(listeners, *c)
	}
	return runGroup(ctx, append(comps, listeners...), log)
}

// buildQuery constructs the query side: the read model (the ClickHouse
// backend, the OpenSearch backends when one is configured, and the router
// choosing between them per caller), the alert manager, the obsplane API and
// the router's flag API on mux, and the two adapter listeners. The router
// and the alert scheduler are the services that run.
func buildQuery(ctx context.Context, cfg *config.Config, st store.Store, fl *flags.Service, reg prometheus.Registerer, log *slog.Logger, mux *http.ServeMux) (services, listeners []component, err error) {
	var auds []string
	for _, a := range strings.Split(cfg.JWT.Audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			auds = append(auds, a)
		}
	}
	a, adapterAuth, jwks, err := api.Authenticators(cfg.Auth, cfg.AdapterAuth, api.JWTSettings{
		JWKSURL: cfg.JWKSURL, Issuer: cfg.JWT.Issuer, Audiences: auds,
		JWKS: auth.JWKSOptions{Refresh: cfg.JWT.JWKSRefresh, MinInterval: cfg.JWT.JWKSMinInterval, FetchTimeout: cfg.JWT.JWKSFetchTimeout,
			Wait: cfg.JWT.JWKSWait, Log: log.With("component", "auth"), Registerer: reg},
	}, log.With("component", "auth"))
	if err != nil {
		return nil, nil, err
	}
	if cfg.AdapterAuth == "none" && cfg.Auth == "jwt" {
		log.Warn("adapter ports take no token (--adapter-auth=none): keep them on a private address reachable only by the Observer")
	}

	limits := clickhouse.Limits{MaxExecutionTime: cfg.Query.MaxExecutionTime, MaxResultRows: cfg.Query.MaxResultRows, MaxMemory: int64(cfg.Query.MaxMemory)}
	ch, err := clickhouse.New(st, cfg.Database, limits)
	if err != nil {
		return nil, nil, err
	}
	var os readmodel.Reader
	if cfg.OpenSearch.URL != "" {
		c, err := opensearch.New(cfg.OpenSearch.URL, opensearch.Options{Timeout: opensearch.ReadTimeout})
		if err != nil {
			return nil, nil, fmt.Errorf("--opensearch-url: %w", err)
		}
		os = readmodel.Backend{Logs: &logsbackend.Backend{Client: c}, Traces: &tracesbackend.Backend{Client: c}, Analytics: readmodel.Unsupported{}}
	}
	rt, err := newRouter(cfg, st, fl, reg, log.With("component", "router"))
	if err != nil {
		return nil, nil, err
	}
	reads := rt.Reader(ch, os)

	alog := log.With("component", "api")
	am := &alerts.Manager{Store: st, Database: cfg.Database, Reads: reads, Log: alog, WebhookURL: webhookURL(cfg),
		Tick: cfg.Alerts.Tick, Throttle: cfg.Alerts.Throttle}
	if err := am.EnsureTables(ctx); err != nil {
		return nil, nil, err
	}

	(&obsplaneapi.API{Reads: reads, Auth: a, Log: alog, MaxRange: cfg.Query.MaxRange, MaxRows: cfg.Query.MaxResultRows, Alerts: am}).Mount(mux)
	(&flagsapi.API{Router: rt, Auth: a, Log: log.With("component", "router")}).Mount(mux)
	migrationAPI(cfg, st, rt, a, reg, log.With("component", "migration")).Mount(mux)
	if st.Kind() == "embedded" {
		(&backupapi.API{Store: st, Database: cfg.Database, Dir: BackupDir(cfg), Auth: a, Log: log.With("component", "backup")}).Mount(mux)
	}
	logsH := &logsadapter.Handler{Reads: reads, Health: st, Auth: adapterAuth, Log: alog.With("api", "logs-adapter"),
		MaxRange: cfg.Query.MaxRange, Alerts: am}
	tracesH := &tracingadapter.Handler{Reads: reads, Health: st, Auth: adapterAuth, Log: alog.With("api", "tracing-adapter"),
		MaxRange: cfg.Query.MaxRange}

	services = []component{{"router", rt.Run}, {"alert-scheduler", am.Run}}
	if jwks != nil {
		services = append(services, component{"jwks-refresh", jwks.Run})
	}
	if addr := cfg.Listen.MetricsAdapter; addr != config.Off {
		// Metric alert rules are the metrics adapter's own, in their own
		// tables, evaluated from the metric tables.
		mdb := &metricsql.DB{Store: st, Database: cfg.Database, RateWindow: cfg.Metrics.RateWindow, Lookback: cfg.Metrics.Lookback,
			Settings: limits.Settings()}
		mam := &alerts.Manager{Store: st, Database: cfg.Database, Log: alog, WebhookURL: webhookURL(cfg), Tick: cfg.Alerts.Tick,
			Throttle: cfg.Alerts.Throttle, Tables: metricsadapter.RuleTables, Evaluate: metricsadapter.Evaluator(mdb)}
		if err := mam.EnsureTables(ctx); err != nil {
			return nil, nil, err
		}
		metricsH := &metricsadapter.Handler{Store: st, Reads: mdb, Auth: adapterAuth, Log: alog.With("api", "metrics-adapter"),
			MaxRange: cfg.Query.MaxRange, MaxPoints: cfg.Metrics.MaxPoints, Alerts: mam}
		services = append(services, component{"metric-alert-scheduler", mam.Run})
		listeners = append(listeners, httpListener("metrics-adapter", addr, metricsH.Routes(), ListenLimits(cfg), log))
	}
	if addr := cfg.Listen.LogsAdapter; addr != config.Off {
		listeners = append(listeners, httpListener("logs-adapter", addr, logsH.Routes(), ListenLimits(cfg), log))
	}
	if addr := cfg.Listen.TracingAdapter; addr != config.Off {
		listeners = append(listeners, httpListener("tracing-adapter", addr, tracesH.Routes(), ListenLimits(cfg), log))
	}
	return services, listeners, nil
}

// newFlags builds the process's flag service on the store's flag tables
// and loads what is stored. A store that cannot be read now is not fatal:
// the flags keep their defaults (no user on ClickHouse while migrating,
// dual write as --shadow-write says) until a refresh succeeds.
func newFlags(ctx context.Context, cfg *config.Config, st store.Store, log *slog.Logger) (*flags.Service, error) {
	fl, err := router.NewFlags(st, RouterConfig(cfg), router.SystemClock{}, log)
	if err != nil {
		return nil, err
	}
	if err := fl.Refresh(ctx); err != nil {
		log.Error("flags: initial load failed; using defaults until the next refresh", "err", err)
	}
	return fl, nil
}

// newRouter builds the router over the process's flag service. Without an
// OpenSearch to read, everything goes to ClickHouse.
func newRouter(cfg *config.Config, st store.Store, fl *flags.Service, reg prometheus.Registerer, log *slog.Logger) (*router.Router, error) {
	rc := RouterConfig(cfg)
	rt, err := router.New(router.Options{Config: rc, Flags: fl, Pinger: st, Registerer: reg, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	log.Info("router ready", "backend", rc.Backend, "dualRead", rc.DualRead, "rollback", rc.Rollback.Enabled, "hybrid", rc.Hybrid.Enabled)
	return rt, nil
}

// RouterConfig maps the router's settings of cfg onto router.Config.
func RouterConfig(cfg *config.Config) router.Config {
	r, rb := cfg.Router, cfg.Router.Rollback
	c := router.Config{
		Backend: cfg.Observer.Telemetry.Backend, DualRead: cfg.Observer.Telemetry.DualRead,
		DualReadConcurrency: r.DualReadConcurrency, DualReadTimeout: r.DualReadTimeout,
		MismatchSamples: r.MismatchSamples, FlagRefresh: r.FlagRefresh, Database: cfg.Database,
		ShadowWriteDefault: cfg.Migration.ShadowWrite.Enabled,
		Hybrid:             router.HybridConfig{Enabled: r.Hybrid.Enabled, Days: r.Hybrid.OpenSearchDays, Ops: splitList(r.Hybrid.Ops)},
		Rollback: router.RollbackConfig{
			Enabled: rb.Enabled, CheckInterval: rb.CheckInterval, EvalWindow: rb.EvalWindow, MinRequests: rb.MinRequests,
			ErrorRate: rb.ErrorRate, ErrorRateFor: rb.ErrorRateFor, LatencyFactor: rb.LatencyFactor, LatencyFor: rb.LatencyFor,
			BaselineWindow: rb.BaselineWindow, BaselineP95: rb.BaselineP95, UnreachableChecks: rb.UnreachableChecks,
			PingTimeout: rb.PingTimeout, Inconsistency: rb.Inconsistency, InconsistencyWindow: rb.InconsistencyWindow,
			MinComparisons: rb.MinComparisons,
		},
	}
	if cfg.OpenSearch.URL == "" {
		c.Backend, c.DualRead = router.BackendClickStack, false
	}
	return c
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// webhookURL is where fired alerts are posted: --alert-webhook-url, or the
// Observer's /api/v1alpha1/alerts/webhook (as OpenChoreo's OpenSearch module
// does).
func webhookURL(cfg *config.Config) string {
	if u := cfg.AlertWebhookURL; u != "" {
		return u
	}
	if u := cfg.ObserverURL; u != "" {
		return strings.TrimRight(u, "/") + "/api/v1alpha1/alerts/webhook"
	}
	return ""
}

// runGroup runs comps together until ctx ends or one of them returns, then
// stops them in reverse order of comps, each after the one behind it has
// returned: the listeners (last) stop taking requests before the gateway
// flushes, and the gateway has flushed before Run closes the store.
func runGroup(ctx context.Context, comps []component, log *slog.Logger) error {
	var (
		g    run.Group
		mu   sync.Mutex
		errs []error
	)
	sctx, cancel := context.WithCancel(ctx)
	g.Add(func() error { <-sctx.Done(); return nil }, func(error) { cancel() })
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		cctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		g.Add(func() error {
			defer close(done)
			log.Info("component starting", "component", c.name)
			err := c.run(cctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%s: %w", c.name, err)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return err
			}
			log.Info("component stopped", "component", c.name)
			return nil
		}, func(error) {
			stop()
			<-done
		})
	}
	_ = g.Run() // every error is in errs, including those met while stopping
	log.Info("shut down")
	return errors.Join(errs...)
}

// ListenLimits are the configured limits of every HTTP listener.
func ListenLimits(cfg *config.Config) listener.Limits {
	l := listener.DefaultLimits()
	l.ReadHeaderTimeout, l.ReadTimeout = cfg.Listen.ReadHeaderTimeout, cfg.Listen.ReadTimeout
	l.WriteTimeout, l.IdleTimeout, l.MaxConns = cfg.Listen.WriteTimeout, cfg.Listen.IdleTimeout, cfg.Listen.MaxConns
	l.MaxResponseBytes = int64(cfg.Listen.MaxResponseBytes)
	return l
}

// httpListener serves h on addr with the listener limits until ctx ends,
// then lets running requests finish for up to 10 s.
func httpListener(name, addr string, h http.Handler, limits listener.Limits, log *slog.Logger) component {
	return component{name, func(ctx context.Context) error {
		return listener.Serve(ctx, name, addr, h, limits, log)
	}}
}

// health answers the probes. Ready means the store answers a query now and
// every gated component has said it is up; alive means the process serves
// HTTP at all.
type health struct {
	st store.Store

	mu    sync.Mutex
	gates map[string]bool // component -> ready
}

// newHealth returns the probes' handler; the store's reachability as a
// metric is storeCollector's, measured at each scrape.
func newHealth(st store.Store) *health {
	return &health{st: st, gates: map[string]bool{}}
}

// gate marks component as not ready yet: /readyz answers 503 until the
// returned func is called (the gateway calls it once its receivers listen,
// so a client that waits for /readyz never meets a closed port).
func (h *health) gate(component string) (ready func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gates[component] = false
	return func() {
		h.mu.Lock()
		h.gates[component] = true
		h.mu.Unlock()
	}
}

func (h *health) notReady() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for c, ok := range h.gates {
		if !ok {
			out = append(out, c)
		}
	}
	return out
}

func (h *health) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.st.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("store not ready: " + strings.TrimSpace(err.Error()) + "\n"))
		return
	}
	if waiting := h.notReady(); len(waiting) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting: " + strings.Join(waiting, ", ") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
