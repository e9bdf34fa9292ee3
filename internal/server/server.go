// Package server runs `obsplane serve`: it opens the store, applies the
// schema, and starts every enabled component (gateway, query APIs, health and
// metrics) in one process until its context ends, then shuts them down in
// order so that what the gateway holds is flushed to the store.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openchoreo/obsplane/internal/config"
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
	return chdb.Open(chdb.Config{LibPath: cfg.ChdbLib, DataDir: cfg.DataDir})
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

// Component is something serve runs beside the HTTP endpoints: the gateway,
// an API listener. Run blocks until ctx ends or it fails, and must have
// released everything (flushed queues included) when it returns.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Hooks let the packages that own the gateway and the APIs add their
// components without this package importing them all: each returns nothing
// when the config disables it.
type Hook func(ctx context.Context, env *Env) ([]Component, error)

// Env is what every component gets from serve.
type Env struct {
	Config   *config.Config
	Store    store.Store
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Mux is the :8080 handler; components add their routes to it.
	Mux *http.ServeMux

	gatesMu   sync.Mutex
	gates     map[string]bool // component -> ready
	gatherers []prometheus.Gatherer
}

// Gate marks component as not ready yet: /readyz answers 503 until the
// returned func is called (the gateway calls it once its receivers listen,
// so a client that waits for /readyz never meets a closed port).
func (e *Env) Gate(component string) (ready func()) {
	e.gatesMu.Lock()
	defer e.gatesMu.Unlock()
	if e.gates == nil {
		e.gates = map[string]bool{}
	}
	e.gates[component] = false
	return func() {
		e.gatesMu.Lock()
		e.gates[component] = true
		e.gatesMu.Unlock()
	}
}

// notReady lists the gated components that are not ready yet.
func (e *Env) notReady() []string {
	e.gatesMu.Lock()
	defer e.gatesMu.Unlock()
	var out []string
	for c, ok := range e.gates {
		if !ok {
			out = append(out, c)
		}
	}
	return out
}

var (
	hooksMu sync.Mutex
	hooks   []Hook
)

// Register adds a hook; packages call it from init.
func Register(h Hook) {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	hooks = append(hooks, h)
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
	log.Info("store open", "kind", st.Kind(), "data", cfg.DataDir)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	env := &Env{Config: cfg, Store: st, Logger: log, Registry: reg, Mux: http.NewServeMux()}

	// The schema is brought up to date before any component starts, so the
	// gateway never writes into a table that is not there yet.
	so := schema.Options{Database: "otel"}
	if err := so.SetRetention(cfg.Retention.Hot, cfg.Retention.Warm, cfg.Retention.Cold, cfg.Retention.DeleteAfter); err != nil {
		return err
	}
	applied, err := schema.Apply(ctx, st, so)
	if err != nil {
		return err
	}
	log.Info("schema up to date", "applied", applied, "version", schema.Latest())

	health := &health{st: st, env: env}
	reg.MustRegister(newStoreCollector(st, cfg.DataDir, log))
	env.Mux.HandleFunc("GET /healthz", health.healthz)
	env.Mux.HandleFunc("GET /readyz", health.readyz)
	env.Mux.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		promhttp.HandlerFor(env.allGatherers(), promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	}))

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var comps []Component
	hooksMu.Lock()
	hs := append([]Hook(nil), hooks...)
	hooksMu.Unlock()
	for _, h := range hs {
		cs, err := h(runCtx, env)
		if err != nil {
			return err
		}
		comps = append(comps, cs...)
	}
	if cfg.Listen.HTTP != config.Off {
		comps = append(comps, HTTPComponent("http", cfg.Listen.HTTP, env.Mux, log))
	}

	errs := make(chan error, len(comps))
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func(c Component) {
			defer wg.Done()
			log.Info("component starting", "component", c.Name)
			err := c.Run(runCtx)
			if err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", c.Name, err)
				stop()
				return
			}
			log.Info("component stopped", "component", c.Name)
		}(c)
	}
	<-runCtx.Done()
	log.Info("shutting down")
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// HTTPComponent serves h on addr until ctx ends, then drains connections
// for up to 10 s.
func HTTPComponent(name, addr string, h http.Handler, log *slog.Logger) Component {
	return Component{Name: name, Run: func(ctx context.Context) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s: %w", addr, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		log.Info("listening", "component", name, "addr", ln.Addr().String())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}}
}

// health answers the probes. Ready means the store answers a query now;
// alive means the process serves HTTP at all.
type health struct {
	st  store.Store
	env *Env
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
	if waiting := h.env.notReady(); len(waiting) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("starting: " + strings.Join(waiting, ", ") + "\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}
