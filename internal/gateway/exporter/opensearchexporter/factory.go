// Package opensearchexporter is the gateway's dual-write exporter: during a
// migration (migration.shadowWrite.enabled) it writes every log record,
// besides ClickHouse, into OpenSearch as the document OpenChoreo's Fluent Bit
// would have written (container-logs-YYYY-MM-DD, Replace_Dots labels), so
// the unmodified Observer keeps reading OpenSearch while ClickHouse fills.
//
// It has its own sending queue (persistent when sending_queue.storage names
// a file_storage extension) and retry, never blocks and never fails the
// pipeline: an OpenSearch outage delays the shadow copy, never the
// ClickHouse one. Documents get content-derived ids, so a batch retried
// after a lost answer or a crash is not stored twice.
package opensearchexporter

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"
)

// Type is the exporter's name in collector configs ("opensearch", as in the
// reference config internal/gateway/testdata/whitepaper-3.2.yaml and
// gateway.TypeOpenSearch).
var Type = component.MustNewType("opensearch")

// Option configures the factory.
type Option func(*factoryOptions)

type factoryOptions struct {
	reg  prometheus.Registerer
	tel  *Telemetry
	gate func() bool
}

// WithGate makes dual write switchable at run time: before a batch enters
// the sending queue, gate is asked, and when it answers false the batch is
// not queued (counted as outcome "off"), so turning it off costs no restart
// and the ClickHouse path never notices. Batches queued while it was on
// still drain. serve passes the shadow_write flag here.
func WithGate(gate func() bool) Option {
	return func(o *factoryOptions) { o.gate = gate }
}

// WithRegisterer registers the exporter's metrics with reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *factoryOptions) { o.reg = reg }
}

// WithTelemetry uses t for the exporter's metrics (tests read it).
func WithTelemetry(t *Telemetry) Option {
	return func(o *factoryOptions) { o.tel = t }
}

// NewFactory returns the factory of the dual-write exporter (logs and traces).
func NewFactory(opts ...Option) exporter.Factory {
	var o factoryOptions
	for _, f := range opts {
		f(&o)
	}
	if o.tel == nil {
		o.tel = NewTelemetry(o.reg)
	}
	return exporter.NewFactory(Type,
		func() component.Config { return createDefaultConfigStruct() },
		exporter.WithLogs(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			return createLogs(ctx, set, cfg.(*Config), o.tel, o.gate)
		}, component.StabilityLevelBeta),
		exporter.WithTraces(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
			return createTraces(ctx, set, cfg.(*Config), o.tel, o.gate)
		}, component.StabilityLevelBeta),
	)
}

// Shadow write off: accept and discard, with no connection and no queue, so
// listing the exporter costs nothing until it is enabled.
func disabledOptions(extra ...exporterhelper.Option) []exporterhelper.Option {
	return append([]exporterhelper.Option{exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false})}, extra...)
}

// options are an enabled exporter's: its own queue (never blocking the
// pipeline, see Config.Validate), retries and time-out.
func options(e *osExporter, c *Config) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		exporterhelper.WithTimeout(c.TimeoutConfig),
		exporterhelper.WithQueue(c.QueueConfig),
		exporterhelper.WithRetry(c.BackOffConfig),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	}
}

func createLogs(ctx context.Context, set exporter.Settings, c *Config, tel *Telemetry, gate func() bool) (exporter.Logs, error) {
	if !c.Enabled {
		return exporterhelper.NewLogs(ctx, set, c, func(context.Context, plog.Logs) error { return nil },
			disabledOptions(exporterhelper.WithStart(func(context.Context, component.Host) error {
				set.Logger.Info("OpenSearch dual write is disabled (migration.shadowWrite.enabled=false); logs and traces go to ClickHouse only")
				return nil
			}))...)
	}
	e, err := newExporter(c, tel, set.Logger)
	if err != nil {
		return nil, err
	}
	set.Logger.Info("OpenSearch dual write of logs is enabled", zap.String("endpoint", e.client.URL), zap.String("index", c.Index+"-"+c.IndexDateFormat),
		zap.Bool("gated", gate != nil))
	inner, err := exporterhelper.NewLogs(ctx, set, c, e.pushLogs, options(e, c)...)
	if err != nil {
		return nil, err
	}
	return &trackedLogs{Logs: inner, tr: e.tr, tel: tel, logger: set.Logger, gate: gate}, nil
}

func createTraces(ctx context.Context, set exporter.Settings, c *Config, tel *Telemetry, gate func() bool) (exporter.Traces, error) {
	if !c.Enabled {
		return exporterhelper.NewTraces(ctx, set, c, func(context.Context, ptrace.Traces) error { return nil }, disabledOptions()...)
	}
	e, err := newExporter(c, tel, set.Logger)
	if err != nil {
		return nil, err
	}
	set.Logger.Info("OpenSearch dual write of traces is enabled", zap.String("endpoint", e.client.URL), zap.String("index", c.TracesIndex+"-"+c.TracesIndexDateFormat),
		zap.Bool("gated", gate != nil))
	inner, err := exporterhelper.NewTraces(ctx, set, c, e.pushTraces, options(e, c)...)
	if err != nil {
		return nil, err
	}
	return &trackedTraces{Traces: inner, tr: e.tr, tel: tel, logger: set.Logger, gate: gate}, nil
}
