package state_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var (
	st            *chdb.Store
	osURL, osSkip string // the real OpenSearch node, for the rollback's syncback
)

func TestMain(m *testing.M) {
	osURL, osSkip = opensearchtest.ForMain("internal/migrate/state")
	chdbtest.Main(m, &st)
}

var dbSeq atomic.Int64

// freshDB applies the schema into a database of the test's own.
func freshDB(t *testing.T) string {
	t.Helper()
	db := fmt.Sprintf("state_test_%d", dbSeq.Add(1))
	if _, err := schema.Apply(ctxT(t), st, schema.Options{Database: db}); err != nil {
		t.Fatalf("schema.Apply(%s): %v", db, err)
	}
	return db
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// clock is a settable clock for audit times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond) // strictly increasing, as rows of one Seq need
	return c.t
}

func newMachine(t *testing.T, db string, fl *flags.Service) (*state.Machine, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	m, err := state.New(st, db, fl, state.Options{Now: c.Now, LockLease: 10 * time.Second, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func status(t *testing.T, m *state.Machine) state.Status {
	t.Helper()
	s, err := m.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pathTo is the shortest chain of allowed steps from Off to p.
func pathTo(p state.Phase) []state.Phase {
	prev := map[state.Phase]state.Phase{}
	seen := map[state.Phase]bool{state.Off: true}
	queue := []state.Phase{state.Off}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range state.Transitions[cur] {
			if !seen[n] {
				seen[n], prev[n] = true, cur
				queue = append(queue, n)
			}
		}
	}
	var out []state.Phase
	for cur := p; cur != state.Off; cur = prev[cur] {
		out = append([]state.Phase{cur}, out...)
	}
	return out
}

func moveTo(t *testing.T, m *state.Machine, p state.Phase) {
	t.Helper()
	for _, step := range pathTo(p) {
		if err := m.Move(ctxT(t), step, "test", "reach "+string(p), nil); err != nil {
			t.Fatalf("move to %s on the way to %s: %v", step, p, err)
		}
	}
	if got := status(t, m).Phase; got != p {
		t.Fatalf("phase %s after reaching %s", got, p)
	}
}

func TestParsePhase(t *testing.T) {
	for _, p := range state.Phases {
		got, err := state.ParsePhase(strings.ToLower(string(p)))
		if err != nil || got != p {
			t.Errorf("ParsePhase(%q) = %q, %v", strings.ToLower(string(p)), got, err)
		}
	}
	_, err := state.ParsePhase("Cutover2")
	if err == nil || !strings.Contains(err.Error(), "Off, DualWrite, Backfilled, Validated, Cutover, Complete") {
		t.Errorf("ParsePhase(Cutover2) error %v, want one naming the valid phases", err)
	}
}

// TestEveryEdge walks one store through every allowed step (each moves
// the phase and is audited) and, in every phase, tries every step that is
// not allowed: it wraps ErrRefused, runs nothing and writes nothing.
func TestEveryEdge(t *testing.T) {
	walk := []state.Phase{state.Off, state.DualWrite, state.Off, state.DualWrite, state.Backfilled, state.DualWrite,
		state.Backfilled, state.Validated, state.Backfilled, state.Validated, state.DualWrite, state.Backfilled, state.Validated,
		state.Cutover, state.DualWrite, state.Backfilled, state.Validated, state.Cutover, state.Complete, state.DualWrite}
	m, _ := newMachine(t, freshDB(t), nil)
	covered := map[[2]state.Phase]bool{}
	refusedIn := map[state.Phase]bool{}
	for i, from := range walk {
		if !refusedIn[from] {
			refusedIn[from] = true
			before := status(t, m)
			for _, to := range state.Phases {
				if state.Allowed(from, to) {
					continue
				}
				ran := false
				err := m.Move(ctxT(t), to, "test", "refused step", func(context.Context) error { ran = true; return nil })
				if !errors.Is(err, state.ErrRefused) || !strings.HasPrefix(err.Error(), "refused: ") {
					t.Errorf("%s -> %s: error %v, want a refusal", from, to, err)
				}
				if ran {
					t.Errorf("%s -> %s: refused, but its action ran", from, to)
				}
				after := status(t, m)
				if after.Phase != from || len(after.Transitions) != len(before.Transitions) || after.Pending != nil {
					t.Errorf("%s -> %s refused, but the state changed: phase %s, %d transitions (was %d)", from, to, after.Phase, len(after.Transitions), len(before.Transitions))
				}
			}
		}
		if i == len(walk)-1 {
			break
		}
		to := walk[i+1]
		ran := false
		if err := m.Move(ctxT(t), to, "alice", "edge test", func(context.Context) error { ran = true; return nil }); err != nil {
			t.Fatalf("%s -> %s: %v", from, to, err)
		}
		s := status(t, m)
		if s.Phase != to || !ran {
			t.Errorf("%s -> %s: phase %s, action ran %v", from, to, s.Phase, ran)
		}
		if tr := s.Transitions[0]; tr.From != from || tr.To != to || tr.Status != state.Done || tr.Actor != "alice" || tr.Reason != "edge test" {
			t.Errorf("%s -> %s: newest audit row %+v", from, to, tr)
		}
		covered[[2]state.Phase{from, to}] = true
	}
	allowed := 0
	for from, tos := range state.Transitions {
		for _, to := range tos {
			allowed++
			if !covered[[2]state.Phase{from, to}] {
				t.Errorf("the walk misses %s -> %s", from, to)
			}
		}
	}
	if allowed != 11 || len(refusedIn) != len(state.Phases) {
		t.Errorf("%d allowed steps (the contract has 11); refusals tried in %d phases of %d", allowed, len(refusedIn), len(state.Phases))
	}
}

// TestAudit checks who, when, from, to and why of a step, and the detail
// its action recorded.
func TestAudit(t *testing.T) {
	m, c := newMachine(t, freshDB(t), nil)
	if s := status(t, m); s.Phase != state.Off || len(s.Transitions) != 0 || s.Pending != nil {
		t.Fatalf("fresh state %+v, want Off with no history", s)
	}
	err := m.Run(ctxT(t), state.Step{To: state.DualWrite, Actor: "alice@example.com", Reason: "start shadow write",
		Detail: map[string]string{"by": "cli"},
		Act: func(_ context.Context, d map[string]string) error {
			d["tables"] = "otel_logs,otel_traces"
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Move(ctxT(t), state.Backfilled, "bob", "backfill finished", nil); err != nil {
		t.Fatal(err)
	}
	s := status(t, m)
	if s.Phase != state.Backfilled || len(s.Transitions) != 2 {
		t.Fatalf("phase %s with %d transitions, want Backfilled with 2", s.Phase, len(s.Transitions))
	}
	first, second := s.Transitions[1], s.Transitions[0]
	if first.Seq != 1 || first.From != state.Off || first.To != state.DualWrite || first.Actor != "alice@example.com" || first.Reason != "start shadow write" || first.Status != state.Done {
		t.Errorf("first transition %+v", first)
	}
	if first.Detail["by"] != "cli" || first.Detail["tables"] != "otel_logs,otel_traces" {
		t.Errorf("first transition's detail %v, want the start's and the action's", first.Detail)
	}
	if first.At.IsZero() || !first.FinishedAt.After(first.At) || first.At.Year() != 2026 {
		t.Errorf("first transition at %s, finished %s: want the machine's clock, finished after started", first.At, first.FinishedAt)
	}
	if second.Seq != 2 || second.Actor != "bob" || second.From != state.DualWrite {
		t.Errorf("second transition %+v", second)
	}
	if !s.Since.Equal(second.FinishedAt) || s.Since.After(c.Now()) {
		t.Errorf("since %s, want the second transition's end %s", s.Since, second.FinishedAt)
	}
}

// TestActionFails: a failed action aborts the step; the phase stays and
// the audit says why.
func TestActionFails(t *testing.T) {
	m, _ := newMachine(t, freshDB(t), nil)
	err := m.Move(ctxT(t), state.DualWrite, "alice", "try", func(context.Context) error { return errors.New("store has no otel_logs") })
	if err == nil || !strings.Contains(err.Error(), "store has no otel_logs") {
		t.Fatalf("error %v, want the action's", err)
	}
	s := status(t, m)
	if s.Phase != state.Off || s.Pending != nil || len(s.Transitions) != 1 {
		t.Fatalf("after a failed action: phase %s, pending %v, %d transitions", s.Phase, s.Pending, len(s.Transitions))
	}
	if tr := s.Transitions[0]; tr.Status != state.Aborted || !strings.Contains(tr.Outcome, "store has no otel_logs") {
		t.Errorf("audit %+v, want aborted with the reason", tr)
	}
	// And the step can be retried.
	if err := m.Move(ctxT(t), state.DualWrite, "alice", "retry", nil); err != nil {
		t.Fatal(err)
	}
	if s := status(t, m); s.Phase != state.DualWrite || s.Transitions[0].Seq != 2 {
		t.Errorf("retry: phase %s, newest seq %d", s.Phase, s.Transitions[0].Seq)
	}
}

// TestConcurrentMoves: a Move while another holds the lock fails at once
// with ErrLocked and writes nothing (it does not wait); two racing Moves
// to the same phase make one transition.
func TestConcurrentMoves(t *testing.T) {
	db := freshDB(t)
	m1, _ := newMachine(t, db, nil)
	m2, _ := newMachine(t, db, nil) // another process, as far as the lock knows
	inAct, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- m1.Move(context.Background(), state.DualWrite, "first", "holds the lock", func(context.Context) error {
			close(inAct)
			<-release
			return nil
		})
	}()
	<-inAct
	err := m2.Move(ctxT(t), state.DualWrite, "second", "while the first runs", nil)
	if !errors.Is(err, migrate.ErrLocked) {
		t.Errorf("second Move while the first holds the lock: %v, want ErrLocked", err)
	}
	s := status(t, m2)
	if s.Pending == nil || s.Pending.Actor != "first" || len(s.Transitions) != 1 {
		t.Errorf("while the first runs: pending %+v, %d transitions; want the first's step alone, pending", s.Pending, len(s.Transitions))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// A race: both start at once; one makes the step, the other is locked
	// out or refused (the step is made by then).
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, m := range []*state.Machine{m1, m2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Move(context.Background(), state.Backfilled, fmt.Sprintf("racer-%d", i), "race", nil)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, migrate.ErrLocked), errors.Is(err, state.ErrRefused):
		default:
			t.Errorf("racer: %v", err)
		}
	}
	s = status(t, m1)
	n := 0
	for _, tr := range s.Transitions {
		if tr.To == state.Backfilled {
			n++
		}
	}
	if ok != 1 || n != 1 || s.Phase != state.Backfilled {
		t.Errorf("race: %d succeeded, %d transitions to Backfilled, phase %s; want 1, 1, Backfilled (errors %v)", ok, n, s.Phase, errs)
	}
}

// crash writes what a process killed mid-transition leaves: a started row
// with no end.
func crash(t *testing.T, db string, seq int, from, to state.Phase) {
	t.Helper()
	err := st.Exec(ctxT(t), "INSERT INTO "+store.QuoteIdent(db)+".obsplane_migration_transitions (Seq, Status, FromPhase, ToPhase, Actor, Reason, At) "+
		"SELECT {seq:UInt64}, 'started', {from:String}, {to:String}, 'killed', 'crashed mid-way', now64(3)",
		store.Params{"seq": fmt.Sprint(seq), "from": string(from), "to": string(to)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCrashContinue: a pending step is reported, and a Move to its target
// continues it under the same Seq.
func TestCrashContinue(t *testing.T) {
	db := freshDB(t)
	m, _ := newMachine(t, db, nil)
	crash(t, db, 1, state.Off, state.DualWrite)
	s := status(t, m)
	if s.Phase != state.Off || s.Pending == nil || s.Pending.To != state.DualWrite || s.Pending.Actor != "killed" {
		t.Fatalf("after the crash: phase %s, pending %+v; want Off with Off -> DualWrite pending", s.Phase, s.Pending)
	}
	// A step elsewhere that is not allowed from the origin is refused, and
	// the pending one stays.
	if err := m.Move(ctxT(t), state.Cutover, "bob", "wrong", nil); !errors.Is(err, state.ErrRefused) {
		t.Errorf("Move(Cutover) with Off -> DualWrite pending: %v, want ErrRefused", err)
	}
	if s := status(t, m); s.Pending == nil || len(s.Transitions) != 1 {
		t.Errorf("a refused Move changed the pending step: %+v", s.Pending)
	}
	ran := 0
	if err := m.Move(ctxT(t), state.DualWrite, "bob", "finish it", func(context.Context) error { ran++; return nil }); err != nil {
		t.Fatal(err)
	}
	s = status(t, m)
	if s.Phase != state.DualWrite || s.Pending != nil || len(s.Transitions) != 1 || ran != 1 {
		t.Fatalf("continued: phase %s, pending %v, %d transitions, action ran %d times", s.Phase, s.Pending, len(s.Transitions), ran)
	}
	if tr := s.Transitions[0]; tr.Seq != 1 || tr.Status != state.Done || tr.Actor != "killed" || !strings.Contains(tr.Outcome, "continued by bob") {
		t.Errorf("continued transition %+v", tr)
	}
}

// TestCrashRollback: a Move to a pending step's origin undoes it; a Move
// elsewhere aborts it and makes its own step from the origin.
func TestCrashRollback(t *testing.T) {
	db := freshDB(t)
	m, _ := newMachine(t, db, nil)
	moveTo(t, m, state.Validated) // seq 1..3
	crash(t, db, 4, state.Validated, state.Cutover)
	undone := false
	if err := m.Move(ctxT(t), state.Validated, "ops", "abandon the cutover", func(context.Context) error { undone = true; return nil }); err != nil {
		t.Fatal(err)
	}
	s := status(t, m)
	if s.Phase != state.Validated || s.Pending != nil || !undone {
		t.Fatalf("undo: phase %s, pending %v, undo ran %v", s.Phase, s.Pending, undone)
	}
	if tr := s.Transitions[0]; tr.Seq != 4 || tr.Status != state.Aborted || !strings.Contains(tr.Outcome, "rolled back by ops") {
		t.Errorf("undone transition %+v", tr)
	}

	crash(t, db, 5, state.Validated, state.Cutover)
	if err := m.Move(ctxT(t), state.DualWrite, "ops", "roll back to dual write", nil); err != nil {
		t.Fatal(err)
	}
	s = status(t, m)
	if s.Phase != state.DualWrite || s.Pending != nil {
		t.Fatalf("rollback elsewhere: phase %s, pending %v", s.Phase, s.Pending)
	}
	if tr := s.Transitions[1]; tr.Seq != 5 || tr.Status != state.Aborted {
		t.Errorf("the pending step %+v, want aborted", tr)
	}
	if tr := s.Transitions[0]; tr.Seq != 6 || tr.From != state.Validated || tr.To != state.DualWrite || tr.Status != state.Done {
		t.Errorf("the rollback %+v, want Validated -> DualWrite done", tr)
	}
}

// TestStatusSources: backfill progress from the checkpoints, validations
// and the flags.
func TestStatusSources(t *testing.T) {
	db := freshDB(t)
	fl, err := flags.New(st, db, []flags.Definition{{Name: flags.UseClickHouse, Enabled: true}, {Name: flags.ShadowWrite}, {Name: flags.ClickStackPrimary}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newMachine(t, db, fl)
	ck := func(unit string, slice, slices int, read, docs uint64, done int) {
		err := st.Exec(ctxT(t), "INSERT INTO "+store.QuoteIdent(db)+".obsplane_backfill_checkpoints (Unit, Signal, Slice, Slices, PageSize, After, Read, Inserted, Rejected, Skipped, Done, Version, RunID, Docs) "+
			"SELECT {u:String}, 'logs', {s:UInt32}, {n:UInt32}, 100, 0, {r:UInt64}, {r:UInt64}, 0, 0, {d:UInt8}, {v:UInt64}, 'run', {docs:UInt64}",
			store.Params{"u": unit, "s": fmt.Sprint(slice), "n": fmt.Sprint(slices), "r": fmt.Sprint(read), "d": fmt.Sprint(done), "v": fmt.Sprint(read*2 + uint64(done)), "docs": fmt.Sprint(docs)})
		if err != nil {
			t.Fatal(err)
		}
	}
	ck("container-logs-2026.11.01", 0, 2, 40, 100, 0)
	ck("container-logs-2026.11.01", 0, 2, 50, 100, 1)
	ck("container-logs-2026.11.01", 1, 2, 50, 100, 1)
	ck("container-logs-2026.11.02", 0, 2, 30, 90, 1) // slice 1 never checkpointed
	vals := []state.Validation{
		{RunID: "a", At: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), Passed: false, DriftPercent: 7.5, PerNamespace: map[string]float64{"acme": 7.5, "beta": 0.5}},
		{RunID: "b", At: time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC), Passed: true, DriftPercent: 0.4, PerNamespace: map[string]float64{"acme": 0.4}},
	}
	for _, v := range vals {
		if err := m.RecordValidation(ctxT(t), v, state.Backfilled, "test"); err != nil {
			t.Fatal(err)
		}
	}
	on, pct := true, 20
	if _, _, err := fl.Update(ctxT(t), flags.ShadowWrite, flags.Change{Enabled: &on}, "test", "on"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fl.Update(ctxT(t), flags.UseClickHouse, flags.Change{RolloutPercentage: &pct}, "test", "ramp"); err != nil {
		t.Fatal(err)
	}
	s := status(t, m)
	want := []state.IndexProgress{
		{Index: "container-logs-2026.11.01", Signal: "logs", Docs: 100, DocsDone: 100, Done: true},
		{Index: "container-logs-2026.11.02", Signal: "logs", Docs: 90, DocsDone: 30, Done: false},
	}
	if fmt.Sprint(s.Backfill) != fmt.Sprint(want) {
		t.Errorf("backfill %+v, want %+v", s.Backfill, want)
	}
	if len(s.Validations) != 2 || s.Validations[0].RunID != "b" || !s.Validations[0].Passed || s.Validations[1].PerNamespace["acme"] != 7.5 {
		t.Errorf("validations %+v, want b (passed) then a", s.Validations)
	}
	if s.RolloutPercent != 20 || !s.ShadowWrite || s.ClickStackPrimary {
		t.Errorf("flags: rollout %d, shadow %v, primary %v; want 20, true, false", s.RolloutPercent, s.ShadowWrite, s.ClickStackPrimary)
	}

	// The same, as metrics.
	moveTo(t, m, state.DualWrite)
	_ = m.Move(ctxT(t), state.Backfilled, "test", "fails", func(context.Context) error { return errors.New("boom") })
	reg := prometheus.NewRegistry()
	reg.MustRegister(state.NewCollector(m, 0))
	expect := `
# HELP obsplane_migration_rollout_percent Share of users whose reads ClickHouse answers (use_clickhouse; 0 when disabled).
# TYPE obsplane_migration_rollout_percent gauge
obsplane_migration_rollout_percent 20
# HELP obsplane_migration_validation_drift_percent Largest drift of the newest validation run, per namespace (namespace="" for the run as a whole).
# TYPE obsplane_migration_validation_drift_percent gauge
obsplane_migration_validation_drift_percent{namespace=""} 0.4
obsplane_migration_validation_drift_percent{namespace="acme"} 0.4
# HELP obsplane_migration_transitions_total Migration transitions by origin, target and how they ended (started: still pending).
# TYPE obsplane_migration_transitions_total counter
obsplane_migration_transitions_total{from="DualWrite",status="aborted",to="Backfilled"} 1
obsplane_migration_transitions_total{from="Off",status="done",to="DualWrite"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expect), "obsplane_migration_rollout_percent", "obsplane_migration_validation_drift_percent", "obsplane_migration_transitions_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "obsplane_migration_phase"); err != nil || n != len(state.Phases) {
		t.Errorf("obsplane_migration_phase series %d (%v), want one per phase", n, err)
	}
	if v := testutil.ToFloat64(gaugeOf(t, reg, "obsplane_migration_phase", "DualWrite")); v != 1 {
		t.Errorf("obsplane_migration_phase{phase=DualWrite} = %v, want 1", v)
	}
}

// gaugeOf finds one series of name with the given phase label value.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name, phase string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetValue() == phase {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(mt.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{phase=%q}", name, phase)
	return nil
}

func TestValidationOf(t *testing.T) {
	rep := &migrate.ValidationReport{RunID: "r", Passed: true, GroupBy: "namespace", TotalSamples: 2, DriftRatePercent: 0,
		Samples: []migrate.Sample{
			{Signals: []migrate.SignalDrift{{Signal: migrate.Logs, DriftPercent: 0.2, Groups: []migrate.GroupDrift{{Group: "acme", DriftPercent: 0.9}, {Group: "beta", DriftPercent: 0}}}}},
			{Signals: []migrate.SignalDrift{{Signal: migrate.Logs, DriftPercent: 0.5, Groups: []migrate.GroupDrift{{Group: "acme", DriftPercent: 0.1}, {Group: "beta", DriftPercent: 0.3}}}}},
		}}
	v := state.ValidationOf(rep)
	if v.DriftPercent != 0.9 || v.PerNamespace["acme"] != 0.9 || v.PerNamespace["beta"] != 0.3 || !v.Passed || v.Samples != 2 {
		t.Errorf("ValidationOf = %+v", v)
	}
}
