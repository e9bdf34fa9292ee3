package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// st is the one embedded engine of this test binary; each test that stores
// flags gets a database of its own in it.
var st *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

var dbSeq atomic.Int64

func freshDB(t testing.TB) string {
	t.Helper()
	db := fmt.Sprintf("router_test_%d", dbSeq.Add(1))
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: db}); err != nil {
		t.Fatalf("schema.Apply(%s): %v", db, err)
	}
	return db
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// harness is a router over a fresh database with a manual clock.
type harness struct {
	r     *Router
	fl    *flags.Service
	clock *ManualClock
	reg   *prometheus.Registry
	db    string
}

func newHarness(t testing.TB, mod func(*Config), pinger Pinger) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Database = freshDB(t)
	if mod != nil {
		mod(&cfg)
	}
	clock := NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fl, err := NewFlags(st, cfg, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	r, err := New(Options{Config: cfg, Flags: fl, Pinger: pinger, Registerer: reg, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Wait)
	return &harness{r: r, fl: fl, clock: clock, reg: reg, db: cfg.Database}
}

func (h *harness) setRollout(t *testing.T, p int) {
	t.Helper()
	if _, _, err := h.fl.Update(ctxT(t), flags.UseClickHouse, flags.Change{RolloutPercentage: &p}, "test", "setup"); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) rollout() int {
	f, _ := h.fl.Get(flags.UseClickHouse)
	return f.RolloutPercentage
}

// metric returns the value of the counter or gauge name with the given
// labels, 0 when absent.
func (h *harness) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// userIn returns a user whose bucket is below p (on ClickHouse at p%), and
// userOut one at or above it.
func userIn(p int) string {
	for i := 0; ; i++ {
		u := fmt.Sprint("in-", i)
		if flags.Bucket(u, flags.UseClickHouse) < p {
			return u
		}
	}
}

func userOut(p int) string {
	for i := 0; ; i++ {
		u := fmt.Sprint("out-", i)
		if flags.Bucket(u, flags.UseClickHouse) >= p {
			return u
		}
	}
}

// backend returns a Func answering with the backend's name and digest.
func backend(name string, res Result, err error) Func {
	return func(context.Context) (any, Result, error) { return name, res, err }
}

func TestDoRoutesByRollout(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := ctxT(t)
	ch, os := backend("ch", Result{}, nil), backend("os", Result{}, nil)
	u := userIn(20)
	if v, _ := h.r.Do(ctx, u, "logs.query", ch, os); v != "os" {
		t.Fatalf("at 0%% user answered by %v, want os", v)
	}
	h.setRollout(t, 20)
	if v, _ := h.r.Do(ctx, u, "logs.query", ch, os); v != "ch" {
		t.Fatalf("user in bucket %d at 20%% answered by %v, want ch", flags.Bucket(u, flags.UseClickHouse), v)
	}
	if v, _ := h.r.Do(ctx, userOut(20), "logs.query", ch, os); v != "os" {
		t.Fatalf("user outside 20%% answered by %v, want os", v)
	}
	// Disabled flag: nobody on ClickHouse.
	off := false
	if _, _, err := h.fl.Update(ctx, flags.UseClickHouse, flags.Change{Enabled: &off}, "test", ""); err != nil {
		t.Fatal(err)
	}
	if v, _ := h.r.Do(ctx, u, "logs.query", ch, os); v != "os" {
		t.Fatalf("disabled flag: answered by %v, want os", v)
	}
	// No OpenSearch configured: ClickHouse answers.
	if v, _ := h.r.Do(ctx, u, "logs.query", ch, nil); v != "ch" {
		t.Fatalf("without OpenSearch answered by %v", v)
	}
	// A nil router answers from ClickHouse.
	var nilR *Router
	if v, err := nilR.Do(ctx, u, "logs.query", ch, os); v != "ch" || err != nil {
		t.Fatalf("nil router: %v %v", v, err)
	}
	// Requests are counted by backend, op, role and outcome.
	if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"backend": "opensearch", "op": "logs.query", "role": "primary", "outcome": "ok"}); n != 3 {
		t.Errorf("opensearch primary ok = %v, want 3", n)
	}

	// Cut over: ClickHouse for everyone, whatever the flag says.
	h2 := newHarness(t, func(c *Config) { c.Backend = BackendClickStack }, nil)
	if v, _ := h2.r.Do(ctx, userOut(1), "logs.query", ch, os); v != "ch" {
		t.Fatalf("clickstack backend answered by %v", v)
	}
}

