package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/logsbackend"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/server"
	"github.com/openchoreo/obsplane/internal/store"
)

// migrateEnv lets every migrate flag come from OBSPLANE_<FLAG> (dashes as
// underscores) when the flag is not given, as the serve settings do.
func migrateEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		if v, ok := os.LookupEnv(config.EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", config.EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// migrateCommon are the flags every migrate step shares.
type migrateCommon struct {
	opensearch   string
	metricsAddr  string
	progressBars bool
	progressLog  time.Duration
	osAttempts   int
	osTimeout    time.Duration
	osGzip       bool
	storeRetry   time.Duration
	lockLease    time.Duration
}

func (m *migrateCommon) register(fs *pflag.FlagSet) {
	m.registerOpenSearch(fs, "OpenSearch URL (default: --opensearch-url)")
	fs.StringVar(&m.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address at /metrics while running (off by default)")
	fs.BoolVar(&m.progressBars, "progress-bars", true, "live progress bars when stderr is a terminal (structured log lines otherwise)")
	fs.DurationVar(&m.progressLog, "progress-interval", 10*time.Second, "how often progress lines are logged when stderr is not a terminal")
	fs.BoolVar(&m.osGzip, "opensearch-gzip", false, "ask OpenSearch for gzip-compressed answers (less bandwidth across a slow link, more CPU on both sides)")
	fs.DurationVar(&m.storeRetry, "store-retry-for", 10*time.Minute, "how long a write the store refuses is retried before the run stops (it resumes from its checkpoint)")
	fs.DurationVar(&m.lockLease, "lock-lease", 60*time.Second, "lease of the run's lock in the store (a killed run's lock expires after it; at once when it ran on this host)")
}

// registerOpenSearch registers the flags of the OpenSearch connection alone
// (migrate rollback's syncback needs only these).
func (m *migrateCommon) registerOpenSearch(fs *pflag.FlagSet, urlHelp string) {
	fs.StringVar(&m.opensearch, "opensearch", "", urlHelp)
	fs.IntVar(&m.osAttempts, "opensearch-max-attempts", 8, "tries of an OpenSearch request refused with 429/502/503/504 or a broken connection")
	fs.DurationVar(&m.osTimeout, "opensearch-timeout", 2*time.Minute, "time-out of one OpenSearch request")
}

// migrateEnvironment is what every migrate step opens.
type migrateEnvironment struct {
	cfg      *config.Config
	st       store.Store
	osc      *opensearch.Client
	log      *slog.Logger
	reg      *prometheus.Registry
	metrics  *migrate.Metrics
	progress *migrate.Progress
	close    func()
}

// migrateConfig is the configuration of a migrate command: its flags, then
// OBSPLANE_<FLAG> for those not given, then the config file.
func migrateConfig(cmd *cobra.Command) (*config.Config, error) {
	if err := migrateEnv(cmd.Flags()); err != nil {
		return nil, err
	}
	return loadConfig(cmd)
}

// openMigrateStore opens the configured store with its schema up to date.
func openMigrateStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	st, err := server.OpenStore(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := schema.Apply(ctx, st, server.SchemaOptions(cfg)); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

func openMigrate(cmd *cobra.Command, m *migrateCommon) (*migrateEnvironment, error) {
	cfg, err := migrateConfig(cmd)
	if err != nil {
		return nil, err
	}
	url := m.opensearch
	if url == "" {
		url = cfg.OpenSearch.URL
	}
	if url == "" {
		return nil, errors.New("no OpenSearch: give --opensearch URL (or --opensearch-url, OBSPLANE_OPENSEARCH_URL)")
	}
	osc, err := opensearch.New(url, opensearch.Options{Timeout: m.osTimeout, NoCompression: !m.osGzip})
	if err != nil {
		return nil, err
	}
	log := server.NewLogger(cfg)
	st, err := openMigrateStore(cmd.Context(), cfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	metrics := migrate.NewMetrics(reg)
	stopMetrics, err := migrate.ServeMetrics(cmd.Context(), m.metricsAddr, reg, log)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	progress := migrate.NewProgress(os.Stderr, log, m.progressLog, m.progressBars)
	return &migrateEnvironment{cfg: cfg, st: st, osc: osc, log: log, reg: reg, metrics: metrics, progress: progress, close: func() {
		progress.Close()
		stopMetrics()
		_ = st.Close()
	}}, nil
}

func (m *migrateCommon) retry() opensearch.RetryOptions {
	return opensearch.RetryOptions{MaxAttempts: m.osAttempts}
}

func migrateBackfillCmd() *cobra.Command {
	var common migrateCommon
	var from, start, end, signals, indices, actor string
	var slices, batch, pageSize int
	var maxRate float64
	var keepAlive time.Duration
	var includeOwn bool
	cmd := withConfig(&cobra.Command{
		Use:   "backfill --start DAY --end DAY",
		Short: "Copy OpenChoreo's OpenSearch indices of a range of days into the store, exactly once, resumable",
		Example: `  obsplane migrate backfill --opensearch http://opensearch:9200 --start 2025-08-01 --end 2025-09-01
  obsplane migrate backfill --start 2025-08-01 --end 2025-08-02 --signals logs --indices 'container-logs-*' --slices 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != "opensearch" {
				return fmt.Errorf("--from %q: only opensearch can be backfilled from", from)
			}
			s, err := migrate.ParseDay("start", start)
			if err != nil {
				return err
			}
			e, err := migrate.ParseDay("end", end)
			if err != nil {
				return err
			}
			sigs, err := migrate.ParseSignals(signals)
			if err != nil {
				return err
			}
			env, err := openMigrate(cmd, &common)
			if err != nil {
				return err
			}
			defer env.close()
			res, err := migrate.Backfill(cmd.Context(), migrate.BackfillOptions{
				OpenSearch: env.osc, Store: env.st, Start: s, End: e, Signals: sigs, Indices: indices,
				Slices: slices, Batch: batch, PageSize: pageSize, MaxDocsPerSec: maxRate, KeepAlive: keepAlive, IncludeOwn: includeOwn,
				Retry: common.retry(), StoreRetryFor: common.storeRetry, LockLease: common.lockLease,
				Retention: env.cfg.Retention.DeleteAfter, Database: env.cfg.Database,
				Log: env.log, Metrics: env.metrics, Progress: env.progress,
			})
			env.progress.Close()
			if res != nil {
				res.WriteReport(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			// A complete copy moves the migration DualWrite -> Backfilled.
			m, err := processAfter(env, common.lockLease)
			if err == nil {
				var moved bool
				if moved, err = m.BackfillDone(cmd.Context(), actorOr(actor), s, e, res); moved {
					fmt.Fprintln(cmd.ErrOrStderr(), "migration phase: Backfilled")
				}
			}
			return recordOutcome("the backfill completed", err)
		},
	})
	common.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&actor, "actor", "", "who runs the backfill, for the migration audit (default: $USER@host)")
	f.StringVar(&from, "from", "opensearch", "source store (opensearch)")
	f.StringVar(&start, "start", "", "first UTC day to copy, YYYY-MM-DD (required)")
	f.StringVar(&end, "end", "", "UTC day after the last one to copy, YYYY-MM-DD (required; not included)")
	f.StringVar(&signals, "signals", "logs,traces,events", "what to copy: logs (container-logs-*, kubernetes-*), traces (otel-traces-*), events (k8s-events-*)")
	f.StringVar(&indices, "indices", "", "only indices matching these comma-separated glob patterns (e.g. 'container-logs-*')")
	f.IntVar(&slices, "slices", 4, "slices read at once, and slices per index (at least one per shard)")
	f.IntVar(&batch, "batch", 100000, "documents of a slice per insert and checkpoint (at most 1000000; kept on resume)")
	f.IntVar(&pageSize, "page-size", 10000, "documents per OpenSearch page (at most 10000, index.max_result_window)")
	f.Float64Var(&maxRate, "max-docs-per-sec", 0, "read at most this many documents per second (0: as fast as OpenSearch answers)")
	f.DurationVar(&keepAlive, "keep-alive", 5*time.Minute, "Point-in-Time keep_alive between two pages of a slice")
	f.BoolVar(&includeOwn, "include-obsplane-documents", false, "also copy documents obsplane's dual write or syncback wrote (their rows normally came through the gateway)")
	_ = cmd.MarkFlagRequired("start")
	_ = cmd.MarkFlagRequired("end")
	return cmd
}

func migrateSyncbackCmd() *cobra.Command {
	var common migrateCommon
	var from, to, since, until, signals string
	var bucket time.Duration
	var compareAll bool
	var workers int
	cmd := withConfig(&cobra.Command{
		Use:   "syncback --since T [--until T]",
		Short: "Write into OpenSearch, in OpenChoreo's layout and under dual write's _ids, what the store holds and OpenSearch lacks (rollback after cutover)",
		Example: `  obsplane migrate syncback --opensearch http://opensearch:9200 --since 24h
  obsplane migrate syncback --since 2025-08-01T00:00:00Z --until 2025-08-02T00:00:00Z --signals logs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != "clickhouse" || to != "opensearch" {
				return fmt.Errorf("--from %q --to %q: syncback copies from clickhouse to opensearch", from, to)
			}
			s, err := migrate.ParseTime("since", since)
			if err != nil {
				return err
			}
			var u time.Time
			if until != "" {
				if u, err = migrate.ParseTime("until", until); err != nil {
					return err
				}
			}
			sigs, err := migrate.ParseSignals(signals)
			if err != nil {
				return err
			}
			env, err := openMigrate(cmd, &common)
			if err != nil {
				return err
			}
			defer env.close()
			res, err := migrate.Syncback(cmd.Context(), migrate.SyncbackOptions{
				OpenSearch: env.osc, Store: env.st, Database: env.cfg.Database, Since: s, Until: u, Signals: sigs, Bucket: bucket, CompareAll: compareAll,
				Workers: workers, Retry: common.retry(), LockLease: common.lockLease,
				Log: env.log, Metrics: env.metrics, Progress: env.progress,
			})
			env.progress.Close()
			if res != nil {
				res.WriteReport(cmd.OutOrStdout())
			}
			return err
		},
	})
	common.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&from, "from", "clickhouse", "source (clickhouse: the store)")
	f.StringVar(&to, "to", "opensearch", "destination (opensearch)")
	f.StringVar(&since, "since", "", "start of the range: RFC 3339, a UTC day or a duration before now such as 24h (required)")
	f.StringVar(&until, "until", "", "end of the range, not included (default: now)")
	f.StringVar(&signals, "signals", "logs,traces,events", "what to copy back: logs, traces, events")
	f.DurationVar(&bucket, "bucket", time.Minute, "time slice whose counts are compared, and whose documents are compared when they differ")
	f.BoolVar(&compareAll, "compare-all", false, "compare the documents of every bucket, not only of those whose counts differ")
	f.IntVar(&workers, "bulk-workers", 2, "_bulk requests in flight")
	_ = cmd.MarkFlagRequired("since")
	return cmd
}

func migrateValidateCmd() *cobra.Command {
	var common migrateCommon
	var duration, interval, window, settle time.Duration
	var maxDrift, maxOverall float64
	var signals, groupBy, start, reportFile, actor string
	cmd := withConfig(&cobra.Command{
		Use:   "validate",
		Short: "The validation job: sample both stores' counts over rolling windows, print the whitepaper's report, exit 0 on pass and 1 on fail",
		Example: `  obsplane migrate validate --opensearch http://opensearch:9200 --duration 1h --sample-interval 60s --max-drift-percent 1.0 --max-overall-drift-percent 5.0
  obsplane migrate validate --start 2025-08-01T00:00:00Z --duration 24h --sample-interval 5m --group-by namespace   # a past day, at once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sigs, err := migrate.ParseSignals(signals)
			if err != nil {
				return err
			}
			var from time.Time
			if start != "" {
				if from, err = migrate.ParseTime("start", start); err != nil {
					return err
				}
			}
			env, err := openMigrate(cmd, &common)
			if err != nil {
				return err
			}
			defer env.close()
			// The whitepaper's migration.validation.* settings, unless
			// this command's own flags say otherwise.
			v := env.cfg.Migration.Validation
			f := cmd.Flags()
			if !f.Changed("duration") {
				duration = time.Duration(v.DurationSeconds) * time.Second
			}
			if !f.Changed("sample-interval") {
				interval = time.Duration(v.SampleIntervalSeconds) * time.Second
			}
			if !f.Changed("max-drift-percent") {
				maxDrift = v.MaxDriftPercent
			}
			if !f.Changed("max-overall-drift-percent") {
				maxOverall = v.MaxOverallDriftPercent
			}
			if !f.Changed("window") {
				window = v.Window
			}
			if !f.Changed("settle") {
				settle = v.Settle
			}
			ch, err := clickhouse.New(env.st, env.cfg.Database, clickhouse.Limits{MaxExecutionTime: env.cfg.Query.MaxExecutionTime,
				MaxResultRows: env.cfg.Query.MaxResultRows, MaxMemory: int64(env.cfg.Query.MaxMemory)})
			if err != nil {
				return err
			}
			rep, verr := migrate.Validate(cmd.Context(), migrate.ValidateOptions{
				OpenSearch: &logsbackend.Backend{Client: env.osc, Search: opensearch.SearchOptions{MaxAttempts: common.osAttempts}},
				Store:      ch,
				Results:    env.st, Database: env.cfg.Database, Signals: sigs, GroupBy: groupBy,
				Duration: duration, SampleInterval: interval, Window: window, Settle: settle,
				MaxDriftPercent: maxDrift, MaxOverallDriftPercent: maxOverall, Start: from,
				Out: cmd.OutOrStdout(), Log: env.log,
			})
			if rep != nil && reportFile != "" {
				if err := writeReport(reportFile, rep); err != nil {
					return errors.Join(verr, err)
				}
			}
			// A finished run (passed or failed) is recorded with its drift
			// per namespace and moves the migration: a pass in Backfilled
			// to Validated, a failure in Validated back to Backfilled.
			if rep != nil && (verr == nil || errors.Is(verr, migrate.ErrValidationFailed)) {
				m, err := processAfter(env, common.lockLease)
				if err == nil {
					var phase state.Phase
					if phase, err = m.ValidationDone(cmd.Context(), actorOr(actor), rep); err == nil {
						fmt.Fprintln(cmd.ErrOrStderr(), "migration phase:", phase)
					}
				}
				if err := recordOutcome("the validation ran", err); err != nil {
					return errors.Join(verr, err)
				}
			}
			return verr
		},
	})
	common.register(cmd.Flags())
	f := cmd.Flags()
	f.DurationVar(&duration, "duration", time.Hour, "how long to sample (default: migration.validation.durationSeconds)")
	f.DurationVar(&interval, "sample-interval", time.Minute, "time between samples (default: migration.validation.sampleIntervalSeconds)")
	f.Float64Var(&maxDrift, "max-drift-percent", 1.0, "drift above which a sample counts against the run (default: migration.validation.maxDriftPercent)")
	f.Float64Var(&maxOverall, "max-overall-drift-percent", 5.0, "share of samples over the drift above which the run fails (default: migration.validation.maxOverallDriftPercent)")
	f.DurationVar(&window, "window", 5*time.Minute, "rolling window compared by each sample (default: migration.validation.window)")
	f.DurationVar(&settle, "settle", 30*time.Second, "newest time left out of each window, not settled yet (default: migration.validation.settle)")
	f.StringVar(&signals, "signals", "logs", "what to count: logs, traces, events")
	f.StringVar(&groupBy, "group-by", "", "also compare per OpenChoreo namespace or component (logs)")
	f.StringVar(&start, "start", "", "sample the period from this time (RFC 3339, a UTC day or a duration before now) instead of from now; past samples are taken at once")
	f.StringVar(&actor, "actor", "", "who runs the validation, for the migration audit (default: $USER@host)")
	f.StringVar(&reportFile, "report-file", "validation-report.json", "where the JSON report is written (empty: nowhere; the result is kept in the store either way)")
	return cmd
}

func writeReport(path string, rep *migrate.ValidationReport) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--report-file: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return fmt.Errorf("--report-file %s: %w", path, err)
	}
	return f.Close()
}

// migrateCmd is `obsplane migrate backfill|syncback|validate|status|cutover|rollback|complete|cleanup`.
func migrateCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "migrate", Short: "Move OpenChoreo's history between OpenSearch and the store, and check both agree"}
	cmd.AddCommand(migrateBackfillCmd(), migrateSyncbackCmd(), migrateValidateCmd(), migrateShadowWriteCmd(),
		migrateStatusCmd(), migrateCutoverCmd(), migrateRollbackCmd(), migrateCompleteCmd(), migrateCleanupCmd())
	return cmd
}

// actorOr is a, or $USER@host when empty.
func actorOr(a string) string {
	if a == "" {
		return state.DefaultActor()
	}
	return a
}
