// Package openchoreoprocessor is obsplane's enrichment processor: it turns
// Fluent Bit's kubernetes record and OpenChoreo's pod labels into OTel
// resource attributes (k8s.*, openchoreo.*), sets service.name from the
// component, moves the `log` field to the body and derives a severity from
// the line when the source gave none.
package openchoreoprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// Type is the processor's name in collector configs.
var Type = component.MustNewType("openchoreo")

// NewFactory returns the openchoreo processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(Type,
		func() component.Config { return createDefaultConfigStruct() },
		processor.WithLogs(createLogs, component.StabilityLevelBeta),
		processor.WithTraces(createTraces, component.StabilityLevelBeta),
		processor.WithMetrics(createMetrics, component.StabilityLevelBeta),
	)
}

var mutates = processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c := cfg.(*Config)
	return processorhelper.NewLogs(ctx, set, cfg, next,
		func(_ context.Context, ld plog.Logs) (plog.Logs, error) { return EnrichLogs(ld, c), nil },
		mutates)
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	return processorhelper.NewTraces(ctx, set, cfg, next,
		func(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
			for i := 0; i < td.ResourceSpans().Len(); i++ {
				EnrichResource(td.ResourceSpans().At(i).Resource().Attributes(), c)
			}
			return td, nil
		}, mutates)
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c := cfg.(*Config)
	return processorhelper.NewMetrics(ctx, set, cfg, next,
		func(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
			for i := 0; i < md.ResourceMetrics().Len(); i++ {
				EnrichResource(md.ResourceMetrics().At(i).Resource().Attributes(), c)
			}
			return md, nil
		}, mutates)
}