// TestRolloutMovesUsersOneWay checks the routing decision itself (not only
// the bucket function) over 100,000 users at the plan's steps (docs/DESIGN.md).
func TestRolloutMovesUsersOneWay(t *testing.T) {
	h := newHarness(t, nil, nil)
	const n = 100000
	onCH := make([]bool, n)
	for _, p := range []int{5, 20, 50, 100} {
		h.setRollout(t, p)
		in := 0
		for i := range n {
			now := h.r.Primary(fmt.Sprint("user-", i)) == ClickHouse
			if onCH[i] && !now {
				t.Fatalf("user-%d moved back to OpenSearch at %d%%", i, p)
			}
			onCH[i] = now
			if now {
				in++
			}
		}
		if share := 100 * float64(in) / n; share < float64(p)-1 || share > float64(p)+1 {
			t.Errorf("at %d%%: %.2f%% on ClickHouse", p, share)
		}
	}
}

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b Result
		want []string
	}{
		{Result{Total: 2, IDs: []string{"a", "b"}}, Result{Total: 2, IDs: []string{"a", "b"}}, nil},
		{Result{Total: 3, IDs: []string{"a", "b"}}, Result{Total: 2, IDs: []string{"a", "b"}}, []string{KindCount}},
		{Result{Total: 2, IDs: []string{"a", "b"}}, Result{Total: 2, IDs: []string{"a", "c"}}, []string{KindIDs}},
		{Result{Total: 2, IDs: []string{"a", "b"}}, Result{Total: 2, IDs: []string{"b", "a"}}, []string{KindOrder}},
		{Result{Total: 2, IDs: []string{"a", "a"}}, Result{Total: 2, IDs: []string{"a", "b"}}, []string{KindIDs}},
		{Result{Total: 5, IDs: []string{"a"}}, Result{Total: 4, IDs: []string{"a", "b"}}, []string{KindCount, KindIDs}},
		{Result{Total: 0, IDs: nil}, Result{Total: 0, IDs: []string{}}, nil},
	} {
		got, detail := Compare(c.a, c.b)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("Compare(%v, %v) = %v (%s), want %v", c.a, c.b, got, detail, c.want)
		}
		if len(got) > 0 && detail == "" {
			t.Errorf("Compare(%v, %v): no detail", c.a, c.b)
		}
	}
}

