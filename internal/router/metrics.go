package router

import "github.com/prometheus/client_golang/prometheus"

// metrics are the router's Prometheus series. Label values are bounded:
// backend and role are constants here, op is a constant of the calling
// handler (never user input), outcome, kind and trigger are constants here.
type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	dualRead      *prometheus.CounterVec
	mismatches    *prometheus.CounterVec
	rollbackFired *prometheus.CounterVec
	rollout       *prometheus.GaugeVec
	flagEnabled   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obsplane_router_requests_total",
			Help: "Reads routed, by backend, operation, role (primary answers the caller, secondary is a dual read) and outcome (ok, error, client_error, canceled, unsupported).",
		}, []string{"backend", "op", "role", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "obsplane_router_request_duration_seconds",
			Help:    "Latency of routed reads by backend, operation and role.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend", "op", "role"}),
		dualRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obsplane_router_dualread_total",
			Help: "Dual reads by operation and outcome: match, mismatch, error (either side failed), skipped (concurrency limit reached), incomparable (answers differ by design, not compared), unsupported (one backend cannot answer the read).",
		}, []string{"op", "outcome"}),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obsplane_router_dualread_mismatches_total",
			Help: "Dual-read differences by operation and kind: count (totals differ), ids (different rows), order (same rows, different order).",
		}, []string{"op", "kind"}),
		rollbackFired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "obsplane_router_rollback_fired_total",
			Help: "Automatic rollbacks of the use_clickhouse rollout to 0, by trigger: error_rate, latency, unreachable, inconsistency.",
		}, []string{"trigger"}),
		rollout: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "obsplane_router_rollout_percentage",
			Help: "Current rollout percentage of each flag.",
		}, []string{"flag"}),
		flagEnabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "obsplane_router_flag_enabled",
			Help: "1 when the flag is enabled.",
		}, []string{"flag"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.dualRead, m.mismatches, m.rollbackFired, m.rollout, m.flagEnabled} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every trigger's series exists from the start, so an alert on
	// increase() sees the first firing.
	for _, t := range []string{TriggerErrorRate, TriggerLatency, TriggerUnreachable, TriggerInconsistency} {
		m.rollbackFired.WithLabelValues(t)
	}
	return m, nil
}
