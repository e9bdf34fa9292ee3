package router

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store/remote"
)

// drive advances the clock one CheckInterval at a time for up to d, feeding
// traffic before each check, and returns how long it ran until a check
// fired (and what fired), or d and nil.
func (h *harness) drive(t *testing.T, d time.Duration, traffic func(step int)) (time.Duration, []Firing) {
	t.Helper()
	ctx := ctxT(t)
	iv := h.r.cfg.Rollback.CheckInterval
	for step, el := 0, time.Duration(0); el < d; step++ {
		if traffic != nil {
			traffic(step)
		}
		h.r.Wait() // dual reads land before the check
		h.clock.Advance(iv)
		el += iv
		if f := h.r.Check(ctx); len(f) > 0 {
			return el, f
		}
	}
	return d, nil
}

// assertRolledBack checks the flag, the audit row and the metrics of one
// rollback by trigger from rollout from.
func (h *harness) assertRolledBack(t *testing.T, trigger string, from int) {
	t.Helper()
	if p := h.rollout(); p != 0 {
		t.Fatalf("rollout after %s = %d, want 0", trigger, p)
	}
	f, _ := h.fl.Get(flags.UseClickHouse)
	if f.UpdatedBy != RollbackActor {
		t.Errorf("flag updated by %q", f.UpdatedBy)
	}
	audit, err := h.fl.Audit(ctxT(t), flags.UseClickHouse, 1)
	if err != nil || len(audit) != 1 {
		t.Fatalf("audit: %v %v", audit, err)
	}
	a := audit[0]
	if a.Actor != RollbackActor || !strings.Contains(a.Reason, trigger+": ") ||
		!strings.Contains(a.OldValue, `"rolloutPercentage":`+strconv.Itoa(from)) || !strings.Contains(a.NewValue, `"rolloutPercentage":0`) {
		t.Errorf("audit row = %+v", a)
	}
	if n := h.metric(t, "obsplane_router_rollback_fired_total", map[string]string{"trigger": trigger}); n != 1 {
		t.Errorf("rollback_fired_total{%s} = %v", trigger, n)
	}
	if g := h.metric(t, "obsplane_router_rollout_percentage", map[string]string{"flag": flags.UseClickHouse}); g != 0 {
		t.Errorf("rollout gauge = %v", g)
	}
	// The persisted state says the same to another process.
	other, _ := NewFlags(st, h.r.cfg, nil, nil)
	if err := other.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if o, _ := other.Get(flags.UseClickHouse); o.RolloutPercentage != 0 {
		t.Errorf("stored rollout = %d", o.RolloutPercentage)
	}
}

const every = 15 * time.Second // DefaultConfig's CheckInterval

// chTraffic sends n reads through Do for a user on ClickHouse, the first
// fail of them failing.
func (h *harness) chTraffic(t *testing.T, user string, n, fail int) {
	ctx := ctxT(t)
	for i := range n {
		var err error
		if i < fail {
			err = storeErr
		}
		_, _ = h.r.Do(ctx, user, "logs.query", backend("ch", Result{}, err), backend("os", Result{}, nil))
	}
}

func TestRollbackErrorRate(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.setRollout(t, 50)
	u := userIn(50)
	// 10% of ClickHouse reads fail, 20 reads per check interval.
	el, fired := h.drive(t, 20*time.Minute, func(int) { h.chTraffic(t, u, 20, 2) })
	if len(fired) != 1 || fired[0].Trigger != TriggerErrorRate || fired[0].From != 50 {
		t.Fatalf("fired %+v after %s", fired, el)
	}
	// The condition first holds at the first check; it fires once it has
	// held for 5 minutes, not before.
	if el < 5*time.Minute || el > 5*time.Minute+2*every {
		t.Errorf("fired after %s, want just after 5m", el)
	}
	if !strings.Contains(fired[0].Reason, "10.0%") {
		t.Errorf("reason = %q", fired[0].Reason)
	}
	h.assertRolledBack(t, TriggerErrorRate, 50)
	// Now the user reads OpenSearch.
	if v, _ := h.r.Do(ctxT(t), u, "logs.query", backend("ch", Result{}, nil), backend("os", Result{}, nil)); v != "os" {
		t.Errorf("after rollback answered by %v", v)
	}
}