func TestDualReadMismatchesRecorded(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true }, nil)
	ctx := ctxT(t)
	primary := Result{Total: 3, IDs: []string{"l1", "l2", "l3"}}
	cases := []struct {
		op   string
		sec  Result
		kind string
	}{
		{"logs.query", Result{Total: 3, IDs: []string{"l1", "l2", "l3"}}, ""},
		{"logs.count", Result{Total: 4, IDs: []string{"l1", "l2", "l3"}}, KindCount},
		{"traces.search", Result{Total: 3, IDs: []string{"l1", "l2", "x9"}}, KindIDs},
		{"logs.tail", Result{Total: 3, IDs: []string{"l1", "l3", "l2"}}, KindOrder},
	}
	for _, c := range cases {
		// At 0% the user reads OpenSearch, ClickHouse is the shadow.
		v, err := h.r.Do(ctx, "dev-1", c.op, backend("ch", c.sec, nil), backend("os", primary, nil))
		if v != "os" || err != nil {
			t.Fatalf("%s: answered %v, %v", c.op, v, err)
		}
		h.r.Wait() // one at a time, so the samples' order is known
	}
	ms := h.r.Mismatches("", 0)
	if len(ms) != 3 {
		t.Fatalf("mismatches = %d, want 3: %+v", len(ms), ms)
	}
	// Newest first.
	for i, c := range cases[1:] {
		m := ms[len(ms)-1-i]
		if m.Op != c.op || len(m.Kinds) != 1 || m.Kinds[0] != c.kind || m.User != "dev-1" ||
			m.Primary != OpenSearch || m.Secondary != ClickHouse || m.At.IsZero() || m.Detail == "" {
			t.Errorf("sample for %s = %+v", c.op, m)
		}
		if n := h.metric(t, "obsplane_router_dualread_mismatches_total", map[string]string{"op": c.op, "kind": c.kind}); n != 1 {
			t.Errorf("mismatch counter %s/%s = %v", c.op, c.kind, n)
		}
	}
	if m := ms[len(ms)-1]; m.PrimaryResult.Total != 3 || m.SecondaryResult.Total != 4 {
		t.Errorf("count sample digests = %+v / %+v", m.PrimaryResult, m.SecondaryResult)
	}
	if got := h.r.Mismatches("traces.search", 0); len(got) != 1 || got[0].Kinds[0] != KindIDs {
		t.Errorf("filtered by op: %+v", got)
	}
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "match"}); n != 1 {
		t.Errorf("match counter = %v", n)
	}

	// The ring keeps only the newest MismatchSamples.
	h2 := newHarness(t, func(c *Config) { c.DualRead = true; c.MismatchSamples = 3 }, nil)
	for i := range 5 {
		_, _ = h2.r.Do(ctx, "u", fmt.Sprint("op", i), backend("ch", Result{Total: 1}, nil), backend("os", Result{Total: 2}, nil))
		h2.r.Wait()
	}
	got := h2.r.Mismatches("", 0)
	if len(got) != 3 || got[0].Op != "op4" || got[2].Op != "op2" {
		t.Errorf("ring = %+v", got)
	}
}

func TestSlowSecondaryNeverDelaysPrimary(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.DualRead = true
		c.DualReadConcurrency = 1
		c.DualReadTimeout = time.Hour
	}, nil)
	ctx := ctxT(t)
	release := make(chan struct{})
	started := make(chan struct{})
	slow := func(ctx context.Context) (any, Result, error) {
		close(started)
		<-release // held until after Do has returned: Do cannot wait for it
		return "ch", Result{Total: 1, IDs: []string{"a"}}, nil
	}
	reqCtx, cancelReq := context.WithCancel(ctx)
	v, err := h.r.Do(reqCtx, "dev", "logs.query", slow, backend("os", Result{Total: 1, IDs: []string{"a"}}, nil))
	if v != "os" || err != nil {
		t.Fatalf("Do = %v, %v", v, err)
	}
	<-started
	// The request ending does not cancel the shadow read.
	cancelReq()
	// The one concurrency slot is taken: the next read is answered and not
	// shadowed.
	v, _ = h.r.Do(ctx, "dev", "logs.query", slow, backend("os", Result{}, nil))
	if v != "os" {
		t.Fatalf("second Do = %v", v)
	}
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "skipped"}); n != 1 {
		t.Errorf("skipped = %v, want 1", n)
	}
	close(release)
	h.r.Wait()
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "match"}); n != 1 {
		t.Errorf("match after release = %v, want 1", n)
	}

	// A shadow read that outlives DualReadTimeout is cut off and counted as
	// an error of its backend.
	h2 := newHarness(t, func(c *Config) { c.DualRead = true; c.DualReadTimeout = 20 * time.Millisecond }, nil)
	stuck := func(ctx context.Context) (any, Result, error) {
		<-ctx.Done()
		return nil, Result{}, fmt.Errorf("clickhouse: %w", ctx.Err())
	}
	if v, _ := h2.r.Do(ctx, "dev", "logs.query", stuck, backend("os", Result{}, nil)); v != "os" {
		t.Fatalf("Do = %v", v)
	}
	h2.r.Wait()
	if n := h2.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "error"}); n != 1 {
		t.Errorf("timed-out shadow: error = %v, want 1", n)
	}
	if n := h2.metric(t, "obsplane_router_requests_total", map[string]string{"backend": "clickhouse", "role": "secondary", "outcome": "error"}); n != 1 {
		t.Errorf("timed-out shadow request outcome = %v, want 1 error", n)
	}
}

