package router

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/router/flags"
)

// Rollback triggers, the "trigger" label of obsplane_router_rollback_fired_total.
const (
	TriggerErrorRate     = "error_rate"
	TriggerLatency       = "latency"
	TriggerUnreachable   = "unreachable"
	TriggerInconsistency = "inconsistency"
)

// RollbackActor is the UpdatedBy and audit Actor of automatic rollbacks.
const RollbackActor = "obsplane-autorollback"

// Firing is one trigger that held at a check and rolled the rollout back.
type Firing struct {
	Trigger string    `json:"trigger"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	// From is the rollout percentage the rollback replaced.
	From int `json:"from"`
}

// rollbackState is what the triggers remember between checks.
type rollbackState struct {
	mu sync.Mutex
	// errSince and latSince are the first check of the current streak in
	// which the condition held; zero when it did not hold at the last check.
	errSince, latSince time.Time
	pingFails          int
	// resetAt is the last rollback: observations from before it are not
	// held against the next rollout.
	resetAt time.Time
	last    []Firing
	// Figures of the last check, for Status.
	lastCheck time.Time
	figures   Figures
}

// Figures are the measurements of the last check.
type Figures struct {
	ClickHouseRequests  uint64        `json:"clickhouseRequests"`
	ClickHouseErrorRate float64       `json:"clickhouseErrorRate"`
	ClickHouseP95       time.Duration `json:"clickhouseP95"`
	BaselineP95         time.Duration `json:"baselineP95"`
	Comparisons         uint64        `json:"comparisons"`
	Inconsistency       float64       `json:"inconsistency"`
	PingFailures        int           `json:"pingFailures"`
}

// Check evaluates every trigger once, at the router clock's now, and rolls
// the use_clickhouse rollout back to 0 when any holds and the rollout is
// above 0. It returns the triggers that fired. Run calls it every
// CheckInterval; tests call it directly with a ManualClock.
func (r *Router) Check(ctx context.Context) []Firing {
	cfg := r.cfg.Rollback
	// The ping runs before taking the lock, so Status never waits up to
	// PingTimeout behind it.
	var pingErr error
	if r.ping != nil {
		pctx, cancel := context.WithTimeout(ctx, cfg.PingTimeout)
		pingErr = r.ping.Ping(pctx)
		cancel()
	}
	r.rb.mu.Lock()
	defer r.rb.mu.Unlock()
	now := r.clock.Now()
	type hold struct{ trigger, reason string }
	var holds []hold
	var fig Figures

	// ClickHouse error rate above the threshold at every check for
	// ErrorRateFor.
	s := r.win.sum(now, cfg.EvalWindow, r.rb.resetAt)
	req, errs := s.requests[backendIndex(ClickHouse)], s.errors[backendIndex(ClickHouse)]
	fig.ClickHouseRequests = req
	if req > 0 {
		fig.ClickHouseErrorRate = float64(errs) / float64(req)
	}
	if req >= uint64(cfg.MinRequests) && fig.ClickHouseErrorRate > cfg.ErrorRate {
		if r.rb.errSince.IsZero() {
			r.rb.errSince = now
		}
		if held := now.Sub(r.rb.errSince); held >= cfg.ErrorRateFor {
			holds = append(holds, hold{TriggerErrorRate, fmt.Sprintf("ClickHouse error rate %.1f%% (%d of %d reads in the last %s) above %.1f%% for %s",
				100*fig.ClickHouseErrorRate, errs, req, cfg.EvalWindow, 100*cfg.ErrorRate, held)})
		}
	} else {
		r.rb.errSince = time.Time{}
	}

	// ClickHouse P95 above LatencyFactor x the OpenSearch baseline at every
	// check for LatencyFor. The baseline ignores resetAt: it measures
	// OpenSearch, which a rollback does not change.
	chP95, chN := s.p95(ClickHouse)
	base := r.win.sum(now, cfg.BaselineWindow, time.Time{})
	osP95, osN := base.p95(OpenSearch)
	if osN < uint64(cfg.MinRequests) {
		osP95 = cfg.BaselineP95 // zero when not configured: no baseline, no judgement
	}
	fig.ClickHouseP95, fig.BaselineP95 = chP95, osP95
	if chN >= uint64(cfg.MinRequests) && osP95 > 0 && float64(chP95) > cfg.LatencyFactor*float64(osP95) {
		if r.rb.latSince.IsZero() {
			r.rb.latSince = now
		}
		if held := now.Sub(r.rb.latSince); held >= cfg.LatencyFor {
			holds = append(holds, hold{TriggerLatency, fmt.Sprintf("ClickHouse P95 %s over the last %s above %gx the OpenSearch baseline P95 %s for %s",
				chP95, cfg.EvalWindow, cfg.LatencyFactor, osP95, held)})
		}
	} else {
		r.rb.latSince = time.Time{}
	}

	// ClickHouse unreachable: UnreachableChecks pings in a row failed.
	if r.ping != nil {
		err := pingErr
		if err != nil && ctx.Err() == nil {
			r.rb.pingFails++
			if r.rb.pingFails >= cfg.UnreachableChecks {
				holds = append(holds, hold{TriggerUnreachable, fmt.Sprintf("ClickHouse unreachable: %d consecutive pings failed, last: %v", r.rb.pingFails, err)})
			}
		} else if err == nil {
			r.rb.pingFails = 0
		}
	}
	fig.PingFailures = r.rb.pingFails

	// Dual-read inconsistency above the threshold over its window.
	ic := r.win.sum(now, cfg.InconsistencyWindow, r.rb.resetAt)
	fig.Comparisons = ic.compared
	if ic.compared > 0 {
		fig.Inconsistency = float64(ic.differed) / float64(ic.compared)
	}
	if ic.compared >= uint64(cfg.MinComparisons) && fig.Inconsistency > cfg.Inconsistency {
		holds = append(holds, hold{TriggerInconsistency, fmt.Sprintf("dual-read inconsistency %.2f%% (%d of %d comparisons in the last %s) above %.2f%%",
			100*fig.Inconsistency, ic.differed, ic.compared, cfg.InconsistencyWindow, 100*cfg.Inconsistency)})
	}
	r.rb.lastCheck, r.rb.figures = now, fig

	if len(holds) == 0 || !cfg.Enabled {
		return nil
	}
	cur, _ := r.flags.Get(flags.UseClickHouse)
	if cur.RolloutPercentage == 0 {
		// Nothing to roll back; the conditions stay visible in the
		// metrics and in Status.
		return nil
	}
	reasons := make([]string, len(holds))
	for i, h := range holds {
		reasons[i] = h.trigger + ": " + h.reason
	}
	reason := "automatic rollback: " + strings.Join(reasons, "; ")
	zero := 0
	if _, _, err := r.flags.Force(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: &zero}, RollbackActor, reason); err != nil {
		// Force has applied it in memory; only persistence is late.
		r.log.Error("router: rollback applied but not yet persisted", "err", err)
	}
	r.log.Error("router: use_clickhouse rolled back to 0%", "from", cur.RolloutPercentage, "reason", reason)
	if r.cfg.Backend == BackendClickStack {
		r.log.Warn("router: observer.telemetry.backend is clickstack, so the rollout flag does not route reads; set it to opensearch to move reads back")
	}
	fired := make([]Firing, len(holds))
	for i, h := range holds {
		fired[i] = Firing{Trigger: h.trigger, Reason: h.reason, At: now.UTC(), From: cur.RolloutPercentage}
		r.m.rollbackFired.WithLabelValues(h.trigger).Inc()
	}
	r.rb.last = append(r.rb.last, fired...)
	if n := len(r.rb.last); n > 20 {
		r.rb.last = r.rb.last[n-20:]
	}
	r.rb.resetAt = now
	r.rb.errSince, r.rb.latSince, r.rb.pingFails = time.Time{}, time.Time{}, 0
	r.updateGauges()
	return fired
}

// Run refreshes the flags every FlagRefresh and checks the rollback
// triggers every CheckInterval until ctx ends, then waits for the
// background reads in flight.
func (r *Router) Run(ctx context.Context) error {
	refresh := time.NewTicker(r.cfg.FlagRefresh)
	defer refresh.Stop()
	var checks <-chan time.Time
	if r.cfg.Rollback.Enabled {
		t := time.NewTicker(r.cfg.Rollback.CheckInterval)
		defer t.Stop()
		checks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			r.Wait()
			return nil
		case <-refresh.C:
			if err := r.flags.Refresh(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("router: flag refresh failed; using cached flags", "err", err, "pending", r.flags.Pending())
			}
			r.updateGauges()
		case <-checks:
			r.Check(ctx)
		}
	}
}

// Status is the router's state for operators.
type Status struct {
	Backend         string       `json:"backend"`
	DualRead        bool         `json:"dualRead"`
	Flag            flags.Flag   `json:"flag"`
	PendingWrites   int          `json:"pendingWrites"`
	RollbackEnabled bool         `json:"rollbackEnabled"`
	LastCheck       time.Time    `json:"lastCheck,omitzero"`
	Figures         Figures      `json:"figures"`
	ErrorRateSince  time.Time    `json:"errorRateHoldingSince,omitzero"`
	LatencySince    time.Time    `json:"latencyHoldingSince,omitzero"`
	Firings         []Firing     `json:"recentRollbacks"`
	Config          StatusConfig `json:"config"`
}

// StatusConfig is the rollback configuration as Status shows it.
type StatusConfig struct {
	CheckInterval       string  `json:"checkInterval"`
	EvalWindow          string  `json:"evalWindow"`
	ErrorRate           float64 `json:"errorRate"`
	ErrorRateFor        string  `json:"errorRateFor"`
	LatencyFactor       float64 `json:"latencyFactor"`
	LatencyFor          string  `json:"latencyFor"`
	UnreachableChecks   int     `json:"unreachableChecks"`
	Inconsistency       float64 `json:"inconsistency"`
	InconsistencyWindow string  `json:"inconsistencyWindow"`
}

// Status returns the current state.
func (r *Router) Status() Status {
	r.rb.mu.Lock()
	defer r.rb.mu.Unlock()
	f, _ := r.flags.Get(flags.UseClickHouse)
	c := r.cfg.Rollback
	return Status{
		Backend: r.cfg.Backend, DualRead: r.cfg.DualRead, Flag: f, PendingWrites: r.flags.Pending(),
		RollbackEnabled: c.Enabled, LastCheck: r.rb.lastCheck, Figures: r.rb.figures,
		ErrorRateSince: r.rb.errSince, LatencySince: r.rb.latSince,
		Firings: append([]Firing{}, r.rb.last...),
		Config: StatusConfig{
			CheckInterval: c.CheckInterval.String(), EvalWindow: c.EvalWindow.String(),
			ErrorRate: c.ErrorRate, ErrorRateFor: c.ErrorRateFor.String(),
			LatencyFactor: c.LatencyFactor, LatencyFor: c.LatencyFor.String(),
			UnreachableChecks: c.UnreachableChecks, Inconsistency: c.Inconsistency, InconsistencyWindow: c.InconsistencyWindow.String(),
		},
	}
}
