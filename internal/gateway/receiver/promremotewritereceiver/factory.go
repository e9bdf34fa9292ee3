// Package promremotewritereceiver receives Prometheus remote write 1.0
// (prometheus.WriteRequest, snappy-compressed protobuf): what Prometheus 2.x
// sends, and Prometheus 3.x and OpenChoreo's Prometheus agent by default.
// The contrib prometheusremotewrite receiver takes only remote write 2.0,
// which Debian's Prometheus 2.42 and the agent's default config cannot send.
//
// Each request is validated whole and passed down the pipeline before it
// is answered: 204 once the next consumer (the disk queue, in obsplane's
// pipeline) has it, 400 for a body that is not a valid WriteRequest (the
// sender drops it; nothing of it is kept), 415 for remote write 2.0 or a
// body that is not snappy, 503 when the pipeline refuses it for now (the
// sender retries).
package promremotewritereceiver

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// Type is the receiver's name in collector configs.
var Type = component.MustNewType("promremotewrite")

// NewFactory returns the receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(Type,
		func() component.Config { return createDefaultConfigStruct() },
		receiver.WithMetrics(createMetrics, component.StabilityLevelBeta))
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	return newReceiver(set, cfg.(*Config), next)
}
