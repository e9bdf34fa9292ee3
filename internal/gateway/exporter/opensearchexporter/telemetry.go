package opensearchexporter

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/gateway/internal/metricreg"
)

// Telemetry is the exporter's Prometheus metrics (client_golang, so they
// appear on obsplane's /metrics beside the ClickHouse exporter's).
type Telemetry struct {
	// Docs counts log records by outcome: created, existing (a replay the
	// index already had), failed (rejected for good: mapping errors),
	// dropped (the queue was full or unusable), off (the gate kept them
	// out: shadow_write off).
	Docs *prometheus.CounterVec
	// Requests counts pushes by result: ok, retryable, permanent.
	Requests *prometheus.CounterVec

	lag *lagCollector
}

// NewTelemetry creates the metrics and registers them with reg (nil: not
// registered). A second registration reuses the first metrics, so two
// exporters in one process share them (lag is the worst of the two).
func NewTelemetry(reg prometheus.Registerer) *Telemetry {
	t := &Telemetry{
		Docs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "dualwrite_records_total",
			Help: "Log records handled by the OpenSearch dual-write exporter, by outcome: created, existing (already indexed, a replay), failed (rejected by OpenSearch for good), dropped (queue full), off (dual write switched off by the shadow_write flag; not queued).",
		}, []string{"outcome"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "obsplane", Subsystem: "gateway", Name: "dualwrite_pushes_total",
			Help: "Pushes of a queued batch to OpenSearch, by result: ok, retryable (will be retried), permanent.",
		}, []string{"result"}),
		lag: newLagCollector(),
	}
	if reg != nil {
		t.Docs = metricreg.RegisterOrReuse(reg, t.Docs)
		t.Requests = metricreg.RegisterOrReuse(reg, t.Requests)
		t.lag = metricreg.RegisterOrReuse(reg, t.lag)
	}
	return t
}

// lagTracker follows the records one exporter accepted and OpenSearch has
// not yet acknowledged, in arrival order. The queue hands records to the
// pushes in that order (FIFO; a few consumers make it near-FIFO), so
// acknowledging n records retires the n oldest, and the oldest remaining
// one's arrival time gives the lag. Records queued on disk before a restart
// are not known to the new process; they are counted as they are written,
// so the lag is underestimated until that backlog drains.
type lagTracker struct {
	mu      sync.Mutex
	entries []*lagEntry
	pending int
	now     func() time.Time
}

type lagEntry struct {
	at time.Time
	n  int
}

func (t *lagTracker) add(n int) *lagEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := &lagEntry{at: t.now(), n: n}
	t.entries = append(t.entries, e)
	t.pending += n
	return e
}

// cancel forgets an entry the queue refused.
func (t *lagTracker) cancel(e *lagEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending -= e.n
	e.n = 0
	t.trim()
}

// ack retires the n oldest records.
func (t *lagTracker) ack(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for n > 0 && len(t.entries) > 0 {
		e := t.entries[0]
		d := min(n, e.n)
		e.n -= d
		t.pending -= d
		n -= d
		t.trim()
	}
}

func (t *lagTracker) trim() {
	for len(t.entries) > 0 && t.entries[0].n == 0 {
		t.entries[0] = nil
		t.entries = t.entries[1:]
	}
}

// state returns the lag (zero when nothing waits) and the pending count.
func (t *lagTracker) state() (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) == 0 {
		return 0, t.pending
	}
	return t.now().Sub(t.entries[0].at), t.pending
}

// lagCollector reports the trackers of the live exporters at scrape time.
type lagCollector struct {
	mu       sync.Mutex
	trackers map[*lagTracker]struct{}
	lagDesc  *prometheus.Desc
	pendDesc *prometheus.Desc
}

func newLagCollector() *lagCollector {
	return &lagCollector{
		trackers: map[*lagTracker]struct{}{},
		lagDesc: prometheus.NewDesc("obsplane_gateway_dualwrite_lag_seconds",
			"Dual-write lag: now minus the arrival time of the oldest log record not yet acknowledged by OpenSearch (0 when none waits).", nil, nil),
		pendDesc: prometheus.NewDesc("obsplane_gateway_dualwrite_pending_records",
			"Log records accepted by the dual-write exporter and not yet acknowledged by OpenSearch (this process's arrivals).", nil, nil),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lagDesc; ch <- c.pendDesc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	lag, pending := c.state()
	ch <- prometheus.MustNewConstMetric(c.lagDesc, prometheus.GaugeValue, lag.Seconds())
	ch <- prometheus.MustNewConstMetric(c.pendDesc, prometheus.GaugeValue, float64(pending))
}

// state is the worst lag and the total pending over the live exporters.
func (c *lagCollector) state() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var worst time.Duration
	total := 0
	for t := range c.trackers {
		l, p := t.state()
		worst = max(worst, l)
		total += p
	}
	return worst, total
}

func (c *lagCollector) track(t *lagTracker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trackers[t] = struct{}{}
}

func (c *lagCollector) untrack(t *lagTracker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.trackers, t)
}

// Lag returns the current dual-write lag and pending record count (tests
// and status output read it without scraping).
func (t *Telemetry) Lag() (time.Duration, int) { return t.lag.state() }
