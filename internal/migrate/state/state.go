// Package state is the migration from OpenSearch as one guarded process: a
// state machine persisted in the store, whose every transition is audited
// and serialized across processes by the store lock "migration".
//
//	Off -> DualWrite -> Backfilled -> Validated -> Cutover -> Complete
//
// with the rollback edges of Transitions. A transition is two rows of
// obsplane_migration_transitions: "started", written before its side
// effects, and "done" or "aborted" after them. A process killed between the
// two leaves the transition pending; the next Move continues it (same
// target) or rolls it back (any other target), and Status reports it
// meanwhile. docs/MIGRATE.md, "The migration process", is the operator's
// view.
package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/store"
)

// Phase is where the migration stands.
type Phase string

// The phases, in the order a migration goes through them.
const (
	Off        Phase = "Off"
	DualWrite  Phase = "DualWrite"
	Backfilled Phase = "Backfilled"
	Validated  Phase = "Validated"
	Cutover    Phase = "Cutover"
	Complete   Phase = "Complete"
)

// Phases lists every phase in order.
var Phases = []Phase{Off, DualWrite, Backfilled, Validated, Cutover, Complete}

// ParsePhase reads a phase name (case-insensitive); an unknown one is an
// error naming the valid phases.
func ParsePhase(s string) (Phase, error) {
	for _, p := range Phases {
		if strings.EqualFold(strings.TrimSpace(s), string(p)) {
			return p, nil
		}
	}
	names := make([]string, len(Phases))
	for i, p := range Phases {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown phase %q: want one of %s", s, strings.Join(names, ", "))
}

// Transitions are the allowed steps from each phase: the forward path and
// the rollback edges (every phase after Off can go back to DualWrite while
// OpenSearch still exists; Validated can drop back to Backfilled when a
// later validation fails).
var Transitions = map[Phase][]Phase{
	Off:        {DualWrite},
	DualWrite:  {Off, Backfilled},
	Backfilled: {Validated, DualWrite},
	Validated:  {Backfilled, Cutover, DualWrite},
	Cutover:    {DualWrite, Complete},
	Complete:   {DualWrite},
}

// Allowed reports whether from -> to is a step of the migration.
func Allowed(from, to Phase) bool {
	for _, p := range Transitions[from] {
		if p == to {
			return true
		}
	}
	return false
}

// ErrRefused is wrapped by the error of a step that is not safe now; the
// error says why, and nothing was changed.
var ErrRefused = errors.New("migration step refused")

// Refusef returns a RefusedError (it matches ErrRefused) with the reason.
func Refusef(format string, args ...any) error {
	return &RefusedError{Reason: fmt.Sprintf(format, args...)}
}

// Transition statuses.
const (
	Started = "started"
	Done    = "done"
	Aborted = "aborted"
)

// Transition is one step, as audited: who moved the migration from where to
// where, when and why, and how it ended.
type Transition struct {
	Seq    uint64    `json:"seq"`
	From   Phase     `json:"from"`
	To     Phase     `json:"to"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Status string    `json:"status"` // started | done | aborted
	// Detail holds what the step recorded (a backfill's range and
	// documents, a ramp's steps), from its start and end rows.
	Detail map[string]string `json:"detail,omitempty"`
	// FinishedAt and Outcome are from the done or aborted row: when, and
	// why it aborted or who continued it.
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Outcome    string    `json:"outcome,omitempty"`
}

// IndexProgress is one OpenSearch index's backfill, from its checkpoints.
type IndexProgress struct {
	Index    string `json:"index"`
	Signal   string `json:"signal"`
	Docs     int64  `json:"docs"`     // documents the index held when its backfill started (0: unknown)
	DocsDone int64  `json:"docsDone"` // documents read and accounted for
	Done     bool   `json:"done"`
}

// Validation is one `migrate validate` run's result.
type Validation struct {
	RunID  string    `json:"runId,omitempty"`
	At     time.Time `json:"at"`
	Passed bool      `json:"passed"`
	// DriftPercent is the largest drift of any sample, overall or of a
	// namespace.
	DriftPercent float64 `json:"driftPercent"`
	// DriftRatePercent is the share of samples over the drift threshold
	// (what decides pass or fail).
	DriftRatePercent float64            `json:"driftRatePercent"`
	Samples          int                `json:"samples"`
	PerNamespace     map[string]float64 `json:"perNamespace,omitempty"`
}

// Status is where the migration stands, as `migrate status` and the API
// show it.
type Status struct {
	Phase Phase     `json:"phase"`
	Since time.Time `json:"since,omitzero"`
	// Pending is a transition started but neither done nor aborted: its
	// process died mid-way. The next Move continues or rolls it back.
	Pending     *Transition     `json:"pending"`
	Transitions []Transition    `json:"transitions"` // newest first
	Backfill    []IndexProgress `json:"backfill"`
	Validations []Validation    `json:"validations"` // newest first
	// From the rollout flags: use_clickhouse's effective percentage (0
	// when disabled), shadow_write and clickstack_primary.
	RolloutPercent    int  `json:"rolloutPercent"`
	ShadowWrite       bool `json:"shadowWrite"`
	ClickStackPrimary bool `json:"clickstackPrimary"`

	lastSeq uint64
}

// Options configure a Machine.
type Options struct {
	// LockLease is the lease of the "migration" lock (default 60s); a
	// killed holder's lock frees after it (at once on the same host).
	LockLease time.Duration
	// Now is the clock of audit rows and age checks (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger
	// History is how many transitions Status returns (default 200), and
	// Validations how many validation results (default 100).
	History, Validations int
}

// Machine is the migration's state over the store.
type Machine struct {
	st   store.Store
	db   string
	fl   *flags.Service
	opts Options
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns the machine over the tables of database db (the configured
// one). fl, when set, supplies the rollout flags shown by Status; Status
// refreshes it from the store first.
func New(st store.Store, db string, fl *flags.Service, opts Options) (*Machine, error) {
	if st == nil {
		return nil, errors.New("migration state: no store")
	}
	if db == "" {
		db = "otel"
	}
	if !identRE.MatchString(db) {
		return nil, fmt.Errorf("migration state: database name %q: use letters, digits and underscores", db)
	}
	if opts.LockLease <= 0 {
		opts.LockLease = 60 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.History <= 0 {
		opts.History = 200
	}
	if opts.Validations <= 0 {
		opts.Validations = 100
	}
	return &Machine{st: st, db: db, fl: fl, opts: opts}, nil
}

// Flags is the machine's flag service (nil when it has none).
func (m *Machine) Flags() *flags.Service { return m.fl }

func (m *Machine) table(t string) string { return store.QuoteIdent(m.db) + "." + store.QuoteIdent(t) }

// transitionRow is one row of obsplane_migration_transitions.
type transitionRow struct {
	Seq    uint64            `json:"Seq"`
	Status string            `json:"Status"`
	From   string            `json:"FromPhase"`
	To     string            `json:"ToPhase"`
	Actor  string            `json:"Actor"`
	Reason string            `json:"Reason"`
	Detail map[string]string `json:"Detail"`
	At     int64             `json:"at"`
}

// Status reads the migration's state: the phase, a pending transition, the
// audit, backfill progress, validation results and the flags.
func (m *Machine) Status(ctx context.Context) (Status, error) {
	var s Status
	if err := m.loadTransitions(ctx, &s); err != nil {
		return s, err
	}
	if err := m.loadBackfill(ctx, &s); err != nil {
		return s, err
	}
	if err := m.loadValidations(ctx, &s); err != nil {
		return s, err
	}
	if m.fl != nil {
		if err := m.fl.Refresh(ctx); err != nil {
			return s, fmt.Errorf("migration state: read the rollout flags: %w", err)
		}
		if f, ok := m.fl.Get(flags.UseClickHouse); ok && f.Enabled {
			s.RolloutPercent = f.RolloutPercentage
		}
		if f, ok := m.fl.Get(flags.ShadowWrite); ok {
			s.ShadowWrite = f.Enabled
		}
		if f, ok := m.fl.Get(flags.ClickStackPrimary); ok {
			s.ClickStackPrimary = f.Enabled
		}
	}
	return s, nil
}

func (m *Machine) loadTransitions(ctx context.Context, s *Status) error {
	s.Phase = Off
	// The phase is the newest done transition's target; looked up apart
	// from the history so a long run of aborted steps cannot hide it.
	last, err := store.ScanAll[struct {
		To   string `json:"ToPhase"`
		At   int64  `json:"at"`
		Last uint64 `json:"last"`
	}](ctx, m.st, "SELECT argMaxIf(ToPhase, (Seq, At), Status = 'done') AS ToPhase, toUnixTimestamp64Milli(argMaxIf(At, (Seq, At), Status = 'done')) AS at, max(Seq) AS last, countIf(Status = 'done') AS n FROM "+
		m.table("obsplane_migration_transitions"), nil)
	if err != nil {
		return fmt.Errorf("migration state: read the phase: %w", err)
	}
	if len(last) == 1 {
		s.lastSeq = last[0].Last
		if last[0].To != "" {
			p, err := ParsePhase(last[0].To)
			if err != nil {
				return fmt.Errorf("migration state: stored phase: %w", err)
			}
			s.Phase, s.Since = p, time.UnixMilli(last[0].At).UTC()
		}
	}
	rows, err := store.ScanAll[transitionRow](ctx, m.st, "SELECT Seq, Status, FromPhase, ToPhase, Actor, Reason, Detail, toUnixTimestamp64Milli(At) AS at FROM "+
		m.table("obsplane_migration_transitions")+" WHERE Seq + {n:UInt64} > {last:UInt64} ORDER BY Seq DESC, At",
		store.Params{"n": strconv.Itoa(m.opts.History), "last": strconv.FormatUint(s.lastSeq, 10)})
	if err != nil {
		return fmt.Errorf("migration state: read the transitions: %w", err)
	}
	s.Transitions = fold(rows)
	for i := range s.Transitions {
		if t := s.Transitions[i]; t.Status == Started {
			s.Pending = &t
			break
		}
	}
	return nil
}

// fold turns rows (by Seq descending) into transitions: the started row
// gives who, what and why; a done or aborted row the end.
func fold(rows []transitionRow) []Transition {
	var out []Transition
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Seq != r.Seq {
			out = append(out, Transition{Seq: r.Seq, Status: Started})
		}
		t := &out[len(out)-1]
		at := time.UnixMilli(r.At).UTC()
		for k, v := range r.Detail {
			if t.Detail == nil {
				t.Detail = map[string]string{}
			}
			t.Detail[k] = v
		}
		if r.Status == Started {
			t.From, t.To, t.Actor, t.Reason, t.At = Phase(r.From), Phase(r.To), r.Actor, r.Reason, at
			continue
		}
		if t.From == "" {
			t.From, t.To = Phase(r.From), Phase(r.To)
		}
		t.Status, t.FinishedAt, t.Outcome = r.Status, at, r.Reason
	}
	return out
}

func (m *Machine) loadBackfill(ctx context.Context, s *Status) error {
	rows, err := store.ScanAll[struct {
		Index    string `json:"idx"`
		Signal   string `json:"signal"`
		Docs     int64  `json:"docs"`
		DocsDone int64  `json:"done_docs"`
		Done     uint8  `json:"done"`
	}](ctx, m.st, `SELECT Unit AS idx, any(Signal) AS signal, toInt64(max(Docs)) AS docs, toInt64(sum(Read)) AS done_docs,
		min(Done) = 1 AND count() >= max(Slices) AS done
		FROM (SELECT Unit, Slice, argMax(Signal, Version) AS Signal, argMax(Docs, Version) AS Docs, argMax(Read, Version) AS Read,
			argMax(Done, Version) AS Done, argMax(Slices, Version) AS Slices
			FROM `+m.table("obsplane_backfill_checkpoints")+` GROUP BY Unit, Slice)
		GROUP BY Unit ORDER BY Unit`, nil)
	if err != nil {
		return fmt.Errorf("migration state: read the backfill checkpoints: %w", err)
	}
	for _, r := range rows {
		s.Backfill = append(s.Backfill, IndexProgress{Index: r.Index, Signal: r.Signal, Docs: r.Docs, DocsDone: r.DocsDone, Done: r.Done == 1})
	}
	return nil
}

func (m *Machine) loadValidations(ctx context.Context, s *Status) error {
	rows, err := store.ScanAll[struct {
		RunID  string             `json:"RunID"`
		At     int64              `json:"at"`
		Passed uint8              `json:"Passed"`
		Drift  float64            `json:"DriftPercent"`
		Rate   float64            `json:"DriftRatePercent"`
		N      uint32             `json:"Samples"`
		PerNS  map[string]float64 `json:"PerNamespace"`
	}](ctx, m.st, "SELECT RunID, toUnixTimestamp64Milli(At) AS at, Passed, DriftPercent, DriftRatePercent, Samples, PerNamespace FROM "+
		m.table("obsplane_migration_validations")+" ORDER BY At DESC LIMIT {n:UInt32}", store.Params{"n": strconv.Itoa(m.opts.Validations)})
	if err != nil {
		return fmt.Errorf("migration state: read the validations: %w", err)
	}
	for _, r := range rows {
		v := Validation{RunID: r.RunID, At: time.UnixMilli(r.At).UTC(), Passed: r.Passed == 1, DriftPercent: r.Drift, DriftRatePercent: r.Rate, Samples: int(r.N)}
		if len(r.PerNS) > 0 {
			v.PerNamespace = r.PerNS
		}
		s.Validations = append(s.Validations, v)
	}
	return nil
}

// Step is one transition with everything Run needs.
type Step struct {
	To            Phase
	Actor, Reason string
	// Detail is recorded on the started row.
	Detail map[string]string
	// Check runs under the lock before anything is written, on the status
	// as it is then; an error refuses the step (wrap ErrRefused) and
	// nothing is written.
	Check func(ctx context.Context, s Status) error
	// Act is the step's side effects, run between the started and the end
	// row; what it puts in detail is recorded on the end row. An error
	// aborts the step: the phase stays where it was.
	Act func(ctx context.Context, detail map[string]string) error
}

// Move runs the transition to `to` under the store lock "migration":
// it writes a started row, runs act, then a done row; when act fails it
// writes an aborted row and the phase stays. Two Moves at once, in one
// process or two, do not wait for each other: the second returns an error
// wrapping migrate.ErrLocked that names the holder, and writes nothing.
//
// A transition left pending by a crash is continued by a Move to its own
// target (act runs again, so it must be safe to repeat), and rolled back by
// a Move anywhere else: to its origin, act runs as the undo and the pending
// transition is marked aborted; to another phase, it is marked aborted and
// the step must be allowed from its origin.
func (m *Machine) Move(ctx context.Context, to Phase, actor, reason string, act func(ctx context.Context) error) error {
	s := Step{To: to, Actor: actor, Reason: reason}
	if act != nil {
		s.Act = func(ctx context.Context, _ map[string]string) error { return act(ctx) }
	}
	return m.Run(ctx, s)
}

// Run is Move with a check under the lock and details.
func (m *Machine) Run(ctx context.Context, step Step) error {
	if _, err := ParsePhase(string(step.To)); err != nil {
		return &RefusedError{Reason: err.Error()}
	}
	if step.Actor == "" {
		step.Actor = DefaultActor()
	}
	lk, err := migrate.AcquireLock(ctx, m.st, m.db, "migration", m.opts.LockLease)
	if err != nil {
		return err
	}
	defer lk.Release()
	cur, err := m.Status(ctx)
	if err != nil {
		return err
	}
	log := m.opts.Log.With("to", step.To, "actor", step.Actor)

	var resume, rollback *Transition
	from := cur.Phase
	if p := cur.Pending; p != nil {
		switch step.To {
		case p.To:
			resume = p
		default:
			rollback = p
			from = p.From
		}
	}
	undo := rollback != nil && step.To == rollback.From
	// The step's own check first: its reason says more than the edge's.
	if step.Check != nil {
		if err := step.Check(ctx, cur); err != nil {
			return err
		}
	}
	if resume == nil && !undo && !Allowed(from, step.To) {
		return Refusef("%s -> %s is not a step of the migration (from %s: %s)", from, step.To, from, phaseList(Transitions[from]))
	}
	if rollback != nil && !undo {
		// The pending step is given up before the new one starts, so the
		// audit shows it ended.
		if err := m.write(ctx, rollback.Seq, Aborted, rollback.From, rollback.To, step.Actor,
			fmt.Sprintf("rolled back by %s: moving %s -> %s instead", step.Actor, from, step.To), nil); err != nil {
			return err
		}
		cur.lastSeq = max(cur.lastSeq, rollback.Seq)
	}

	var seq uint64
	switch {
	case resume != nil:
		seq = resume.Seq
		log.Info("migration: continuing a pending transition", "seq", seq, "from", resume.From, "started_by", resume.Actor, "started_at", resume.At)
	case undo:
		seq = rollback.Seq
		log.Info("migration: rolling back a pending transition", "seq", seq, "pending_from", rollback.From, "pending_to", rollback.To)
	default:
		seq = cur.lastSeq + 1
		if err := m.write(ctx, seq, Started, from, step.To, step.Actor, step.Reason, step.Detail); err != nil {
			return err
		}
		log.Info("migration: transition started", "seq", seq, "from", from)
	}
	detail := map[string]string{}
	if step.Act != nil {
		if err := step.Act(ctx, detail); err != nil {
			// The abort row is written even when ctx was cancelled (an
			// interrupted ramp), so the audit says how the step ended.
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			tf, tt := from, step.To
			if undo {
				tf, tt = rollback.From, rollback.To
			} else if resume != nil {
				tf = resume.From
			}
			if undo {
				// A failed undo leaves the pending step pending.
				return fmt.Errorf("roll back of %s -> %s failed (still pending): %w", tf, tt, err)
			}
			if werr := m.write(wctx, seq, Aborted, tf, tt, step.Actor, err.Error(), detail); werr != nil {
				return errors.Join(fmt.Errorf("%s -> %s aborted: %w", tf, tt, err), werr)
			}
			log.Warn("migration: transition aborted", "seq", seq, "err", err)
			return fmt.Errorf("%s -> %s aborted: %w", tf, tt, err)
		}
	}
	switch {
	case undo:
		return m.write(ctx, seq, Aborted, rollback.From, rollback.To, step.Actor, fmt.Sprintf("rolled back by %s: %s", step.Actor, step.Reason), detail)
	case resume != nil:
		if err := m.write(ctx, seq, Done, resume.From, step.To, step.Actor, fmt.Sprintf("continued by %s: %s", step.Actor, step.Reason), detail); err != nil {
			return err
		}
	default:
		if err := m.write(ctx, seq, Done, from, step.To, step.Actor, "", detail); err != nil {
			return err
		}
	}
	log.Info("migration: transition done", "seq", seq)
	return nil
}

func phaseList(ps []Phase) string {
	if len(ps) == 0 {
		return "nothing"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return "allowed " + strings.Join(names, ", ")
}

// write appends one transition row.
func (m *Machine) write(ctx context.Context, seq uint64, status string, from, to Phase, actor, reason string, detail map[string]string) error {
	host, _ := os.Hostname()
	keys := make([]string, 0, len(detail))
	for k := range detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(k) + ":" + quote(detail[k]))
	}
	b.WriteByte('}')
	err := m.st.Exec(ctx, "INSERT INTO "+m.table("obsplane_migration_transitions")+" (Seq, Status, FromPhase, ToPhase, Actor, Reason, Detail, Host, At) "+
		"SELECT {seq:UInt64}, {status:String}, {from:String}, {to:String}, {actor:String}, {reason:String}, {detail:Map(String, String)}, {host:String}, fromUnixTimestamp64Milli({at:Int64})",
		store.Params{"seq": strconv.FormatUint(seq, 10), "status": status, "from": string(from), "to": string(to), "actor": actor, "reason": reason,
			"detail": b.String(), "host": host, "at": strconv.FormatInt(m.opts.Now().UnixMilli(), 10)})
	if err != nil {
		return fmt.Errorf("migration state: write the %s row of %s -> %s: %w", status, from, to, err)
	}
	return nil
}

// quote renders s as a string literal of a parameter's text form.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// DefaultActor is who runs a command when --actor is not given: the user
// and host.
func DefaultActor() string {
	u := os.Getenv("USER")
	if u == "" {
		u = "unknown"
	}
	h, _ := os.Hostname()
	return u + "@" + h
}

// RecordValidation keeps v in obsplane_migration_validations, with the
// phase it was run in.
func (m *Machine) RecordValidation(ctx context.Context, v Validation, phase Phase, actor string) error {
	keys := make([]string, 0, len(v.PerNamespace))
	for k := range v.PerNamespace {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quote(k) + ":" + strconv.FormatFloat(v.PerNamespace[k], 'f', -1, 64))
	}
	b.WriteByte('}')
	passed := "0"
	if v.Passed {
		passed = "1"
	}
	at := v.At
	if at.IsZero() {
		at = m.opts.Now()
	}
	err := m.st.Exec(ctx, "INSERT INTO "+m.table("obsplane_migration_validations")+" (RunID, At, Passed, DriftPercent, DriftRatePercent, Samples, PerNamespace, Phase, Actor) "+
		"SELECT {run:String}, fromUnixTimestamp64Milli({at:Int64}), {passed:UInt8}, {drift:Float64}, {rate:Float64}, {n:UInt32}, {ns:Map(String, Float64)}, {phase:String}, {actor:String}",
		store.Params{"run": v.RunID, "at": strconv.FormatInt(at.UnixMilli(), 10), "passed": passed,
			"drift": strconv.FormatFloat(v.DriftPercent, 'f', -1, 64), "rate": strconv.FormatFloat(v.DriftRatePercent, 'f', -1, 64),
			"n": strconv.Itoa(v.Samples), "ns": b.String(), "phase": string(phase), "actor": actor})
	if err != nil {
		return fmt.Errorf("migration state: record the validation: %w", err)
	}
	return nil
}

// ValidationOf summarizes a validation report: the largest drift of any
// sample (overall or of a group) and, when the run grouped by namespace,
// each namespace's largest drift.
func ValidationOf(rep *migrate.ValidationReport) Validation {
	v := Validation{RunID: rep.RunID, At: rep.FinishedAt, Passed: rep.Passed, DriftRatePercent: rep.DriftRatePercent, Samples: rep.TotalSamples}
	for _, smp := range rep.Samples {
		for _, sd := range smp.Signals {
			v.DriftPercent = max(v.DriftPercent, sd.DriftPercent)
			groups := sd.Groups
			if len(groups) == 0 {
				groups = sd.GroupsOver
			}
			for _, g := range groups {
				v.DriftPercent = max(v.DriftPercent, g.DriftPercent)
				if rep.GroupBy != "namespace" {
					continue
				}
				if v.PerNamespace == nil {
					v.PerNamespace = map[string]float64{}
				}
				v.PerNamespace[g.Group] = max(v.PerNamespace[g.Group], g.DriftPercent)
			}
		}
	}
	return v
}
