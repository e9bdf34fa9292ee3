package clickhousestoreexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config configures the clickhousestore exporter. The store itself (the
// embedded engine or a ClickHouse server) is not configured here: the
// factory is built around the process's one store.Store, so the gateway and
// the query API always read and write the same data.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// Database holds the tables. Default "otel".
	Database string `mapstructure:"database"`
	// LogsTableName, TracesTableName and MetricsTables name the tables, as
	// in the contrib clickhouse exporter (same keys, same defaults).
	LogsTableName   string             `mapstructure:"logs_table_name"`
	TracesTableName string             `mapstructure:"traces_table_name"`
	MetricsTables   MetricTablesConfig `mapstructure:"metrics_tables"`

	// Dedup gives every insert a token derived from the batch's content, so
	// a batch replayed from the persistent queue after a crash (written, but
	// not yet acknowledged to the queue) is skipped by the engine instead of
	// written twice. On by default.
	Dedup bool `mapstructure:"dedup"`

	// StateDir, when set (the gateway sets it beside its disk queue), holds
	// a marker per signal that is there while the exporter runs. Finding
	// it at start means the last run was killed: the queue then replays
	// the batches that were in flight, re-grouped so their tokens differ,
	// and for RecoveryWindow every insert also skips rows already stored
	// (store.Batch.SkipStored), so each acknowledged record is stored once.
	StateDir       string        `mapstructure:"state_dir"`
	RecoveryWindow time.Duration `mapstructure:"recovery_window"`

	// Endpoint and AsyncInsert are accepted so a config written for the
	// contrib clickhouse exporter (the reference config in
	// internal/gateway/testdata, for one) loads with
	// only the exporter's name changed. They have no effect: the connection
	// is the process's store (--clickhouse-dsn), and big synchronous batches
	// replace async inserts.
	Endpoint    string `mapstructure:"endpoint"`
	AsyncInsert bool   `mapstructure:"async_insert"`
}

// MetricTablesConfig names the five metric tables.
type MetricTablesConfig struct {
	Gauge                TableName `mapstructure:"gauge"`
	Sum                  TableName `mapstructure:"sum"`
	Summary              TableName `mapstructure:"summary"`
	Histogram            TableName `mapstructure:"histogram"`
	ExponentialHistogram TableName `mapstructure:"exponential_histogram"`
}

// TableName is one metric table's name.
type TableName struct {
	Name string `mapstructure:"name"`
}

// Defaults as the contrib exporter v0.161.0 has them.
const (
	defaultDatabase      = "otel"
	defaultLogsTable     = "otel_logs"
	defaultTracesTable   = "otel_traces"
	defaultGaugeTable    = "otel_metrics_gauge"
	defaultSumTable      = "otel_metrics_sum"
	defaultSummaryTable  = "otel_metrics_summary"
	defaultHistTable     = "otel_metrics_histogram"
	defaultExpHistTable  = "otel_metrics_exponential_histogram"
	defaultQueueSize     = 500
	defaultNumConsumers  = 4
	defaultInsertTimeout = time.Minute
)

func createDefaultConfigStruct() *Config {
	q := exporterhelper.NewDefaultQueueConfig()
	// Batches arrive big (the batch processor sends up to 100,000 records),
	// so a few consumers keep the engine busy without piling up inserts.
	q.NumConsumers = defaultNumConsumers
	q.QueueSize = defaultQueueSize
	// A full queue blocks the pipeline instead of dropping: the receivers
	// then answer their clients with retryable errors (back-pressure).
	q.BlockOnOverflow = true
	retry := configretry.NewDefaultBackOffConfig()
	// Retry for as long as it takes: giving up after the default five
	// minutes would drop acknowledged data during a longer store outage.
	retry.MaxElapsedTime = 0
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = defaultInsertTimeout
	return &Config{
		TimeoutConfig:   timeout,
		BackOffConfig:   retry,
		QueueConfig:     configoptional.Some(q),
		Database:        defaultDatabase,
		LogsTableName:   defaultLogsTable,
		TracesTableName: defaultTracesTable,
		MetricsTables: MetricTablesConfig{
			Gauge:                TableName{defaultGaugeTable},
			Sum:                  TableName{defaultSumTable},
			Summary:              TableName{defaultSummaryTable},
			Histogram:            TableName{defaultHistTable},
			ExponentialHistogram: TableName{defaultExpHistTable},
		},
		Dedup: true,
		// The replayed batches come first out of the queue when it holds
		// little; a backlog can take longer to reach them.
		RecoveryWindow: 10 * time.Minute,
		AsyncInsert:    true,
	}
}

// Validate checks the names (they end up, quoted, in INSERT statements).
func (c *Config) Validate() error {
	var errs []error
	check := func(what, name string) {
		if name == "" {
			errs = append(errs, fmt.Errorf("%s must not be empty", what))
			return
		}
		for _, r := range name {
			if r == 0 || r == '`' || r == '\\' || r == '\n' {
				errs = append(errs, fmt.Errorf("%s %q contains a character not allowed in a table name", what, name))
				return
			}
		}
	}
	check("database", c.Database)
	check("logs_table_name", c.LogsTableName)
	check("traces_table_name", c.TracesTableName)
	check("metrics_tables.gauge.name", c.MetricsTables.Gauge.Name)
	check("metrics_tables.sum.name", c.MetricsTables.Sum.Name)
	check("metrics_tables.summary.name", c.MetricsTables.Summary.Name)
	check("metrics_tables.histogram.name", c.MetricsTables.Histogram.Name)
	check("metrics_tables.exponential_histogram.name", c.MetricsTables.ExponentialHistogram.Name)
	if c.TimeoutConfig.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	return errors.Join(errs...)
}

// DefaultTables are the tables the exporter writes with its default
// config, the built-in pipeline's: what must exist before the gateway runs
// (migrate shadow-write checks them).
func DefaultTables() []string {
	return []string{defaultLogsTable, defaultTracesTable, defaultGaugeTable, defaultSumTable, defaultSummaryTable, defaultHistTable, defaultExpHistTable}
}
