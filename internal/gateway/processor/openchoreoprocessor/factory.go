// Package openchoreoprocessor is obsplane's enrichment processor: it turns
// Fluent Bit's kubernetes record and OpenChoreo's pod labels into OTel
// resource attributes (k8s.*, openchoreo.*), sets service.name from the
// component, moves the `log` field to the body and derives a severity from
// the line when the source gave none.
package openchoreoprocessor

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/zap"
)

// Type is the processor's name in collector configs.
var Type = component.MustNewType("openchoreo")

// Option configures the factory.
type Option func(*factoryOptions)

type factoryOptions struct {
	podLabels PodLabelSource
}

// WithPodLabelSource warms the metrics pipeline's pod label join from the
// store when the processor starts.
func WithPodLabelSource(src PodLabelSource) Option {
	return func(o *factoryOptions) { o.podLabels = src }
}

// NewFactory returns the openchoreo processor factory.
func NewFactory(opts ...Option) processor.Factory {
	var o factoryOptions
	for _, f := range opts {
		f(&o)
	}
	return processor.NewFactory(Type,
		func() component.Config { return createDefaultConfigStruct() },
		processor.WithLogs(createLogs, component.StabilityLevelBeta),
		processor.WithTraces(createTraces, component.StabilityLevelBeta),
		processor.WithMetrics(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
			return createMetrics(ctx, set, cfg, next, o.podLabels)
		}, component.StabilityLevelBeta),
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

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics, src PodLabelSource) (processor.Metrics, error) {
	c := cfg.(*Config)
	cache := newPodCache(c.PodLabelsTTL, c.MaxPods)
	warm := func(ctx context.Context, _ component.Host) error {
		if src == nil || c.PodLabelsWarmup == 0 {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		pods, err := src(ctx, time.Now().Add(-c.PodLabelsWarmup))
		if err != nil {
			// The join still learns from the next kube_pod_labels scrape.
			set.Logger.Warn("openchoreo: could not read stored pod labels; joining from the next kube_pod_labels scrape", zap.Error(err))
			return nil
		}
		now := time.Now()
		for _, p := range pods {
			cache.put(p.PodKey, derivedFromPromLabels(mapPairs(p.Labels)), now)
		}
		set.Logger.Info("openchoreo: pod labels loaded from the store", zap.Int("pods", cache.len()))
		return nil
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next,
		func(_ context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
			return enrichMetrics(md, cache, c, time.Now()), nil
		}, mutates, processorhelper.WithStart(warm))
}
