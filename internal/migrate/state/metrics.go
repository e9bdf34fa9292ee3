package state

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/store"
)

var (
	phaseDesc = prometheus.NewDesc("obsplane_migration_phase",
		"The migration's phase: 1 for the current one, 0 for the others.", []string{"phase"}, nil)
	driftDesc = prometheus.NewDesc("obsplane_migration_validation_drift_percent",
		"Largest drift of the newest validation run, per namespace (namespace=\"\" for the run as a whole).", []string{"namespace"}, nil)
	rolloutDesc = prometheus.NewDesc("obsplane_migration_rollout_percent",
		"Share of users whose reads ClickHouse answers (use_clickhouse; 0 when disabled).", nil, nil)
	transitionsDesc = prometheus.NewDesc("obsplane_migration_transitions_total",
		"Migration transitions by origin, target and how they ended (started: still pending).", []string{"from", "to", "status"}, nil)
	pendingDesc = prometheus.NewDesc("obsplane_migration_pending",
		"1 while a transition is started and not ended (running, or its process died).", nil, nil)
	upDesc = prometheus.NewDesc("obsplane_migration_status_up",
		"1 when the migration state could be read from the store at this scrape.", nil, nil)
)

// collector reads the state from the store at every scrape, so every
// obsplane process reports the same, current values.
type collector struct {
	m       *Machine
	timeout time.Duration
}

// NewCollector exports the machine's state as metrics, read at scrape time
// within timeout (default 10s). A store that cannot be read gives
// obsplane_migration_status_up 0 rather than a failed scrape.
func NewCollector(m *Machine, timeout time.Duration) prometheus.Collector {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &collector{m: m, timeout: timeout}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{phaseDesc, driftDesc, rolloutDesc, transitionsDesc, pendingDesc, upDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.m.Status(ctx)
	var counts []transitionCount
	if err == nil {
		counts, err = c.m.transitionCounts(ctx)
	}
	if err != nil {
		c.m.opts.Log.Warn("migration metrics: cannot read the state", "err", err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for _, p := range Phases {
		v := 0.0
		if p == s.Phase {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(phaseDesc, prometheus.GaugeValue, v, string(p))
	}
	if len(s.Validations) > 0 {
		v := s.Validations[0]
		ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.GaugeValue, v.DriftPercent, "")
		for ns, d := range v.PerNamespace {
			ch <- prometheus.MustNewConstMetric(driftDesc, prometheus.GaugeValue, d, ns)
		}
	}
	ch <- prometheus.MustNewConstMetric(rolloutDesc, prometheus.GaugeValue, float64(s.RolloutPercent))
	pending := 0.0
	if s.Pending != nil {
		pending = 1
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, pending)
	for _, t := range counts {
		ch <- prometheus.MustNewConstMetric(transitionsDesc, prometheus.CounterValue, float64(t.N), t.From, t.To, t.Status)
	}
}

type transitionCount struct {
	From   string `json:"FromPhase"`
	To     string `json:"ToPhase"`
	Status string `json:"status"`
	N      uint64 `json:"n"`
}

// transitionCounts counts every transition by how it ended, over the whole
// table (the audit Status returns is bounded).
func (m *Machine) transitionCounts(ctx context.Context) ([]transitionCount, error) {
	return store.ScanAll[transitionCount](ctx, m.st, `SELECT FromPhase, ToPhase, status, count() AS n FROM (
		SELECT Seq, argMinIf(FromPhase, At, Status = 'started') AS FromPhase, argMinIf(ToPhase, At, Status = 'started') AS ToPhase,
			if(countIf(Status != 'started') > 0, argMaxIf(Status, At, Status != 'started'), 'started') AS status
		FROM `+m.table("obsplane_migration_transitions")+` GROUP BY Seq)
		GROUP BY FromPhase, ToPhase, status ORDER BY FromPhase, ToPhase, status`, nil)
}
