// Package flags holds obsplane's rollout flags: their sticky per-user
// bucketing, their persistence in ClickHouse and their audit trail.
//
// A flag is a switch (Enabled) and a percentage (RolloutPercentage). A user
// is in a flag's rollout when the flag is enabled and the user's bucket is
// below the percentage. The bucket is
//
//	FNV-1a 64 (user id + "\x00" + flag name) mod 100
//
// so it depends only on the user and the flag: the same user lands in the
// same bucket in every process and after every restart, and raising the
// percentage only ever adds users (a user in bucket b is in at every
// percentage above b). Hashing the flag name in keeps two flags' rollouts
// independent of each other.
//
// Flags live in the table obsplane_flags (one row per change, a
// ReplacingMergeTree keyed by Name with UpdatedAt as the version). Readers
// take the newest row per name with argMax, which is correct before and
// after background merges and on a Distributed table alike. Value holds the
// flag's JSON ({"enabled":true,"rolloutPercentage":20}). Every change also
// appends a row to obsplane_flag_audit: when, who, old and new value, why.
//
// A Service caches the flags in memory, so a routing decision never touches
// the store; Run refreshes the cache periodically to pick up changes made
// by other obsplane processes.
package flags

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// UseClickHouse is the flag that moves users' reads from OpenSearch to
// ClickHouse during the gradual switch (docs/DESIGN.md, Migration from
// OpenSearch).
const UseClickHouse = "use_clickhouse"

// ShadowWrite is the runtime dual-write switch: enabled, the gateway also
// writes logs and traces into OpenSearch (the contract of issue 11: the
// exporter stays in the pipeline and a gate consults this flag per batch).
const ShadowWrite = "shadow_write"

// ClickStackPrimary, enabled, sends every read to ClickHouse, as if
// observer.telemetry.backend were clickstack: the cutover's primary switch.
const ClickStackPrimary = "clickstack_primary"

// Buckets is the number of rollout buckets: one per percentage point.
const Buckets = 100

// Bucket returns user's bucket for flag, in 0..Buckets-1. See the package
// documentation for the hash; it must never change, or users would switch
// backends on upgrade.
func Bucket(user, flag string) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(user))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(flag))
	return int(h.Sum64() % Buckets)
}

// Flag is one flag's state.
type Flag struct {
	Name              string `json:"name"`
	Enabled           bool   `json:"enabled"`
	RolloutPercentage int    `json:"rolloutPercentage"`
	Description       string `json:"description,omitempty"`
	// UpdatedAt and UpdatedBy are zero for a flag never changed (its
	// built-in default).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`
}

// Includes reports whether user is in f's rollout.
func (f Flag) Includes(user string) bool {
	return f.Enabled && Bucket(user, f.Name) < f.RolloutPercentage
}

// value is what the Value column stores: the settable part of a flag.
type value struct {
	Enabled           bool `json:"enabled"`
	RolloutPercentage int  `json:"rolloutPercentage"`
}

func (f Flag) value() string {
	b, _ := json.Marshal(value{Enabled: f.Enabled, RolloutPercentage: f.RolloutPercentage})
	return string(b)
}

// Definition declares a flag the service knows, with the state it has until
// someone changes it. Only defined flags exist: the API answers 404 for any
// other name, so a typo never creates a flag.
type Definition struct {
	Name        string
	Description string
	Enabled     bool
	Percentage  int
}

// Change is a partial update; nil fields stay as they are.
type Change struct {
	Enabled           *bool
	RolloutPercentage *int
}

// ErrUnknownFlag is returned for a name with no Definition.
var ErrUnknownFlag = errors.New("unknown flag")

// ErrInvalid is returned for a change that would make a flag invalid.
var ErrInvalid = errors.New("invalid flag change")

