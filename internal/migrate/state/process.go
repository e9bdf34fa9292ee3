package state

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/router/flags"
)

// The steps of `obsplane migrate`: what each command does to the state and
// the flags, apart from parsing its flags, so tests drive them against a
// real store.

// RefusedError is a step refused before anything changed. Its text starts
// with "refused: ", as the CLI prints it.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string        { return "refused: " + e.Reason }
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ErrHalted is wrapped by the error of a cutover whose ramp an automatic
// rollback set back.
var ErrHalted = errors.New("cutover halted")

// CutoverOptions configure `migrate cutover`.
type CutoverOptions struct {
	Actor, Reason string
	// MaxValidationAge: the newest validation must have passed within it.
	MaxValidationAge time.Duration
	// Ramp is the use_clickhouse percentages, rising, ending at 100.
	Ramp []int
	// Dwell is the time at each step below 100; Poll how often the flag is
	// re-read during it (default min(10s, Dwell)).
	Dwell, Poll time.Duration
	// RangeStart and RangeEnd (UTC days, end excluded), when set, must be
	// covered by completed backfills.
	RangeStart, RangeEnd time.Time
	// Step, when set, is told each ramp step as it is set (progress).
	Step func(percent int)
}

// ParseRamp reads "5,20,50,100": rising percentages in 1..100 ending at
// 100.
func ParseRamp(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 100 {
			return nil, fmt.Errorf("--ramp %q: %q is not a percentage in 1..100", s, f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("--ramp %q: steps must rise (%d after %d)", s, n, out[len(out)-1])
		}
		out = append(out, n)
	}
	if len(out) == 0 || out[len(out)-1] != 100 {
		return nil, fmt.Errorf("--ramp %q: the last step must be 100", s)
	}
	return out, nil
}

// ParseRange reads --require-backfill-range START:END (UTC days, END
// excluded).
func ParseRange(s string) (start, end time.Time, err error) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return start, end, fmt.Errorf("--require-backfill-range %q: want START:END as YYYY-MM-DD:YYYY-MM-DD", s)
	}
	if start, err = migrate.ParseDay("require-backfill-range start", a); err != nil {
		return
	}
	if end, err = migrate.ParseDay("require-backfill-range end", b); err != nil {
		return
	}
	if !end.After(start) {
		err = fmt.Errorf("--require-backfill-range %q: the end day must be after the start (it is not included)", s)
	}
	return
}

// CheckCutover refuses a cutover from s unless the phase is Validated, the
// newest validation passed within maxAge of now, and the backfill is
// complete (for [rangeStart, rangeEnd) when set).
func CheckCutover(s Status, now time.Time, maxAge time.Duration, rangeStart, rangeEnd time.Time) error {
	if s.Phase != Validated {
		return &RefusedError{fmt.Sprintf("the migration is in phase %s; cutover needs Validated (backfill, then a passing `migrate validate`)", s.Phase)}
	}
	if len(s.Validations) == 0 {
		return &RefusedError{"no validation recorded; run `obsplane migrate validate` first"}
	}
	v := s.Validations[0]
	if !v.Passed {
		return &RefusedError{fmt.Sprintf("the last validation (run %s at %s) failed: %.2f%% of samples over the drift threshold, largest drift %.2f%%",
			v.RunID, v.At.Format(time.RFC3339), v.DriftRatePercent, v.DriftPercent)}
	}
	if age := now.Sub(v.At); age > maxAge {
		return &RefusedError{fmt.Sprintf("the last validation passed at %s, %s ago, older than --max-validation-age %s; validate again",
			v.At.Format(time.RFC3339), age.Round(time.Second), maxAge)}
	}
	return CheckBackfill(s, rangeStart, rangeEnd)
}

var indexDay = regexp.MustCompile(`(\d{4})[.-](\d{2})[.-](\d{2})$`)

