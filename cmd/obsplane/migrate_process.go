package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/store"
)

// The migration process commands: status, cutover, rollback, complete. The
// steps themselves are in internal/migrate/state; these parse flags and
// open the store.

// exitCode is the process's exit code for err: 2 for a refusal (nothing
// changed), 1 for any other failure.
func exitCode(err error) int {
	if errors.Is(err, state.ErrRefused) {
		return 2
	}
	return 1
}

// errorText is how main prints err: a refusal as "refused: <reason>".
func errorText(err error) string {
	var re *state.RefusedError
	if errors.As(err, &re) {
		return re.Error()
	}
	if errors.Is(err, state.ErrRefused) {
		return "refused: " + err.Error()
	}
	return "obsplane: " + err.Error()
}

// processCommon are the flags of every process step.
type processCommon struct {
	actor, reason string
	lockLease     time.Duration
}

func (p *processCommon) register(fs *pflag.FlagSet, reason string) {
	fs.StringVar(&p.actor, "actor", "", "who runs the step, for the audit (default: $USER@host)")
	fs.StringVar(&p.reason, "reason", reason, "why, for the audit")
	fs.DurationVar(&p.lockLease, "lock-lease", 60*time.Second, "lease of the migration lock in the store (a killed command's lock expires after it; at once when it ran on this host)")
}

// processEnv is what a process step opens: the store with its schema, the
// rollout flags and the state machine.
type processEnv struct {
	cfg   *config.Config
	st    store.Store
	fl    *flags.Service
	m     *state.Machine
	log   *slog.Logger
	actor string
	close func()
}

// migrationFlags is the flag service with every flag the migration
// switches, defined exactly as serve defines them (router.NewFlags).
func migrationFlags(st store.Store, cfg *config.Config, log *slog.Logger) (*flags.Service, error) {
	return router.NewFlags(st, server.RouterConfig(cfg), router.SystemClock{}, log)
}

func openProcess(cmd *cobra.Command, p *processCommon) (*processEnv, error) {
	cfg, err := migrateConfig(cmd)
	if err != nil {
		return nil, err
	}
	log := server.NewLogger(cfg)
	st, err := openMigrateStore(cmd.Context(), cfg)
	if err != nil {
		return nil, err
	}
	fl, err := migrationFlags(st, cfg, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	m, err := state.New(st, cfg.Database, fl, state.Options{LockLease: p.lockLease, Log: log})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	actor := p.actor
	if actor == "" {
		actor = state.DefaultActor()
	}
	return &processEnv{cfg: cfg, st: st, fl: fl, m: m, log: log, actor: actor, close: func() { _ = st.Close() }}, nil
}

func migrateStatusCmd() *cobra.Command {
	var p processCommon
	var asJSON bool
	var audit int
	cmd := withConfig(&cobra.Command{
		Use:   "status [--json]",
		Short: "Print where the migration stands: phase, pending step, rollout, backfill per index, last validation, audit",
		Example: `  obsplane migrate status --data /var/lib/obsplane
  obsplane migrate status --clickhouse-dsn http://127.0.0.1:8123/ --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openProcess(cmd, &p)
			if err != nil {
				return err
			}
			defer env.close()
			s, err := env.m.Status(cmd.Context())
			if err != nil {
				return err
			}
			return writeStatus(cmd, s, asJSON, audit)
		},
	})
	p.register(cmd.Flags(), "")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (what GET /api/v1/migration serves)")
	cmd.Flags().IntVar(&audit, "audit", 20, "audit rows shown in the table (newest first)")
	return cmd
}

func writeStatus(cmd *cobra.Command, s state.Status, asJSON bool, audit int) error {
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return state.WriteTable(cmd.OutOrStdout(), s, audit)
}

func migrateCutoverCmd() *cobra.Command {
	var p processCommon
	var maxAge, dwell, poll time.Duration
	var rampS, rangeS string
	cmd := withConfig(&cobra.Command{
		Use:   "cutover",
		Short: "Switch reads to ClickHouse: refuse unless validated and backfilled, ramp use_clickhouse step by step, then make ClickHouse the primary",
		Long: `Refuses (exit 2, nothing changed) unless the phase is Validated, the last validation passed
within --max-validation-age, and the backfill completed (for --require-backfill-range when set).
Then raises use_clickhouse through --ramp, dwelling --ramp-dwell at each step while watching the
flag: when the router's automatic rollback sets it back, the cutover stops, the step is aborted and
the command exits 1 naming the rollback's audit reason. At 100 it turns clickstack_primary on and
the phase becomes Cutover. Interrupted otherwise (Ctrl-C), it sets the rollout back to 0.`,
		Example: `  obsplane migrate cutover --ramp 5,20,50,100 --ramp-dwell 10m --max-validation-age 24h --require-backfill-range 2025-08-01:2025-09-01`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := cutoverOptions(rampS, rangeS, maxAge, dwell, poll)
			if err != nil {
				return err
			}
			env, err := openProcess(cmd, &p)
			if err != nil {
				return err
			}
			defer env.close()
			o.Actor, o.Reason = env.actor, p.reason
			o.Step = func(pct int) { fmt.Fprintf(cmd.ErrOrStderr(), "use_clickhouse: %d%%\n", pct) }
			if err := env.m.Cutover(cmd.Context(), o); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "cutover done: ClickHouse is the primary, use_clickhouse at 100%")
			return nil
		},
	})
	p.register(cmd.Flags(), "cutover")
	f := cmd.Flags()
	f.DurationVar(&maxAge, "max-validation-age", 24*time.Hour, "the last passing validation must be younger than this")
	f.StringVar(&rampS, "ramp", "5,20,50,100", "use_clickhouse percentages, rising, ending at 100")
	f.DurationVar(&dwell, "ramp-dwell", 10*time.Minute, "time at each ramp step below 100, watching for an automatic rollback")
	f.DurationVar(&poll, "ramp-poll", 10*time.Second, "how often the flag is re-read during a dwell")
	f.StringVar(&rangeS, "require-backfill-range", "", "START:END (UTC days, END excluded) that completed backfills must cover (default: some backfill completed, none left incomplete)")
	return cmd
}

// cutoverOptions checks the cutover's own flags (bad input: exit 1, not a
// refusal).
func cutoverOptions(rampS, rangeS string, maxAge, dwell, poll time.Duration) (state.CutoverOptions, error) {
	o := state.CutoverOptions{MaxValidationAge: maxAge, Dwell: dwell, Poll: poll}
	var err error
	if o.Ramp, err = state.ParseRamp(rampS); err != nil {
		return o, err
	}
	if maxAge <= 0 || dwell < 0 || poll <= 0 {
		return o, errors.New("--max-validation-age and --ramp-poll must be positive, --ramp-dwell not negative")
	}
	if rangeS != "" {
		if o.RangeStart, o.RangeEnd, err = state.ParseRange(rangeS); err != nil {
			return o, err
		}
	}
	return o, nil
}

func migrateRollbackCmd() *cobra.Command {
	var p processCommon
	var common migrateCommon
	var syncback bool
	var signals string
	var workers int
	cmd := withConfig(&cobra.Command{
		Use:   "rollback [--syncback]",
		Short: "Send reads back to OpenSearch (clickstack_primary off, use_clickhouse 0), sync back the window since the cutover, phase DualWrite",
		Example: `  obsplane migrate rollback --opensearch http://opensearch:9200 --reason "p95 regression"
  obsplane migrate rollback --syncback=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sigs, err := migrate.ParseSignals(signals)
			if err != nil {
				return err
			}
			env, err := openProcess(cmd, &p)
			if err != nil {
				return err
			}
			defer env.close()
			o := state.RollbackOptions{Actor: env.actor, Reason: p.reason}
			if syncback {
				o.Syncback, err = syncbackFunc(cmd, env, &common, sigs, workers)
				if err != nil {
					return err
				}
			}
			if err := env.m.Rollback(cmd.Context(), o); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "rolled back: OpenSearch is the primary, use_clickhouse at 0%, phase DualWrite")
			return nil
		},
	})
	p.register(cmd.Flags(), "rollback")
	f := cmd.Flags()
	f.BoolVar(&syncback, "syncback", true, "copy into OpenSearch what the store holds since the cutover and OpenSearch lacks (migrate syncback)")
	f.StringVar(&signals, "signals", "logs,traces,events", "what the syncback copies back")
	common.registerOpenSearch(f, "OpenSearch URL for the syncback (default: --opensearch-url)")
	f.IntVar(&workers, "syncback-workers", 2, "_bulk requests in flight during the syncback")
	f.DurationVar(&common.progressLog, "progress-interval", 10*time.Second, "how often progress lines are logged when stderr is not a terminal")
	return cmd
}

