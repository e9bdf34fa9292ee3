// Package gateway is obsplane's ingestion gateway: an OpenTelemetry
// Collector distribution built from the collector's own framework, run
// in-process. Receivers: otlp (gRPC and HTTP) and fluentforward (Fluent
// Bit's forward output). Processors: memory_limiter, batch, resource and
// openchoreo (our enrichment). Exporters: clickhousestore (ours, writing
// through the process's store.Store) plus any the caller adds (the OpenSearch
// dual-write exporter). Extensions: file_storage (persistent queues) and
// health_check.
package gateway

import (
	"fmt"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/resourceprocessor"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/fluentforwardreceiver"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/clickhousestoreexporter"
	"github.com/openchoreo/obsplane/internal/gateway/processor/openchoreoprocessor"
	"github.com/openchoreo/obsplane/internal/store"
)

// ComponentOptions says what the distribution is built around.
type ComponentOptions struct {
	// Store receives everything the clickhousestore exporter writes.
	Store store.Store
	// Registerer gets the exporter's Prometheus metrics (nil: unregistered).
	Registerer prometheus.Registerer
	// Exporters are added to the built-in ones. This is the hook for the
	// OpenSearch dual-write exporter (type "opensearch"): its package
	// provides the factory and serve passes it here, so this package does
	// not depend on the OpenSearch client.
	Exporters []exporter.Factory
	// Processors and Receivers are added likewise.
	Processors []processor.Factory
	Receivers  []receiver.Factory
}

// Components returns the factories of obsplane's collector distribution.
func Components(o ComponentOptions) (otelcol.Factories, error) {
	var f otelcol.Factories
	var err error
	f.Receivers, err = otelcol.MakeFactoryMap(append([]receiver.Factory{
		otlpreceiver.NewFactory(),
		fluentforwardreceiver.NewFactory(),
	}, o.Receivers...)...)
	if err != nil {
		return f, fmt.Errorf("gateway receivers: %w", err)
	}
	f.Processors, err = otelcol.MakeFactoryMap(append([]processor.Factory{
		memorylimiterprocessor.NewFactory(),
		batchprocessor.NewFactory(),
		// resource is in the reference config (testdata/whitepaper-3.2.yaml,
		// copying pod labels into resource attributes), so it loads as
		// written.
		resourceprocessor.NewFactory(),
		openchoreoprocessor.NewFactory(),
	}, o.Processors...)...)
	if err != nil {
		return f, fmt.Errorf("gateway processors: %w", err)
	}
	f.Exporters, err = otelcol.MakeFactoryMap(append([]exporter.Factory{
		clickhousestoreexporter.NewFactory(o.Store, clickhousestoreexporter.WithRegisterer(o.Registerer)),
	}, o.Exporters...)...)
	if err != nil {
		return f, fmt.Errorf("gateway exporters: %w", err)
	}
	f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		filestorage.NewFactory(),
		healthcheckextension.NewFactory(),
	)
	if err != nil {
		return f, fmt.Errorf("gateway extensions: %w", err)
	}
	f.Telemetry = otelconftelemetry.NewFactory()
	return f, nil
}

// Types of the components the default pipeline uses, for callers that
// render or check configs.
var (
	TypeClickHouseStore = clickhousestoreexporter.Type
	TypeOpenChoreo      = openchoreoprocessor.Type
	TypeOpenSearch      = component.MustNewType("opensearch")
)