func TestRollbackErrorRateShortBurstDoesNotFire(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.setRollout(t, 50)
	u := userIn(50)
	// Four minutes of 50% errors, then healthy: never 5 minutes in a row.
	_, fired := h.drive(t, 20*time.Minute, func(step int) {
		if step < 16 {
			h.chTraffic(t, u, 20, 10)
		} else {
			h.chTraffic(t, u, 20, 0)
		}
	})
	if fired != nil || h.rollout() != 50 {
		t.Fatalf("a 4-minute burst fired %+v", fired)
	}
}

func TestRollbackLatency(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.setRollout(t, 20)
	traffic := func(factor float64) func(int) {
		return func(int) {
			for range 20 {
				h.r.Observe(OpenSearch, "logs.query", "primary", 10*time.Millisecond, nil)
				h.r.Observe(ClickHouse, "logs.query", "primary", time.Duration(factor*float64(10*time.Millisecond)), nil)
			}
		}
	}
	// 2.5x the baseline for half an hour: no rollback.
	if _, fired := h.drive(t, 30*time.Minute, traffic(2.5)); fired != nil {
		t.Fatalf("2.5x fired %+v", fired)
	}
	// 5x: fires once it has held for 10 minutes.
	el, fired := h.drive(t, 30*time.Minute, traffic(5))
	if len(fired) != 1 || fired[0].Trigger != TriggerLatency {
		t.Fatalf("5x fired %+v", fired)
	}
	if el < 10*time.Minute || el > 10*time.Minute+2*every {
		t.Errorf("fired after %s, want just after 10m", el)
	}
	h.assertRolledBack(t, TriggerLatency, 20)
}

func TestRollbackLatencyNeedsBaseline(t *testing.T) {
	// No OpenSearch reads and no configured baseline: nothing to compare.
	h := newHarness(t, nil, nil)
	h.setRollout(t, 20)
	slowCH := func(int) {
		for range 20 {
			h.r.Observe(ClickHouse, "logs.query", "primary", 5*time.Second, nil)
		}
	}
	if _, fired := h.drive(t, 30*time.Minute, slowCH); fired != nil {
		t.Fatalf("fired without a baseline: %+v", fired)
	}
	// A configured baseline stands in for the missing measurement.
	h2 := newHarness(t, func(c *Config) { c.Rollback.BaselineP95 = 500 * time.Millisecond }, nil)
	h2.setRollout(t, 20)
	_, fired := h2.drive(t, 30*time.Minute, func(int) {
		for range 20 {
			h2.r.Observe(ClickHouse, "logs.query", "primary", 5*time.Second, nil)
		}
	})
	if len(fired) != 1 || fired[0].Trigger != TriggerLatency {
		t.Fatalf("with BaselineP95: fired %+v", fired)
	}
}

// switchPinger pings one of two real stores: the embedded engine, or the
// real clickhouse-go client pointed at a port nothing listens on.
type switchPinger struct {
	down atomic.Bool
	dead Pinger
}

func (p *switchPinger) Ping(ctx context.Context) error {
	if p.down.Load() {
		return p.dead.Ping(ctx)
	}
	return st.Ping(ctx)
}

