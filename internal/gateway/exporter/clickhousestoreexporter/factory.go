// Package clickhousestoreexporter writes logs, traces and metrics into
// obsplane's store (the embedded engine or a ClickHouse server) with the
// rows the contrib clickhouse exporter v0.161.0 writes, so HyperDX, Grafana's
// OTel mode and ClickStack queries read them unchanged. Each request becomes
// one columnar insert per table, with a content-derived dedup token, behind
// exporterhelper's (optionally persistent) queue and retry.
package clickhousestoreexporter

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.uber.org/zap"

	"github.com/openchoreo/obsplane/internal/store"
)

// Type is the exporter's name in collector configs.
var Type = component.MustNewType("clickhousestore")

// Option configures the factory.
type Option func(*factoryOptions)

type factoryOptions struct {
	reg prometheus.Registerer
	tel *Telemetry
}

// WithRegisterer registers the exporter's metrics with reg.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *factoryOptions) { o.reg = reg }
}

// WithTelemetry uses t for the exporter's metrics (tests read it).
func WithTelemetry(t *Telemetry) Option {
	return func(o *factoryOptions) { o.tel = t }
}

// NewFactory returns the exporter factory writing to st.
func NewFactory(st store.Store, opts ...Option) exporter.Factory {
	var o factoryOptions
	for _, f := range opts {
		f(&o)
	}
	if o.tel == nil {
		o.tel = NewTelemetry(o.reg)
	}
	newExp := func(set exporter.Settings, cfg component.Config, signal string) (*storeExporter, *Config, error) {
		if st == nil {
			return nil, nil, errors.New("clickhousestore exporter: no store (the gateway must be started with one)")
		}
		c := cfg.(*Config)
		if c.Endpoint != "" {
			set.Logger.Info("clickhousestore: 'endpoint' is ignored; writing to the process's store", zap.String("store", st.Kind()))
		}
		return &storeExporter{cfg: c, st: st, tel: o.tel, logger: set.Logger, signal: signal}, c, nil
	}
	helperOpts := func(e *storeExporter, c *Config) []exporterhelper.Option {
		return []exporterhelper.Option{
			exporterhelper.WithStart(e.start),
			exporterhelper.WithShutdown(e.shutdown),
			exporterhelper.WithTimeout(c.TimeoutConfig),
			exporterhelper.WithQueue(c.QueueConfig),
			exporterhelper.WithRetry(c.BackOffConfig),
			exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		}
	}
	return exporter.NewFactory(Type,
		func() component.Config { return createDefaultConfigStruct() },
		exporter.WithLogs(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			e, c, err := newExp(set, cfg, "logs")
			if err != nil {
				return nil, err
			}
			return exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, helperOpts(e, c)...)
		}, component.StabilityLevelBeta),
		exporter.WithTraces(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
			e, c, err := newExp(set, cfg, "traces")
			if err != nil {
				return nil, err
			}
			return exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, helperOpts(e, c)...)
		}, component.StabilityLevelBeta),
		exporter.WithMetrics(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
			e, c, err := newExp(set, cfg, "metrics")
			if err != nil {
				return nil, err
			}
			return exporterhelper.NewMetrics(ctx, set, cfg, e.pushMetrics, helperOpts(e, c)...)
		}, component.StabilityLevelBeta),
	)
}
