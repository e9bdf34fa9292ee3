package clickhousestoreexporter

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/gateway/internal/metricreg"
)

// Telemetry is the exporter's own Prometheus metrics. They are
// client_golang metrics (not the collector's internal telemetry) so that
// obsplane's /metrics shows them next to the query side's, without running
// the collector's separate telemetry endpoint.
type Telemetry struct {
	Rows    *prometheus.CounterVec   // rows acknowledged by the store, per table
	Batches *prometheus.CounterVec   // inserts, per table and result (ok|retryable|permanent)
	Latency *prometheus.HistogramVec // insert latency, per table
	Skipped *prometheus.CounterVec   // records not written because they cannot be (per signal, reason)
	Payload *prometheus.CounterVec   // uncompressed batch bytes hashed for dedup, per signal
}

// NewTelemetry creates the metrics and registers them with reg (nil: not
// registered, e.g. in tests that only read them). Registering the same
// metrics twice (a second gateway in one process) reuses the first ones.
func NewTelemetry(reg prometheus.Registerer) *Telemetry {
	t := &Telemetry{
		Rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "store_rows_written_total",
			Help: "Rows the store acknowledged, by table.",
		}, []string{"table"}),
		Batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "store_inserts_total",
			Help: "Insert attempts, by table and result: ok, retryable (will be retried) or permanent (dropped).",
		}, []string{"table", "result"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "store_insert_duration_seconds",
			Help:    "Time to insert one batch into the store, by table.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"table"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "store_items_skipped_total",
			Help: "Telemetry items not written because they cannot be, by signal and reason.",
		}, []string{"signal", "reason"}),
		Payload: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "store_payload_bytes_total",
			Help: "Serialized size of the telemetry handed to the store, by signal.",
		}, []string{"signal"}),
	}
	if reg != nil {
		t.Rows = metricreg.RegisterOrReuse(reg, t.Rows)
		t.Batches = metricreg.RegisterOrReuse(reg, t.Batches)
		t.Latency = metricreg.RegisterOrReuse(reg, t.Latency)
		t.Skipped = metricreg.RegisterOrReuse(reg, t.Skipped)
		t.Payload = metricreg.RegisterOrReuse(reg, t.Payload)
	}
	return t
}
