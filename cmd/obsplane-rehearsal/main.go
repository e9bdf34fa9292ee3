// Command obsplane-rehearsal runs the whole migration once on this machine
// against live traffic and prints what every phase did to every record
// (make rehearsal). It only parses flags; internal/rehearsal does the work.
//
//	go run ./cmd/obsplane-rehearsal -obsplane bin/obsplane [-screenshot docs/console.png]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/openchoreo/obsplane/internal/rehearsal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "obsplane-rehearsal:", err)
		if errors.Is(err, rehearsal.ErrFailed) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context) error {
	cache := envOr("OBSPLANE_CACHE", filepath.Join(os.Getenv("HOME"), ".cache", "obsplane"))
	var cfg rehearsal.Config
	var serveArgs, level string
	fs := flag.NewFlagSet("obsplane-rehearsal", flag.ContinueOnError)
	fs.StringVar(&cfg.Repo, "repo", ".", "repository root (scripts/opensearch.sh, scripts/install-telemetrygen.sh)")
	fs.StringVar(&cfg.Obsplane, "obsplane", "bin/obsplane", "the obsplane binary under test")
	fs.StringVar(&cfg.Telemetrygen, "telemetrygen", os.Getenv("TELEMETRYGEN"), "telemetrygen binary (default: scripts/install-telemetrygen.sh installs the pinned one)")
	fs.StringVar(&cfg.Work, "work", "", "directory for serve's data and logs (default: a new temporary directory, removed on success)")
	fs.StringVar(&cfg.OpenSearchPort, "opensearch-port", envOr("OPENSEARCH_PORT", "19240"), "HTTP port of the rehearsal's own OpenSearch node")
	fs.StringVar(&cfg.OpenSearchHome, "opensearch-home", envOr("OPENSEARCH_HOME_DIR", filepath.Join(cache, "opensearch-rehearsal")), "home (data, snapshots) of that node")
	fs.BoolVar(&cfg.KeepOpenSearch, "keep-opensearch", false, "leave the OpenSearch node running afterwards")
	fs.StringVar(&cfg.Database, "database", "otel", "the store's database (serve's --database)")
	fs.IntVar(&cfg.History.Days, "history-days", 3, "days of OpenSearch history seeded before today (the backfill's range)")
	fs.IntVar(&cfg.History.Logs, "history-logs", 500, "container lines seeded per day")
	fs.IntVar(&cfg.History.Spans, "history-spans", 200, "spans seeded per day")
	fs.IntVar(&cfg.Load.OTLPLogs, "otlp-logs", 200, "logs telemetrygen sends over OTLP in each phase")
	fs.IntVar(&cfg.Load.ForwardLogs, "forward-logs", 200, "lines the fluent-logger client sends over forward in each phase")
	fs.IntVar(&cfg.Load.Traces, "spans", 200, "spans telemetrygen sends over OTLP in each phase (a parent and a child per trace)")
	fs.Float64Var(&cfg.Load.Rate, "rate", 10, "records per second per source (live traffic is throttled)")
	fs.IntVar(&cfg.Reads.PerPhase, "reads", 15, "rounds of reads (a logs and a traces query, answered by both backends with serve's --dual-read) per phase; 0: none")
	fs.DurationVar(&cfg.Reads.Every, "read-interval", 2*time.Second, "pause between rounds of reads")
	fs.DurationVar(&cfg.FlagRefresh, "flag-refresh", time.Second, "serve's --flag-refresh")
	fs.DurationVar(&cfg.RollbackCheck, "rollback-check-interval", 2*time.Second, "serve's --rollback-check-interval")
	fs.DurationVar(&cfg.RollbackWindow, "rollback-window", 30*time.Second, "serve's auto-rollback evaluation window and trigger durations")
	fs.StringVar(&cfg.Ramp, "ramp", "5,20,50,100", "cutover ramp steps (percent)")
	fs.DurationVar(&cfg.RampDwell, "ramp-dwell", 5*time.Second, "dwell between ramp steps")
	fs.DurationVar(&cfg.RampPoll, "ramp-poll", time.Second, "how often cutover re-reads the rollout during a dwell (an automatic rollback halts it)")
	fs.DurationVar(&cfg.MaxValidationAge, "max-validation-age", time.Hour, "cutover's --max-validation-age")
	fs.DurationVar(&cfg.MinCompleteAge, "min-complete-age", 2*time.Second, "cleanup's --min-complete-age")
	fs.StringVar(&cfg.SnapshotRepository, "snapshot-repository", "rehearsal", "snapshot repository cleanup archives into (registered as type fs)")
	fs.StringVar(&cfg.CleanupIndices, "cleanup-indices", "container-logs-*,otel-traces-*", "cleanup's --indices")
	fs.DurationVar(&cfg.Settle, "settle", 90*time.Second, "longest wait, after a phase, for acknowledged records to reach both stores")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", 3*time.Minute, "longest wait for serve to be ready")
	fs.StringVar(&cfg.Until, "until", "", "stop after this phase (baseline, shadow-write, backfill, validate, cutover, rollback, backfill-again, validate-again, cutover-again, complete, cleanup)")
	fs.StringVar(&cfg.Screenshot, "screenshot", "", "open serve's /console in a headless Chromium during the second cutover, check it shows Cutover at 100%, keep a PNG of it here (e.g. docs/console.png)")
	fs.StringVar(&cfg.Chromium, "chromium", envOr("OBSPLANE_CHROMIUM", "/usr/bin/chromium"), "headless Chromium for -screenshot (Debian's chromium package)")
	fs.StringVar(&serveArgs, "serve-args", "", "more flags for obsplane serve, space-separated")
	fs.StringVar(&level, "log-level", "info", "progress log level (debug shows every migrate command's output)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	cfg.Out = os.Stdout
	cfg.ServeArgs = strings.Fields(serveArgs)
	var err error
	if cfg.Repo, err = filepath.Abs(cfg.Repo); err != nil {
		return err
	}
	if cfg.Obsplane, err = filepath.Abs(cfg.Obsplane); err != nil {
		return err
	}
	if _, err := os.Stat(cfg.Obsplane); err != nil {
		return fmt.Errorf("-obsplane: %w (make builds bin/obsplane)", err)
	}
	if cfg.Telemetrygen == "" {
		out, err := exec.CommandContext(ctx, "bash", filepath.Join(cfg.Repo, "scripts", "install-telemetrygen.sh")).Output()
		if err != nil {
			return fmt.Errorf("scripts/install-telemetrygen.sh: %w", err)
		}
		cfg.Telemetrygen = strings.TrimSpace(string(out))
	}
	removeWork := false
	if cfg.Work == "" {
		if cfg.Work, err = os.MkdirTemp("", "obsplane-rehearsal-"); err != nil {
			return err
		}
		removeWork = true
	}
	err = rehearsal.Run(ctx, cfg)
	switch {
	case err == nil && removeWork:
		_ = os.RemoveAll(cfg.Work)
	case err != nil:
		// A run refused before serve started left nothing worth keeping.
		if entries, _ := os.ReadDir(cfg.Work); len(entries) == 0 && removeWork {
			_ = os.Remove(cfg.Work)
		} else {
			fmt.Fprintln(os.Stderr, "obsplane-rehearsal: serve's log and data are kept in", cfg.Work)
		}
	}
	return err
}