func TestPrimaryPanicReleasesShadow(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true; c.DualReadConcurrency = 1 }, nil)
	func() {
		defer func() { _ = recover() }()
		_, _ = h.r.Do(ctxT(t), "dev", "op", backend("ch", Result{}, nil), func(context.Context) (any, Result, error) { panic("boom") })
	}()
	done := make(chan struct{})
	go func() { h.r.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("shadow read still waiting after the primary panicked")
	}
}

func TestClientErrorsAndCancelsDoNotCount(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.setRollout(t, 100)
	ctx := ctxT(t)
	_, err := h.r.Do(ctx, "u", "ppl", func(context.Context) (any, Result, error) {
		return nil, Result{}, ClientError(errors.New("unknown command foo"))
	}, nil)
	if err == nil || !IsClientError(err) {
		t.Fatalf("err = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = h.r.Do(cctx, "u", "ppl", func(ctx context.Context) (any, Result, error) { return nil, Result{}, ctx.Err() }, nil)
	s := h.r.win.sum(h.clock.Now(), time.Minute, time.Time{})
	if s.requests[0] != 0 {
		t.Errorf("client error / cancel counted against ClickHouse: %+v", s.requests)
	}
	if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"outcome": OutcomeClientError}); n != 1 {
		t.Errorf("client_error = %v", n)
	}
	if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"outcome": OutcomeCanceled}); n != 1 {
		t.Errorf("canceled = %v", n)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"backend":        func(c *Config) { c.Backend = "elastic" },
		"concurrency":    func(c *Config) { c.DualReadConcurrency = 0 },
		"timeout":        func(c *Config) { c.DualReadTimeout = 0 },
		"samples":        func(c *Config) { c.MismatchSamples = 0 },
		"refresh":        func(c *Config) { c.FlagRefresh = 0 },
		"database":       func(c *Config) { c.Database = "" },
		"interval":       func(c *Config) { c.Rollback.CheckInterval = 0 },
		"evalWindow":     func(c *Config) { c.Rollback.EvalWindow = time.Second },
		"errorRate":      func(c *Config) { c.Rollback.ErrorRate = 5 },
		"inconsistency":  func(c *Config) { c.Rollback.Inconsistency = 0 },
		"latencyFactor":  func(c *Config) { c.Rollback.LatencyFactor = 0.5 },
		"unreachable":    func(c *Config) { c.Rollback.UnreachableChecks = 0 },
		"minRequests":    func(c *Config) { c.Rollback.MinRequests = 0 },
		"pingTimeout":    func(c *Config) { c.Rollback.PingTimeout = 0 },
		"baselineP95":    func(c *Config) { c.Rollback.BaselineP95 = -time.Second },
		"errorRateFor":   func(c *Config) { c.Rollback.ErrorRateFor = -time.Second },
		"baselineWindow": func(c *Config) { c.Rollback.BaselineWindow = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "router:") {
			t.Errorf("%s: error without context: %v", name, err)
		}
	}
}

// storeErr is what a failing ClickHouse read returns in these tests: a
// real store error type, as the query layer would pass it up.
var storeErr = &store.Error{Code: 210, Message: "Code: 210. NETWORK_ERROR"}