func unreachable(t *testing.T) Pinger {
	t.Helper()
	s, err := remote.Open(remote.Config{DSN: "clickhouse://127.0.0.1:1/otel?dial_timeout=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRollbackUnreachable(t *testing.T) {
	p := &switchPinger{dead: unreachable(t)}
	h := newHarness(t, nil, p)
	h.setRollout(t, 5)
	p.down.Store(true)
	// Two failures, a success (reset), then three in a row.
	for i, want := range []bool{false, false} {
		h.clock.Advance(every)
		if f := h.r.Check(ctxT(t)); (len(f) > 0) != want {
			t.Fatalf("check %d fired %+v", i, f)
		}
	}
	p.down.Store(false)
	h.clock.Advance(every)
	if f := h.r.Check(ctxT(t)); f != nil {
		t.Fatalf("healthy ping fired %+v", f)
	}
	if s := h.r.Status(); s.Figures.PingFailures != 0 {
		t.Fatalf("ping failures not reset: %d", s.Figures.PingFailures)
	}
	p.down.Store(true)
	var fired []Firing
	for i := range 3 {
		h.clock.Advance(every)
		fired = h.r.Check(ctxT(t))
		if i < 2 && fired != nil {
			t.Fatalf("fired after %d failures", i+1)
		}
	}
	if len(fired) != 1 || fired[0].Trigger != TriggerUnreachable || !strings.Contains(fired[0].Reason, "3 consecutive") {
		t.Fatalf("fired %+v", fired)
	}
	h.assertRolledBack(t, TriggerUnreachable, 5)

	// At 0% there is nothing to roll back: no firing, no audit row.
	for range 5 {
		h.clock.Advance(every)
		if f := h.r.Check(ctxT(t)); f != nil {
			t.Fatalf("fired at 0%%: %+v", f)
		}
	}
	if a, _ := h.fl.Audit(ctxT(t), flags.UseClickHouse, 10); len(a) != 2 {
		t.Errorf("audit rows = %d, want 2 (setup, rollback)", len(a))
	}
}

func TestRollbackInconsistency(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true; c.DualReadConcurrency = 64 }, nil)
	h.setRollout(t, 20)
	ctx := ctxT(t)
	same := Result{Total: 2, IDs: []string{"a", "b"}}
	reads := func(n, differ int) func(int) {
		return func(int) {
			for i := range n {
				sec := same
				if i < differ {
					sec = Result{Total: 2, IDs: []string{"b", "a"}}
				}
				_, _ = h.r.Do(ctx, userOut(20), "logs.query", backend("ch", sec, nil), backend("os", same, nil))
				if i%32 == 31 {
					h.r.Wait() // stay under the concurrency bound: none skipped
				}
			}
		}
	}
	// 0.5% differ: below the threshold, for the whole window and more.
	if _, fired := h.drive(t, 30*time.Minute, reads(200, 1)); fired != nil {
		t.Fatalf("0.5%% fired %+v", fired)
	}
	// 2% differ: fires once the window's share (which still holds the
	// 0.5% reads above) crosses 1%.
	el, fired := h.drive(t, 30*time.Minute, reads(100, 2))
	if len(fired) != 1 || fired[0].Trigger != TriggerInconsistency {
		t.Fatalf("2%% fired %+v", fired)
	}
	t.Logf("fired after %s: %s", el, fired[0].Reason)
	h.assertRolledBack(t, TriggerInconsistency, 20)
	// What was measured before the rollback is not held against the next
	// rollout.
	h.setRollout(t, 20)
	h.clock.Advance(every)
	if f := h.r.Check(ctx); f != nil {
		t.Fatalf("stale comparisons fired again: %+v", f)
	}
}

func TestNoRollbackOnHealthyTraffic(t *testing.T) {
	p := &switchPinger{dead: unreachable(t)}
	h := newHarness(t, func(c *Config) { c.DualRead = true; c.DualReadConcurrency = 64 }, p)
	h.setRollout(t, 50)
	ctx := ctxT(t)
	in, out := userIn(50), userOut(50)
	same := Result{Total: 1, IDs: []string{"x"}}
	el, fired := h.drive(t, 45*time.Minute, func(step int) {
		for i := range 100 {
			var err error
			if i == 0 && step%2 == 0 {
				err = storeErr // 0.5% of ClickHouse reads fail
			}
			_, _ = h.r.Do(ctx, in, "logs.query", backend("ch", same, err), backend("os", same, nil))
			_, _ = h.r.Do(ctx, out, "logs.query", backend("ch", same, nil), backend("os", same, nil))
			if i%16 == 15 {
				h.r.Wait()
			}
		}
		for range 20 {
			h.r.Observe(OpenSearch, "traces.get", "primary", 20*time.Millisecond, nil)
			h.r.Observe(ClickHouse, "traces.get", "primary", 40*time.Millisecond, nil) // 2x: fine
		}
	})
	if fired != nil {
		t.Fatalf("healthy traffic fired after %s: %+v", el, fired)
	}
	if h.rollout() != 50 {
		t.Fatalf("rollout = %d", h.rollout())
	}
	s := h.r.Status()
	if s.Figures.ClickHouseRequests == 0 || s.Figures.Comparisons == 0 || s.Figures.BaselineP95 == 0 {
		t.Errorf("status figures empty: %+v", s.Figures)
	}
	for _, tr := range []string{TriggerErrorRate, TriggerLatency, TriggerUnreachable, TriggerInconsistency} {
		if n := h.metric(t, "obsplane_router_rollback_fired_total", map[string]string{"trigger": tr}); n != 0 {
			t.Errorf("%s fired %v times", tr, n)
		}
	}
}

func TestRollbackDisabled(t *testing.T) {
	p := &switchPinger{dead: unreachable(t)}
	p.down.Store(true)
	h := newHarness(t, func(c *Config) { c.Rollback.Enabled = false }, p)
	h.setRollout(t, 30)
	if _, fired := h.drive(t, 5*time.Minute, nil); fired != nil || h.rollout() != 30 {
		t.Fatalf("disabled rollback fired %+v", fired)
	}
}