// Validate checks c on its own: a percentage in 0..100 and at least one field.
func (c Change) Validate() error {
	if c.Enabled == nil && c.RolloutPercentage == nil {
		return fmt.Errorf("%w: nothing to change (set enabled and/or rolloutPercentage)", ErrInvalid)
	}
	if p := c.RolloutPercentage; p != nil && (*p < 0 || *p > 100) {
		return fmt.Errorf("%w: rolloutPercentage %d is outside 0..100", ErrInvalid, *p)
	}
	return nil
}

// AuditEntry is one row of the audit trail.
type AuditEntry struct {
	At       time.Time `json:"at"`
	Name     string    `json:"name"`
	OldValue string    `json:"oldValue"`
	NewValue string    `json:"newValue"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"`
}

// Service is the flag cache over the store. Every method is safe for
// concurrent use.
type Service struct {
	st   store.Store
	db   string
	now  func() time.Time
	log  *slog.Logger
	defs map[string]Definition

	// writeMu serialises changes in this process so that the old value an
	// audit row records is the value the change replaced.
	writeMu sync.Mutex

	mu    sync.RWMutex
	flags map[string]Flag
	// pending holds writes the store refused (it was down) for changes that
	// must hold anyway — an automatic rollback. They are retried, in order,
	// before every refresh, and the flags they touch keep their in-memory
	// value until they are written, so a refresh can never undo them.
	pending []pendingWrite
}

type pendingWrite struct {
	flag   *Flag // nil for an audit-only write
	audit  AuditEntry
	noFlag bool
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns a service for the given flags over the tables in database db.
// It does no I/O: call Refresh to load what is stored. now is the clock for
// UpdatedAt and audit times (time.Now when nil).
func New(st store.Store, db string, defs []Definition, now func() time.Time, log *slog.Logger) (*Service, error) {
	if db == "" {
		db = "otel"
	}
	if !identRE.MatchString(db) {
		return nil, fmt.Errorf("flags: database name %q: use letters, digits and underscores", db)
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Service{st: st, db: db, now: now, log: log, defs: map[string]Definition{}, flags: map[string]Flag{}}
	for _, d := range defs {
		if d.Percentage < 0 || d.Percentage > 100 {
			return nil, fmt.Errorf("flags: %s: default percentage %d outside 0..100", d.Name, d.Percentage)
		}
		s.defs[d.Name] = d
		s.flags[d.Name] = Flag{Name: d.Name, Enabled: d.Enabled, RolloutPercentage: d.Percentage, Description: d.Description}
	}
	return s, nil
}

func (s *Service) table(t string) string { return "`" + s.db + "`.`" + t + "`" }

// Get returns the cached flag.
func (s *Service) Get(name string) (Flag, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.flags[name]
	return f, ok
}

// List returns every defined flag, sorted by name.
func (s *Service) List() []Flag {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Flag, 0, len(s.flags))
	for _, f := range s.flags {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Pending returns how many writes wait for the store.
func (s *Service) Pending() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.pending)
}

// Refresh writes what is pending, then reloads every defined flag from the
// store. A stored value that does not decode is logged and skipped (the flag
// keeps its cached value) rather than failing the others.
func (s *Service) Refresh(ctx context.Context) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.flushPending(ctx); err != nil {
		return err
	}
	stored, err := s.load(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, f := range stored {
		d, ok := s.defs[name]
		if !ok {
			continue // a flag this version does not know; leave it alone
		}
		f.Description = d.Description
		s.flags[name] = f
	}
	return nil
}

// Run refreshes every interval until ctx ends. Failures are logged; the
// cache keeps serving the last known values.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("flags: refresh failed; serving cached flags", "err", err, "pending", s.Pending())
			}
		}
	}
}

