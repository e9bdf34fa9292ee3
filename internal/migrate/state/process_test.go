package state_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/migrate/state"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store"
)

// rig is a machine with the flags serve defines, on a database of its own,
// on the real clock (the ramp dwells in real time).
type rig struct {
	db string
	fl *flags.Service
	m  *state.Machine
}

var flagDefs = []flags.Definition{{Name: flags.UseClickHouse, Enabled: true}, {Name: flags.ShadowWrite}, {Name: flags.ClickStackPrimary}}

func newRig(t *testing.T) *rig {
	t.Helper()
	db := freshDB(t)
	fl, err := flags.New(st, db, flagDefs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := state.New(st, db, fl, state.Options{LockLease: 10 * time.Second, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{db: db, fl: fl, m: m}
}

// otherProcess is a second flag service on the same tables: the router of
// a running serve.
func (r *rig) otherProcess(t *testing.T) *flags.Service {
	fl, err := flags.New(st, r.db, flagDefs, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Refresh(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	return fl
}

var (
	day1 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day4 = time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
)

// backfilled moves Off -> DualWrite -> Backfilled as a backfill of
// [day1, day4) does.
func (r *rig) backfilled(t *testing.T) {
	t.Helper()
	if err := r.m.Move(ctxT(t), state.DualWrite, "test", "shadow write on", nil); err != nil {
		t.Fatal(err)
	}
	moved, err := r.m.BackfillDone(ctxT(t), "test", day1, day4, &migrate.BackfillResult{RunID: "run-1",
		Indices: []migrate.IndexResult{{Index: "container-logs-2026.11.01", Read: 10, Inserted: 9, Rejected: 1}}})
	if err != nil || !moved {
		t.Fatalf("BackfillDone: moved %v, %v", moved, err)
	}
}

// validate records a validation run finished at `at`, as `migrate validate`
// does, and returns the phase after.
func (r *rig) validate(t *testing.T, passed bool, at time.Time) state.Phase {
	t.Helper()
	rep := &migrate.ValidationReport{RunID: fmt.Sprintf("v-%d", at.UnixNano()), FinishedAt: at, Passed: passed, GroupBy: "namespace", TotalSamples: 1,
		Samples: []migrate.Sample{{Signals: []migrate.SignalDrift{{Signal: migrate.Logs, DriftPercent: 0.5,
			Groups: []migrate.GroupDrift{{Group: "acme", DriftPercent: 0.5}, {Group: "beta", DriftPercent: 3}}}}}}}
	if !passed {
		rep.DriftRatePercent = 100
	}
	p, err := r.m.ValidationDone(ctxT(t), "test", rep)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot is everything a refused step must leave as it was.
type snapshot struct {
	phase       state.Phase
	transitions int
	pending     bool
	flags       string
	audit       int
}

func (r *rig) snap(t *testing.T) snapshot {
	t.Helper()
	s := status(t, r.m)
	var fs []string
	audit := 0
	for _, f := range r.fl.List() {
		fs = append(fs, fmt.Sprintf("%s=%v/%d", f.Name, f.Enabled, f.RolloutPercentage))
		a, err := r.fl.Audit(ctxT(t), f.Name, 1000)
		if err != nil {
			t.Fatal(err)
		}
		audit += len(a)
	}
	return snapshot{phase: s.Phase, transitions: len(s.Transitions), pending: s.Pending != nil, flags: strings.Join(fs, " "), audit: audit}
}

func TestValidationMovesPhase(t *testing.T) {
	r := newRig(t)
	r.backfilled(t)
	if p := r.validate(t, false, time.Now()); p != state.Backfilled {
		t.Errorf("failed validation in Backfilled: phase %s, want Backfilled", p)
	}
	if p := r.validate(t, true, time.Now()); p != state.Validated {
		t.Errorf("passing validation in Backfilled: phase %s, want Validated", p)
	}
	if p := r.validate(t, false, time.Now()); p != state.Backfilled {
		t.Errorf("failed validation in Validated: phase %s, want Backfilled", p)
	}
	s := status(t, r.m)
	if len(s.Validations) != 3 || s.Validations[0].Passed || s.Validations[0].PerNamespace["beta"] != 3 {
		t.Errorf("validations %+v: want 3, newest failed with beta at 3%%", s.Validations)
	}
	if tr := s.Transitions[0]; tr.To != state.Backfilled || tr.Reason != "validation failed" || tr.Detail["run"] == "" {
		t.Errorf("newest transition %+v", tr)
	}
	// The backfill's range and counts are in its transition.
	for _, tr := range s.Transitions {
		if tr.From == state.DualWrite && tr.To == state.Backfilled {
			if tr.Detail["start"] != "2026-11-01" || tr.Detail["end"] != "2026-11-04" || tr.Detail["docs"] != "10" {
				t.Errorf("backfill transition detail %v", tr.Detail)
			}
		}
	}
	// A backfill outside DualWrite moves nothing.
	moved, err := r.m.BackfillDone(ctxT(t), "test", day1, day4, &migrate.BackfillResult{})
	if err != nil || moved {
		t.Errorf("BackfillDone in Backfilled: moved %v, %v; want no move", moved, err)
	}
}

// TestCutoverRefusals is the refusal table of docs/MIGRATE.md: each case
// is refused with its reason and changes neither the state nor a flag.
func TestCutoverRefusals(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, r *rig)
		opts  state.CutoverOptions
		want  string
	}{
		{"phase DualWrite", func(t *testing.T, r *rig) {
			if err := r.m.Move(ctxT(t), state.DualWrite, "test", "", nil); err != nil {
				t.Fatal(err)
			}
		}, state.CutoverOptions{}, "phase DualWrite; cutover needs Validated"},
		{"phase Backfilled with a passing validation elsewhere", func(t *testing.T, r *rig) {
			r.backfilled(t)
			if err := r.m.RecordValidation(ctxT(t), state.Validation{RunID: "x", At: time.Now(), Passed: true}, state.DualWrite, "test"); err != nil {
				t.Fatal(err)
			}
		}, state.CutoverOptions{}, "phase Backfilled; cutover needs Validated"},
		{"no validation", func(t *testing.T, r *rig) {
			r.backfilled(t)
			if err := r.m.Move(ctxT(t), state.Validated, "test", "by hand", nil); err != nil {
				t.Fatal(err)
			}
		}, state.CutoverOptions{}, "no validation recorded"},
		{"last validation failed", func(t *testing.T, r *rig) {
			r.backfilled(t)
			r.validate(t, true, time.Now().Add(-time.Hour))
			// A failure recorded while Validated moves back to
			// Backfilled; put the phase back by hand to test the check.
			if err := r.m.RecordValidation(ctxT(t), state.Validation{RunID: "bad", At: time.Now(), Passed: false, DriftRatePercent: 40, DriftPercent: 12}, state.Validated, "test"); err != nil {
				t.Fatal(err)
			}
		}, state.CutoverOptions{}, "the last validation (run bad"},
		{"validation too old", func(t *testing.T, r *rig) {
			r.backfilled(t)
			r.validate(t, true, time.Now().Add(-25*time.Hour))
		}, state.CutoverOptions{}, "older than --max-validation-age 24h0m0s"},
		{"backfill incomplete", func(t *testing.T, r *rig) {
			r.backfilled(t)
			r.validate(t, true, time.Now())
			err := st.Exec(ctxT(t), "INSERT INTO "+store.QuoteIdent(r.db)+".obsplane_backfill_checkpoints (Unit, Signal, Slice, Slices, PageSize, After, Read, Done, Version, RunID, Docs) "+
				"SELECT 'container-logs-2026.11.02', 'logs', 0, 1, 100, 5, 30, 0, 60, 'run-2', 90", nil)
			if err != nil {
				t.Fatal(err)
			}
		}, state.CutoverOptions{}, "the backfill of container-logs-2026.11.02 is incomplete (30 of 90 documents)"},
		{"range not covered", func(t *testing.T, r *rig) {
			r.backfilled(t)
			r.validate(t, true, time.Now())
		}, state.CutoverOptions{RangeStart: day1.AddDate(0, 0, -3), RangeEnd: day4}, "the backfill did not complete for 2026-10-29..2026-11-04"},
		{"no backfill recorded", func(t *testing.T, r *rig) {
			for _, p := range []state.Phase{state.DualWrite, state.Backfilled} {
				if err := r.m.Move(ctxT(t), p, "test", "by hand", nil); err != nil {
					t.Fatal(err)
				}
			}
			r.validate(t, true, time.Now())
		}, state.CutoverOptions{}, "no completed backfill is recorded"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t)
			c.setup(t, r)
			before := r.snap(t)
			o := c.opts
			o.Actor, o.Reason, o.MaxValidationAge, o.Ramp, o.Dwell, o.Poll = "test", "refusal test", 24*time.Hour, []int{50, 100}, 0, time.Millisecond
			err := r.m.Cutover(ctxT(t), o)
			if !errors.Is(err, state.ErrRefused) || !strings.HasPrefix(err.Error(), "refused: ") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Cutover: %v, want a refusal containing %q", err, c.want)
			}
			if after := r.snap(t); after != before {
				t.Errorf("refused, but something changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	// The range check passes when the backfills cover it.
	r := newRig(t)
	r.backfilled(t)
	r.validate(t, true, time.Now())
	if err := state.CheckBackfill(status(t, r.m), day1, day4); err != nil {
		t.Errorf("CheckBackfill of the backfilled range: %v", err)
	}
}

func TestParseRampAndRange(t *testing.T) {
	if r, err := state.ParseRamp("5, 20,50,100"); err != nil || fmt.Sprint(r) != "[5 20 50 100]" {
		t.Errorf("ParseRamp = %v, %v", r, err)
	}
	for _, bad := range []string{"", "5,20", "20,5,100", "0,100", "5,x,100", "50,150"} {
		if _, err := state.ParseRamp(bad); err == nil {
			t.Errorf("ParseRamp(%q) accepted", bad)
		}
	}
	if _, _, err := state.ParseRange("2026-11-04:2026-11-01"); err == nil {
		t.Error("ParseRange accepted an end before the start")
	}
	if a, b, err := state.ParseRange("2026-11-01:2026-11-04"); err != nil || !a.Equal(day1) || !b.Equal(day4) {
		t.Errorf("ParseRange = %s %s %v", a, b, err)
	}
}

// validated brings r to Validated with a fresh passing validation.
func (r *rig) validated(t *testing.T) {
	t.Helper()
	r.backfilled(t)
	if p := r.validate(t, true, time.Now()); p != state.Validated {
		t.Fatalf("phase %s, want Validated", p)
	}
}

// TestCutoverRamp: the ramp goes through every step, dwelling, then makes
// ClickHouse the primary; every flag change is audited.
func TestCutoverRamp(t *testing.T) {
	r := newRig(t)
	r.validated(t)
	var seen []int
	t0 := time.Now()
	err := r.m.Cutover(ctxT(t), state.CutoverOptions{Actor: "ops", Reason: "go", MaxValidationAge: time.Hour, Ramp: []int{5, 50, 100},
		Dwell: 300 * time.Millisecond, Poll: 20 * time.Millisecond, RangeStart: day1, RangeEnd: day4, Step: func(p int) { seen = append(seen, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 600*time.Millisecond {
		t.Errorf("cutover took %s; two dwells of 300ms expected", d)
	}
	s := status(t, r.m)
	if s.Phase != state.Cutover || s.RolloutPercent != 100 || !s.ClickStackPrimary || fmt.Sprint(seen) != "[5 50 100]" {
		t.Errorf("after cutover: phase %s, rollout %d, primary %v, steps %v", s.Phase, s.RolloutPercent, s.ClickStackPrimary, seen)
	}
	if tr := s.Transitions[0]; tr.To != state.Cutover || tr.Detail["reached"] != "100" || tr.Detail["ramp"] != "5,50,100" || tr.Actor != "ops" {
		t.Errorf("cutover transition %+v", tr)
	}
	a, err := r.fl.Audit(ctxT(t), flags.UseClickHouse, 10)
	if err != nil || len(a) != 3 || !strings.Contains(a[0].Reason, "step 3 of 3") || a[0].Actor != "ops" {
		t.Errorf("use_clickhouse audit %+v, %v; want the 3 steps by ops", a, err)
	}
	// Complete needs ClickHouse primary at 100%: it is.
	if err := r.m.Complete(ctxT(t), "ops", "done"); err != nil {
		t.Fatal(err)
	}
	if s := status(t, r.m); s.Phase != state.Complete {
		t.Errorf("phase %s after complete", s.Phase)
	}
}

// TestCutoverHalted: the router's automatic rollback sets the rollout back
// during a dwell; the cutover stops, is aborted naming the trigger, and
// leaves the flags as the rollback left them.
func TestCutoverHalted(t *testing.T) {
	r := newRig(t)
	r.validated(t)
	router := r.otherProcess(t)
	ctx := ctxT(t)
	err := r.m.Cutover(ctx, state.CutoverOptions{Actor: "ops", Reason: "go", MaxValidationAge: time.Hour, Ramp: []int{20, 100},
		Dwell: time.Minute, Poll: 20 * time.Millisecond, Step: func(p int) {
			if p == 20 {
				go func() {
					time.Sleep(100 * time.Millisecond)
					zero := 0
					if _, _, err := router.Force(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: &zero}, "router", "auto-rollback: ClickHouse p95 4.2s over 2s for 60s"); err != nil {
						t.Error(err)
					}
				}()
			}
		}})
	if !errors.Is(err, state.ErrHalted) || !strings.Contains(err.Error(), "auto-rollback: ClickHouse p95 4.2s") {
		t.Fatalf("Cutover: %v, want ErrHalted naming the trigger", err)
	}
	s := status(t, r.m)
	if s.Phase != state.Validated || s.Pending != nil || s.RolloutPercent != 0 || s.ClickStackPrimary {
		t.Errorf("after the halt: phase %s, pending %v, rollout %d, primary %v", s.Phase, s.Pending, s.RolloutPercent, s.ClickStackPrimary)
	}
	if tr := s.Transitions[0]; tr.Status != state.Aborted || !strings.Contains(tr.Outcome, "auto-rollback") || tr.Detail["reached"] != "20" {
		t.Errorf("aborted transition %+v", tr)
	}
}

// TestCutoverInterrupted: Ctrl-C during a dwell aborts the step and sets the
// rollout back to 0.
func TestCutoverInterrupted(t *testing.T) {
	r := newRig(t)
	r.validated(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	err := r.m.Cutover(ctx, state.CutoverOptions{Actor: "ops", MaxValidationAge: time.Hour, Ramp: []int{20, 100},
		Dwell: time.Minute, Poll: 20 * time.Millisecond, Step: func(p int) { time.AfterFunc(50*time.Millisecond, cancel) }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Cutover: %v, want cancelled", err)
	}
	s := status(t, r.m)
	if s.Phase != state.Validated || s.RolloutPercent != 0 || s.Transitions[0].Status != state.Aborted {
		t.Errorf("after the interruption: phase %s, rollout %d, newest %+v", s.Phase, s.RolloutPercent, s.Transitions[0])
	}
}

// TestRollback: after a cutover, rollback switches the primary back, sets
// the rollout to 0, syncs back the window since the cutover with the real
// syncback, and moves to DualWrite. From DualWrite it is refused.
func TestRollback(t *testing.T) {
	r := newRig(t)
	if err := r.m.Move(ctxT(t), state.DualWrite, "test", "", nil); err != nil {
		t.Fatal(err)
	}
	before := r.snap(t)
	err := r.m.Rollback(ctxT(t), state.RollbackOptions{Actor: "ops", Reason: "nothing to undo"})
	if !errors.Is(err, state.ErrRefused) || !strings.Contains(err.Error(), "no cutover to roll back") {
		t.Errorf("rollback from DualWrite: %v, want refused", err)
	}
	if after := r.snap(t); after != before {
		t.Errorf("refused rollback changed something:\nbefore %+v\nafter  %+v", before, after)
	}

	r = newRig(t)
	r.validated(t)
	if err := r.m.Cutover(ctxT(t), state.CutoverOptions{Actor: "ops", MaxValidationAge: time.Hour, Ramp: []int{100}}); err != nil {
		t.Fatal(err)
	}
	cut := status(t, r.m).Transitions[0].At
	var since time.Time
	sync := func(ctx context.Context, s time.Time) (int64, error) {
		since = s
		if osSkip != "" {
			t.Log("syncback not run:", osSkip)
			return 0, nil
		}
		osc, err := opensearch.New(osURL, opensearch.Options{Timeout: time.Minute})
		if err != nil {
			return 0, err
		}
		res, err := migrate.Syncback(ctx, migrate.SyncbackOptions{OpenSearch: osc, Store: st, Database: r.db, Since: s, Signals: []migrate.Signal{migrate.Logs}})
		if err != nil {
			return 0, err
		}
		var n int64
		for _, sg := range res.Signals {
			n += sg.Written
		}
		return n, nil
	}
	if err := r.m.Rollback(ctxT(t), state.RollbackOptions{Actor: "ops", Reason: "p95 regression", Syncback: sync}); err != nil {
		t.Fatal(err)
	}
	s := status(t, r.m)
	if s.Phase != state.DualWrite || s.ClickStackPrimary || s.RolloutPercent != 0 {
		t.Errorf("after rollback: phase %s, primary %v, rollout %d", s.Phase, s.ClickStackPrimary, s.RolloutPercent)
	}
	if !since.Equal(cut) {
		t.Errorf("syncback since %s, want the cutover's start %s", since, cut)
	}
	if tr := s.Transitions[0]; tr.From != state.Cutover || tr.To != state.DualWrite || tr.Reason != "p95 regression" || tr.Detail["syncback_since"] == "" {
		t.Errorf("rollback transition %+v", tr)
	}
	// Complete is refused outside Cutover, and changes nothing.
	before = r.snap(t)
	if err := r.m.Complete(ctxT(t), "ops", ""); !errors.Is(err, state.ErrRefused) {
		t.Errorf("complete from DualWrite: %v, want refused", err)
	}
	if after := r.snap(t); after != before {
		t.Errorf("refused complete changed something")
	}
}

// TestCompleteRefusedAfterManualRollback: in Cutover with the primary
// switched back by hand, complete is refused.
func TestCompleteRefusedAfterManualRollback(t *testing.T) {
	r := newRig(t)
	r.validated(t)
	if err := r.m.Cutover(ctxT(t), state.CutoverOptions{Actor: "ops", MaxValidationAge: time.Hour, Ramp: []int{100}}); err != nil {
		t.Fatal(err)
	}
	off := false
	if _, _, err := r.otherProcess(t).Update(ctxT(t), flags.ClickStackPrimary, flags.Change{Enabled: &off}, "someone", "by hand"); err != nil {
		t.Fatal(err)
	}
	before := r.snap(t)
	err := r.m.Complete(ctxT(t), "ops", "")
	if !errors.Is(err, state.ErrRefused) || !strings.Contains(err.Error(), "not the primary") {
		t.Errorf("complete: %v, want refused", err)
	}
	if after := r.snap(t); after != before {
		t.Errorf("refused complete changed something")
	}
}
