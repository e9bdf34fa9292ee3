package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.uber.org/zap"

	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
	"github.com/openchoreo/obsplane/internal/store"
)

// Settings is what Run needs.
type Settings struct {
	// Store is the process's store; the clickhousestore exporter writes to
	// it. Required.
	Store store.Store
	// ConfigYAML is a whole collector config. When empty, ConfigFile is
	// read; when both are empty, Run fails (render one with DefaultConfig).
	// ${env:VAR} references are expanded in either.
	ConfigYAML string
	ConfigFile string
	// Registerer receives the exporter's Prometheus metrics.
	Registerer prometheus.Registerer
	// Exporters adds exporter factories (the OpenSearch dual-write one).
	Exporters []exporter.Factory
	// PodLabels warms the openchoreo processor's kube_pod_labels join.
	PodLabels openchoreoprocessor.PodLabelSource
	// Version is reported as the collector's build version.
	Version string
	// LoggingOptions are applied to the collector's zap logger (e.g. to
	// route it into obsplane's log handler).
	LoggingOptions []zap.Option
	// Ready, when set, is called once the collector runs: receivers
	// listen and exporters are started.
	Ready func()
}

// New builds the collector without starting it.
func New(s Settings) (*otelcol.Collector, error) {
	if s.Store == nil {
		return nil, errors.New("gateway: no store")
	}
	var uri string
	switch {
	case s.ConfigYAML != "":
		uri = "yaml:" + s.ConfigYAML
	case s.ConfigFile != "":
		uri = "file:" + s.ConfigFile
	default:
		return nil, errors.New("gateway: no config (ConfigYAML or ConfigFile)")
	}
	version := s.Version
	if version == "" {
		version = "dev"
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "obsplane", Description: "obsplane gateway", Version: version},
		Factories: func() (otelcol.Factories, error) {
			return Components(ComponentOptions{Store: s.Store, Registerer: s.Registerer, Exporters: s.Exporters, PodLabels: s.PodLabels})
		},
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs:              []string{uri},
			ProviderFactories: []confmap.ProviderFactory{yamlprovider.NewFactory(), fileprovider.NewFactory(), envprovider.NewFactory()},
			DefaultScheme:     "env",
		}},
		// serve owns SIGTERM/SIGINT and cancels ctx; the collector must not
		// catch them and stop on its own.
		DisableGracefulShutdown: true,
		LoggingOptions:          s.LoggingOptions,
		// gRPC's global logger belongs to the whole process.
		SkipSettingGRPCLogger: true,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: build collector: %w", err)
	}
	return col, nil
}

// Run runs the gateway until ctx is done, then shuts it down: receivers
// stop accepting, the batch processor flushes, and exporters drain their
// in-memory queues (a persistent queue keeps what it holds for the next
// start). A config that does not load or a listener that cannot bind is an
// error; so is the collector stopping by itself while ctx is live.
func Run(ctx context.Context, s Settings) error {
	col, err := New(s)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- col.Run(ctx) }()
	if s.Ready != nil {
		go func() {
			if waitRunning(ctx, col) {
				s.Ready()
			}
		}()
	}
	err = <-done
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if ctx.Err() == nil {
		return errors.New("gateway: the collector stopped by itself (see its log: a receiver failed or a component reported a fatal error)")
	}
	return nil
}
