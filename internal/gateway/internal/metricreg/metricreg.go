// Package metricreg registers the gateway components' Prometheus metrics.
package metricreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterOrReuse registers c with reg, or returns the collector of the same
// description already there: the collector builds a component once per
// pipeline and signal, and every instance must count into one series.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