// CheckBackfill refuses unless no index's backfill is left incomplete (in
// the range, when set) and completed backfills cover the range (or, with
// no range, at least one completed).
func CheckBackfill(s Status, start, end time.Time) error {
	inRange := func(index string) bool {
		if start.IsZero() {
			return true
		}
		m := indexDay.FindStringSubmatch(index)
		if m == nil {
			return false
		}
		d, err := time.Parse("2006-01-02", m[1]+"-"+m[2]+"-"+m[3])
		return err == nil && !d.Before(start) && d.Before(end)
	}
	for _, ip := range s.Backfill {
		if !ip.Done && inRange(ip.Index) {
			return &RefusedError{fmt.Sprintf("the backfill of %s is incomplete (%d of %d documents); run `obsplane migrate backfill` again to finish it", ip.Index, ip.DocsDone, ip.Docs)}
		}
	}
	// The days completed backfills covered.
	type span struct{ a, b time.Time }
	var spans []span
	for _, t := range s.Transitions {
		if t.To != Backfilled || t.Status != Done {
			continue
		}
		a, errA := time.Parse(time.DateOnly, t.Detail["start"])
		b, errB := time.Parse(time.DateOnly, t.Detail["end"])
		if errA == nil && errB == nil {
			spans = append(spans, span{a, b})
		}
	}
	if start.IsZero() {
		if len(spans) == 0 {
			return &RefusedError{"no completed backfill is recorded; run `obsplane migrate backfill` for the history to keep"}
		}
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a.Before(spans[j].a) })
	covered := start
	for _, sp := range spans {
		if sp.a.After(covered) {
			break
		}
		if sp.b.After(covered) {
			covered = sp.b
		}
	}
	if covered.Before(end) {
		var have []string
		for _, sp := range spans {
			have = append(have, sp.a.Format(time.DateOnly)+".."+sp.b.Format(time.DateOnly))
		}
		if len(have) == 0 {
			have = []string{"none"}
		}
		return &RefusedError{fmt.Sprintf("the backfill did not complete for %s..%s: %s is not covered (completed: %s)",
			start.Format(time.DateOnly), end.Format(time.DateOnly), covered.Format(time.DateOnly), strings.Join(have, ", "))}
	}
	return nil
}

func boolp(b bool) *bool { return &b }
func intp(n int) *int    { return &n }

// Cutover checks the cutover is safe, then ramps use_clickhouse through
// the steps, dwelling at each below 100 while watching the flag; at 100 it
// switches the primary (clickstack_primary on) and the phase to Cutover.
// When the rollout is set back during a dwell (the router's automatic
// rollback), it stops, aborts the transition and returns an error wrapping
// ErrHalted that names the rollback's audit reason; the flags stay as the
// rollback left them. When interrupted otherwise (ctx cancelled, a flag
// write failed), the rollout is set back to 0, so an aborted cutover never
// leaves users half-way.
func (m *Machine) Cutover(ctx context.Context, o CutoverOptions) error {
	fl := m.fl
	if fl == nil {
		return errors.New("cutover: no flag service")
	}
	if len(o.Ramp) == 0 {
		o.Ramp = []int{5, 20, 50, 100}
	}
	if o.Poll <= 0 {
		o.Poll = min(10*time.Second, max(o.Dwell, time.Millisecond))
	}
	return m.Run(ctx, Step{To: Cutover, Actor: o.Actor, Reason: o.Reason,
		Detail: map[string]string{"ramp": joinInts(o.Ramp), "dwell": o.Dwell.String()},
		Check: func(_ context.Context, s Status) error {
			return CheckCutover(s, m.opts.Now(), o.MaxValidationAge, o.RangeStart, o.RangeEnd)
		},
		Act: func(ctx context.Context, detail map[string]string) error {
			err := ramp(ctx, m, o, detail)
			if err != nil && !errors.Is(err, ErrHalted) {
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				defer cancel()
				if _, _, e := fl.Update(wctx, flags.UseClickHouse, flags.Change{RolloutPercentage: intp(0)}, o.Actor, "cutover interrupted: "+err.Error()); e != nil {
					err = errors.Join(err, fmt.Errorf("set use_clickhouse back to 0: %w", e))
				}
			}
			return err
		}})
}

