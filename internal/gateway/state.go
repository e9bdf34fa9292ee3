package gateway

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/otelcol"
)

// waitRunning polls the collector's state until it runs (true) or ctx ends
// or Run returned (false). The collector has no start notification.
func waitRunning(ctx context.Context, col *otelcol.Collector) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		switch col.GetState() {
		case otelcol.StateRunning:
			return true
		case otelcol.StateClosing, otelcol.StateClosed:
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