// syncbackFunc is the rollback's syncback: migrate.Syncback from since to
// now, with its progress.
func syncbackFunc(cmd *cobra.Command, env *processEnv, common *migrateCommon, sigs []migrate.Signal, workers int) (func(context.Context, time.Time) (int64, error), error) {
	url := common.opensearch
	if url == "" {
		url = env.cfg.OpenSearch.URL
	}
	if url == "" {
		return nil, errors.New("the syncback needs OpenSearch: give --opensearch URL (or --opensearch-url), or --syncback=false")
	}
	osc, err := opensearch.New(url, opensearch.Options{Timeout: common.osTimeout})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, since time.Time) (int64, error) {
		progress := migrate.NewProgress(cmd.ErrOrStderr(), env.log, common.progressLog, true)
		defer progress.Close()
		res, err := migrate.Syncback(ctx, migrate.SyncbackOptions{OpenSearch: osc, Store: env.st, Database: env.cfg.Database, Since: since,
			Signals: sigs, Workers: workers, Retry: common.retry(), Log: env.log, Progress: progress})
		var n int64
		if res != nil {
			progress.Close()
			res.WriteReport(cmd.OutOrStdout())
			for _, s := range res.Signals {
				n += s.Written
			}
		}
		return n, err
	}, nil
}

func migrateCompleteCmd() *cobra.Command {
	var p processCommon
	cmd := withConfig(&cobra.Command{
		Use:   "complete",
		Short: "Mark the migration complete (Cutover -> Complete); cleanup counts its waiting period from here",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := openProcess(cmd, &p)
			if err != nil {
				return err
			}
			defer env.close()
			if err := env.m.Complete(cmd.Context(), env.actor, p.reason); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "migration complete")
			return nil
		},
	})
	p.register(cmd.Flags(), "complete")
	return cmd
}

// processAfter opens the state machine over an open migrate environment,
// for backfill and validate to record their outcome.
func processAfter(env *migrateEnvironment, lease time.Duration) (*state.Machine, error) {
	fl, err := migrationFlags(env.st, env.cfg, env.log)
	if err != nil {
		return nil, err
	}
	return state.New(env.st, env.cfg.Database, fl, state.Options{LockLease: lease, Log: env.log})
}

// recordOutcome explains a failure to record a step's outcome: the work
// itself is kept.
func recordOutcome(what string, err error) error {
	if err == nil {
		return nil
	}
	hint := "run it again: it resumes, nothing is copied twice"
	if strings.Contains(what, "validation") {
		hint = "run the validation again"
	}
	return fmt.Errorf("%s, but the migration state was not updated (%s): %w", what, hint, err)
}