func TestSortTiesComparesTiesAsSets(t *testing.T) {
	keys := []string{"t1", "t2", "t2", "t2", "t3"}
	a := SortTies([]string{"a", "d", "b", "c", "e"}, keys)
	b := SortTies([]string{"a", "c", "d", "b", "e"}, slices.Clone(keys))
	if kinds, _ := Compare(Result{IDs: a}, Result{IDs: b}); len(kinds) != 0 {
		t.Errorf("same rows, ties in another order: %v, want no mismatch", kinds)
	}
	// An order difference across distinct keys is still one.
	c := SortTies([]string{"e", "b", "c", "d", "a"}, keys)
	if kinds, _ := Compare(Result{IDs: a}, Result{IDs: c}); !slices.Equal(kinds, []string{KindOrder}) {
		t.Errorf("rows of distinct times swapped: %v, want order", kinds)
	}
	if got := SortTies([]string{"b", "a"}, []string{"k"}); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("keys of the wrong length must leave ids alone, got %v", got)
	}
}

func TestDualReadSkipsIncomparableAnswers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true }, nil)
	ctx := ctxT(t)
	sec := Result{Total: 9, IDs: []string{"z"}, Incomparable: "by design"}
	if _, err := h.r.Do(ctx, "dev-1", "logs.query", backend("ch", sec, nil), backend("os", Result{Total: 1, IDs: []string{"a"}}, nil)); err != nil {
		t.Fatal(err)
	}
	h.r.Wait()
	if ms := h.r.Mismatches("", 0); len(ms) != 0 {
		t.Errorf("an incomparable pair was recorded as a mismatch: %+v", ms)
	}
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "incomparable"}); n != 1 {
		t.Errorf("incomparable counter = %v, want 1", n)
	}
}

// TestUnsupportedReadGoesToTheOtherBackend: a backend answering
// readmodel's Unsupported leaves the read to the other one, whether it is
// the primary (the other's answer is returned, from the background read
// when dual read started one) or the secondary (nothing is compared); the
// unsupported call never counts as an error or feeds the windows.
func TestUnsupportedReadGoesToTheOtherBackend(t *testing.T) {
	ctx := ctxT(t)
	unsupported := backend("os", Result{}, readmodel.NotSupported("logs tail with q"))
	for _, dual := range []bool{false, true} {
		h := newHarness(t, func(c *Config) { c.DualRead = dual }, nil)
		// Backend opensearch, rollout 0: OpenSearch is every user's primary.
		v, err := h.r.Do(ctx, "u", "api.logs", backend("ch", Result{Total: 1}, nil), unsupported)
		h.r.Wait()
		if err != nil || v != "ch" {
			t.Fatalf("dual=%v: got %v, %v; want ClickHouse's answer", dual, v, err)
		}
		if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"backend": "clickhouse", "role": "primary", "outcome": OutcomeOK}); n != 1 {
			t.Errorf("dual=%v: ClickHouse primary reads = %v, want 1", dual, n)
		}
		if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"backend": "opensearch", "outcome": OutcomeUnsupported}); n != 1 {
			t.Errorf("dual=%v: unsupported OpenSearch reads = %v, want 1", dual, n)
		}
		if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"outcome": OutcomeError}); n != 0 {
			t.Errorf("dual=%v: %v reads counted as errors", dual, n)
		}
		if dual {
			if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"outcome": "unsupported"}); n != 1 {
				t.Errorf("unsupported dual reads = %v, want 1", n)
			}
		}
	}

	// The secondary cannot answer: the primary's answer stands, nothing is
	// compared.
	h := newHarness(t, func(c *Config) { c.DualRead, c.Backend = true, BackendClickStack }, nil)
	v, err := h.r.Do(ctx, "u", "api.logs", backend("ch", Result{Total: 1}, nil), unsupported)
	h.r.Wait()
	if err != nil || v != "ch" {
		t.Fatalf("got %v, %v", v, err)
	}
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"outcome": "unsupported"}); n != 1 {
		t.Errorf("unsupported dual reads = %v, want 1", n)
	}
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"outcome": "match"}) + h.metric(t, "obsplane_router_dualread_total", map[string]string{"outcome": "mismatch"}); n != 0 {
		t.Errorf("%v comparisons of an unsupported read", n)
	}
}