// load reads the newest row of every stored flag.
func (s *Service) load(ctx context.Context) (map[string]Flag, error) {
	// argMax by UpdatedAt is what FINAL would keep, without FINAL's cost
	// and independent of whether the table is local or Distributed.
	q := `SELECT Name AS name,
       argMax(Value, UpdatedAt) AS value,
       argMax(UpdatedBy, UpdatedAt) AS by,
       toUnixTimestamp64Milli(max(UpdatedAt)) AS at,
       argMax(Deleted, UpdatedAt) AS deleted
FROM ` + s.table("obsplane_flags") + `
GROUP BY Name`
	rows, err := s.st.Query(ctx, q, nil)
	if err != nil {
		return nil, fmt.Errorf("flags: load from %s: %w", s.table("obsplane_flags"), err)
	}
	defer rows.Close()
	out := map[string]Flag{}
	for rows.Next() {
		var r struct {
			Name    string `json:"name"`
			Value   string `json:"value"`
			By      string `json:"by"`
			At      int64  `json:"at"`
			Deleted uint8  `json:"deleted"`
		}
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("flags: decode row: %w", err)
		}
		if r.Deleted != 0 {
			continue
		}
		var v value
		if err := json.Unmarshal([]byte(r.Value), &v); err != nil || v.RolloutPercentage < 0 || v.RolloutPercentage > 100 {
			s.log.Error("flags: stored value is not valid; keeping the cached one", "flag", r.Name, "value", r.Value, "err", err)
			continue
		}
		out[r.Name] = Flag{Name: r.Name, Enabled: v.Enabled, RolloutPercentage: v.RolloutPercentage, UpdatedAt: time.UnixMilli(r.At).UTC(), UpdatedBy: r.By}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("flags: load: %w", err)
	}
	return out, nil
}

// Update applies c to flag name on behalf of actor, writes it and its audit
// row, and returns the old and new states. When the store refuses the flag
// write nothing changes and the error says why. When only the audit write
// fails the change stands and the audit row is queued for the next refresh.
func (s *Service) Update(ctx context.Context, name string, c Change, actor, reason string) (old, cur Flag, err error) {
	return s.update(ctx, name, c, actor, reason, false)
}

// Force is Update for changes that must take effect even when the store is
// down — an automatic rollback, which fires precisely when ClickHouse may be
// unreachable. A failed write is applied in memory anyway and queued; the
// returned error only reports that it is not persisted yet.
func (s *Service) Force(ctx context.Context, name string, c Change, actor, reason string) (old, cur Flag, err error) {
	return s.update(ctx, name, c, actor, reason, true)
}