func ramp(ctx context.Context, m *Machine, o CutoverOptions, detail map[string]string) error {
	fl := m.fl
	for i, pct := range o.Ramp {
		reason := fmt.Sprintf("cutover ramp step %d of %d: %s", i+1, len(o.Ramp), o.Reason)
		if _, _, err := fl.Update(ctx, flags.UseClickHouse, flags.Change{Enabled: boolp(true), RolloutPercentage: intp(pct)}, o.Actor, reason); err != nil {
			return err
		}
		detail["reached"] = strconv.Itoa(pct)
		m.opts.Log.Info("cutover: rollout set", "use_clickhouse", pct, "step", i+1, "of", len(o.Ramp))
		if o.Step != nil {
			o.Step(pct)
		}
		if pct == 100 {
			break
		}
		end := m.opts.Now().Add(o.Dwell)
		t := time.NewTicker(o.Poll)
		for m.opts.Now().Before(end) {
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			if err := fl.Refresh(ctx); err != nil {
				if ctx.Err() != nil {
					t.Stop()
					return ctx.Err()
				}
				m.opts.Log.Warn("cutover: cannot re-read the flags; still dwelling", "err", err)
				continue
			}
			if f, _ := fl.Get(flags.UseClickHouse); !f.Enabled || f.RolloutPercentage < pct {
				t.Stop()
				trigger := "the rollout was set back"
				if a, err := fl.Audit(ctx, flags.UseClickHouse, 1); err == nil && len(a) > 0 {
					trigger = fmt.Sprintf("%s set use_clickhouse to %s at %s: %s", a[0].Actor, a[0].NewValue, a[0].At.Format(time.RFC3339), a[0].Reason)
				}
				detail["halted"] = trigger
				return fmt.Errorf("%w at %d%%: %s", ErrHalted, pct, trigger)
			}
		}
		t.Stop()
	}
	if _, _, err := fl.Update(ctx, flags.ClickStackPrimary, flags.Change{Enabled: boolp(true)}, o.Actor, "cutover: ClickHouse is the primary: "+o.Reason); err != nil {
		return err
	}
	return nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// RollbackOptions configure `migrate rollback`.
type RollbackOptions struct {
	Actor, Reason string
	// Syncback, when set, copies into OpenSearch what the store holds of
	// [since, now) and OpenSearch lacks (migrate.Syncback); since is the
	// time of the cutover. It returns how many documents it wrote.
	Syncback func(ctx context.Context, since time.Time) (written int64, err error)
}

// Rollback sends reads back to OpenSearch (clickstack_primary off,
// use_clickhouse 0), syncs back the window since the cutover, and moves to
// DualWrite. From DualWrite or Off there is nothing to roll back: refused.
// A cutover left pending by a crash is rolled back too.
func (m *Machine) Rollback(ctx context.Context, o RollbackOptions) error {
	fl := m.fl
	if fl == nil {
		return errors.New("rollback: no flag service")
	}
	return m.Run(ctx, Step{To: DualWrite, Actor: o.Actor, Reason: o.Reason,
		Check: func(_ context.Context, s Status) error {
			origin := s.Phase
			if s.Pending != nil {
				origin = s.Pending.From
			}
			if origin == DualWrite || origin == Off {
				return &RefusedError{fmt.Sprintf("the migration is in phase %s: there is no cutover to roll back", origin)}
			}
			return nil
		},
		Act: func(ctx context.Context, detail map[string]string) error {
			if _, _, err := fl.Update(ctx, flags.ClickStackPrimary, flags.Change{Enabled: boolp(false)}, o.Actor, "rollback: OpenSearch is the primary again: "+o.Reason); err != nil {
				return err
			}
			if _, _, err := fl.Update(ctx, flags.UseClickHouse, flags.Change{RolloutPercentage: intp(0)}, o.Actor, "rollback: "+o.Reason); err != nil {
				return err
			}
			since, ok, err := cutoverTime(ctx, m)
			if err != nil {
				return err
			}
			if o.Syncback == nil || !ok {
				detail["syncback"] = "skipped"
				return nil
			}
			detail["syncback_since"] = since.UTC().Format(time.RFC3339)
			n, err := o.Syncback(ctx, since)
			if err != nil {
				return fmt.Errorf("syncback since %s: %w", since.UTC().Format(time.RFC3339), err)
			}
			detail["syncback_written"] = strconv.FormatInt(n, 10)
			return nil
		}})
}

// cutoverTime is when ClickHouse started taking reads: the start of the
// newest transition into Cutover (done or pending).
func cutoverTime(ctx context.Context, m *Machine) (time.Time, bool, error) {
	s := Status{}
	if err := m.loadTransitions(ctx, &s); err != nil {
		return time.Time{}, false, err
	}
	for _, t := range s.Transitions {
		if t.To == Cutover && t.Status != Aborted {
			return t.At, true, nil
		}
		if t.To == Cutover && t.Status == Aborted && t.Detail["reached"] != "" {
			return t.At, true, nil // a halted ramp had sent some reads to ClickHouse
		}
	}
	return time.Time{}, false, nil
}

// Complete moves Cutover -> Complete, refused unless ClickHouse is the
// primary at 100%.
func (m *Machine) Complete(ctx context.Context, actor, reason string) error {
	return m.Run(ctx, Step{To: Complete, Actor: actor, Reason: reason,
		Check: func(_ context.Context, s Status) error {
			if s.Phase != Cutover {
				return &RefusedError{fmt.Sprintf("the migration is in phase %s; complete follows a cutover", s.Phase)}
			}
			if m.fl != nil && (!s.ClickStackPrimary || s.RolloutPercent != 100) {
				return &RefusedError{fmt.Sprintf("ClickHouse is not the primary at 100%% (clickstack_primary %v, use_clickhouse %d%%): was it rolled back by hand? run `obsplane migrate rollback` or cutover again",
					s.ClickStackPrimary, s.RolloutPercent)}
			}
			return nil
		}})
}

// BackfillDone records a completed backfill of [start, end): in phase
// DualWrite it moves to Backfilled with the range and counts; in any other
// phase it changes nothing and says so (the copy is kept either way).
func (m *Machine) BackfillDone(ctx context.Context, actor string, start, end time.Time, res *migrate.BackfillResult) (moved bool, err error) {
	s, err := m.Status(ctx)
	if err != nil {
		return false, err
	}
	if s.Phase != DualWrite && (s.Pending == nil || s.Pending.To != Backfilled) {
		m.opts.Log.Info("backfill complete; the migration stays where it is", "phase", s.Phase)
		return false, nil
	}
	var read, inserted, rejected, skipped uint64
	for _, ir := range res.Indices {
		read += ir.Read
		inserted += ir.Inserted
		rejected += ir.Rejected
		skipped += ir.Skipped
	}
	err = m.Run(ctx, Step{To: Backfilled, Actor: actor, Reason: "backfill completed",
		Detail: map[string]string{"start": start.Format(time.DateOnly), "end": end.Format(time.DateOnly), "docs": strconv.FormatUint(read, 10),
			"inserted": strconv.FormatUint(inserted, 10), "rejected": strconv.FormatUint(rejected, 10), "skipped": strconv.FormatUint(skipped, 10),
			"indices": strconv.Itoa(len(res.Indices)), "run": res.RunID}})
	return err == nil, err
}

// ValidationDone records a validation run and moves the phase: a pass in
// Backfilled moves to Validated, a failure in Validated back to Backfilled.
// It returns the phase after.
func (m *Machine) ValidationDone(ctx context.Context, actor string, rep *migrate.ValidationReport) (Phase, error) {
	s, err := m.Status(ctx)
	if err != nil {
		return "", err
	}
	v := ValidationOf(rep)
	if err := m.RecordValidation(ctx, v, s.Phase, actor); err != nil {
		return s.Phase, err
	}
	switch {
	case v.Passed && s.Phase == Backfilled:
		err = m.Run(ctx, Step{To: Validated, Actor: actor, Reason: "validation passed",
			Detail: map[string]string{"run": v.RunID, "drift_rate_percent": strconv.FormatFloat(v.DriftRatePercent, 'f', 2, 64), "max_drift_percent": strconv.FormatFloat(v.DriftPercent, 'f', 2, 64)}})
		if err == nil {
			return Validated, nil
		}
	case !v.Passed && s.Phase == Validated:
		err = m.Run(ctx, Step{To: Backfilled, Actor: actor, Reason: "validation failed",
			Detail: map[string]string{"run": v.RunID, "drift_rate_percent": strconv.FormatFloat(v.DriftRatePercent, 'f', 2, 64), "max_drift_percent": strconv.FormatFloat(v.DriftPercent, 'f', 2, 64)}})
		if err == nil {
			return Backfilled, nil
		}
	}
	return s.Phase, err
}