func (s *Service) update(ctx context.Context, name string, c Change, actor, reason string, force bool) (old, cur Flag, err error) {
	if _, ok := s.defs[name]; !ok {
		return Flag{}, Flag{}, fmt.Errorf("%w %q", ErrUnknownFlag, name)
	}
	if err := c.Validate(); err != nil {
		return Flag{}, Flag{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	// Pending writes go first, so that this change's row is newer than
	// theirs in the store as it is here.
	if err := s.flushPending(ctx); err != nil && !force {
		return Flag{}, Flag{}, err
	}
	old, _ = s.Get(name)
	cur = old
	if c.Enabled != nil {
		cur.Enabled = *c.Enabled
	}
	if c.RolloutPercentage != nil {
		cur.RolloutPercentage = *c.RolloutPercentage
	}
	// UpdatedAt is the ReplacingMergeTree version: it must grow strictly,
	// or two changes in one millisecond (or a clock behind another
	// process's) would leave the engine to pick either.
	at := s.now().UTC().Truncate(time.Millisecond)
	if !at.After(old.UpdatedAt) {
		at = old.UpdatedAt.Add(time.Millisecond)
	}
	cur.UpdatedAt, cur.UpdatedBy = at, actor
	audit := AuditEntry{At: at, Name: name, OldValue: old.value(), NewValue: cur.value(), Actor: actor, Reason: reason}

	if err := s.writeFlag(ctx, cur); err != nil {
		if !force {
			return old, old, err
		}
		s.mu.Lock()
		s.flags[name] = cur
		s.pending = append(s.pending, pendingWrite{flag: &cur, audit: audit})
		s.mu.Unlock()
		return old, cur, fmt.Errorf("flag %s applied in memory, not yet persisted (retried on refresh): %w", name, err)
	}
	s.mu.Lock()
	s.flags[name] = cur
	s.mu.Unlock()
	if err := s.writeAudit(ctx, audit); err != nil {
		s.log.Error("flags: audit write failed; queued for retry", "flag", name, "err", err)
		s.mu.Lock()
		s.pending = append(s.pending, pendingWrite{audit: audit, noFlag: true})
		s.mu.Unlock()
	}
	return old, cur, nil
}

// flushPending writes queued changes in order and stops at the first
// failure. The caller holds writeMu.
func (s *Service) flushPending(ctx context.Context) error {
	for {
		s.mu.RLock()
		if len(s.pending) == 0 {
			s.mu.RUnlock()
			return nil
		}
		p := s.pending[0]
		s.mu.RUnlock()
		if !p.noFlag {
			if err := s.writeFlag(ctx, *p.flag); err != nil {
				return fmt.Errorf("flags: %d pending write(s) not persisted: %w", s.Pending(), err)
			}
			// The flag row is in; from here only the audit row is owed.
			s.mu.Lock()
			s.pending[0].noFlag = true
			s.mu.Unlock()
		}
		if err := s.writeAudit(ctx, p.audit); err != nil {
			return fmt.Errorf("flags: %d pending audit row(s) not persisted: %w", s.Pending(), err)
		}
		s.mu.Lock()
		s.pending = s.pending[1:]
		s.mu.Unlock()
	}
}

func (s *Service) writeFlag(ctx context.Context, f Flag) error {
	q := `INSERT INTO ` + s.table("obsplane_flags") + ` (Name, Value, UpdatedAt, UpdatedBy, Deleted)
SELECT {name:String}, {value:String}, fromUnixTimestamp64Milli({at:Int64}), {by:String}, 0`
	err := s.st.Exec(ctx, q, store.Params{
		"name": f.Name, "value": f.value(), "at": strconv.FormatInt(f.UpdatedAt.UnixMilli(), 10), "by": f.UpdatedBy,
	})
	if err != nil {
		return fmt.Errorf("flags: write %s: %w", f.Name, err)
	}
	return nil
}

func (s *Service) writeAudit(ctx context.Context, a AuditEntry) error {
	q := `INSERT INTO ` + s.table("obsplane_flag_audit") + ` (At, Name, OldValue, NewValue, Actor, Reason)
SELECT fromUnixTimestamp64Milli({at:Int64}), {name:String}, {old:String}, {new:String}, {actor:String}, {reason:String}`
	err := s.st.Exec(ctx, q, store.Params{
		"at": strconv.FormatInt(a.At.UnixMilli(), 10), "name": a.Name, "old": a.OldValue, "new": a.NewValue,
		"actor": a.Actor, "reason": a.Reason,
	})
	if err != nil {
		return fmt.Errorf("flags: write audit for %s: %w", a.Name, err)
	}
	return nil
}

// Audit returns the newest limit audit rows of flag name, newest first.
func (s *Service) Audit(ctx context.Context, name string, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT toUnixTimestamp64Milli(At) AS at, Name AS name, OldValue AS old, NewValue AS new, Actor AS actor, Reason AS reason
FROM ` + s.table("obsplane_flag_audit") + `
WHERE Name = {name:String}
ORDER BY At DESC
LIMIT {limit:UInt32}`
	rows, err := s.st.Query(ctx, q, store.Params{"name": name, "limit": strconv.Itoa(limit)})
	if err != nil {
		return nil, fmt.Errorf("flags: read audit of %s: %w", name, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var r struct {
			At     int64  `json:"at"`
			Name   string `json:"name"`
			Old    string `json:"old"`
			New    string `json:"new"`
			Actor  string `json:"actor"`
			Reason string `json:"reason"`
		}
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("flags: decode audit row: %w", err)
		}
		out = append(out, AuditEntry{At: time.UnixMilli(r.At).UTC(), Name: r.Name, OldValue: r.Old, NewValue: r.New, Actor: r.Actor, Reason: r.Reason})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("flags: read audit of %s: %w", name, err)
	}
	return out, nil
}
