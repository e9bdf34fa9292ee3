package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// State says where one migration stands in a database.
type State string

const (
	// Applied: recorded in schema_migrations with this binary's checksum.
	Applied State = "applied"
	// Pending: known to this binary, not yet applied.
	Pending State = "pending"
	// Modified: applied, but the recorded checksum differs from this
	// binary's source. Apply refuses to run until that is resolved.
	Modified State = "modified"
	// Unknown: applied by a newer obsplane; this binary does not know it.
	Unknown State = "unknown"
)

// VersionStatus is one line of `obsplane schema status`.
type VersionStatus struct {
	Version Version
	Name    string
	State   State
	// Checksum is this binary's checksum, or the recorded one for an
	// Unknown version.
	Checksum string
	// Recorded is the checksum in schema_migrations, empty when pending.
	Recorded string
	// AppliedAt is when the migration was recorded; zero when pending.
	AppliedAt time.Time
}

// record is one row of schema_migrations.
type record struct {
	Version   Version
	Name      string
	Checksum  string
	AppliedAt time.Time
}

// Apply brings the database up to this binary's newest migration and returns
// the versions it applied, in order. A second Apply applies nothing.
//
// Before it changes anything Apply reads schema_migrations, and it stops with
// an error, leaving the database untouched, when the database holds a version
// newer than this binary knows (an older obsplane must not run against a
// schema it does not understand) or when an applied migration's recorded
// checksum differs from this binary's source.
//
// When the connected engine supports text indexes, Apply turns on
// o.TextIndex, as the exporter does.
func Apply(ctx context.Context, st store.Store, o Options) (applied []Version, err error) {
	o, err = o.normalize()
	if err != nil {
		return nil, err
	}
	recs, err := readApplied(ctx, st, o)
	if err != nil {
		return nil, err
	}
	if err := check(recs); err != nil {
		return nil, err
	}
	if !o.TextIndex {
		o.TextIndex, err = SupportsTextIndex(ctx, st)
		if err != nil {
			return nil, err
		}
	}
	done := make(map[Version]bool, len(recs))
	for _, r := range recs {
		done[r.Version] = true
	}
	for _, m := range loadMigrations() {
		if done[m.Version] {
			continue
		}
		sqls, err := m.render(o)
		if err != nil {
			return applied, err
		}
		for i, q := range sqls {
			if err := execLong(ctx, st, q, o.StatementTimeout); err != nil {
				return applied, fmt.Errorf("apply migration %d %s (statement %d of %d): %w", m.Version, m.Name, i+1, len(sqls), err)
			}
		}
		if err := recordApplied(ctx, st, o, m); err != nil {
			return applied, fmt.Errorf("apply migration %d %s: record it: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// execLong runs one migration statement, bounded by timeout (or
// DefaultStatementTimeout) when ctx has no deadline.
func execLong(ctx context.Context, st store.Store, q string, timeout time.Duration) error {
	if _, ok := ctx.Deadline(); !ok {
		if timeout <= 0 {
			timeout = DefaultStatementTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return st.Exec(ctx, q, nil)
}

// Status lists every migration this binary knows, and any newer one the
// database holds, with its state. It changes nothing.
func Status(ctx context.Context, st store.Store, o Options) ([]VersionStatus, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	recs, err := readApplied(ctx, st, o)
	if err != nil {
		return nil, err
	}
	byVersion := make(map[Version]record, len(recs))
	for _, r := range recs {
		byVersion[r.Version] = r
	}
	var out []VersionStatus
	for _, m := range loadMigrations() {
		s := VersionStatus{Version: m.Version, Name: m.Name, Checksum: m.Checksum, State: Pending}
		if r, ok := byVersion[m.Version]; ok {
			s.Recorded, s.AppliedAt = r.Checksum, r.AppliedAt
			s.State = Applied
			if r.Checksum != m.Checksum {
				s.State = Modified
			}
			delete(byVersion, m.Version)
		}
		out = append(out, s)
	}
	for _, r := range byVersion {
		out = append(out, VersionStatus{Version: r.Version, Name: r.Name, State: Unknown, Checksum: r.Checksum, Recorded: r.Checksum, AppliedAt: r.AppliedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// check refuses a database this binary must not touch.
func check(recs []record) error {
	latest := Latest()
	var newest Version
	for _, r := range recs {
		newest = max(newest, r.Version)
	}
	if newest > latest {
		return fmt.Errorf("schema version %d is newer than this obsplane (knows up to %d); upgrade obsplane", newest, latest)
	}
	ms := loadMigrations()
	for _, r := range recs {
		if r.Version == 0 {
			return fmt.Errorf("schema_migrations holds version 0, which no obsplane writes")
		}
		m := ms[r.Version-1]
		if r.Checksum != m.Checksum {
			return fmt.Errorf("migration %d %s was applied with checksum %s but this obsplane's is %s; a released migration must never change, so this binary and the database disagree about the schema", r.Version, m.Name, short(r.Checksum), short(m.Checksum))
		}
	}
	return nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// readApplied returns the recorded migrations, none when the database or
// schema_migrations does not exist yet. It looks in system.tables first so
// that a fresh server is not an error and nothing is created by looking.
func readApplied(ctx context.Context, st store.Store, o Options) ([]record, error) {
	rows, err := st.Query(ctx, "SELECT count() AS N FROM system.tables WHERE database = {db:String} AND name = 'schema_migrations'",
		store.Params{"db": o.Database})
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	// json.Number takes the count whether the store quotes 64-bit
	// integers or not.
	var exists struct{ N json.Number }
	for rows.Next() {
		if err := rows.Scan(&exists); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	if n, _ := exists.N.Int64(); n == 0 {
		return nil, nil
	}
	// Two processes applying at once can record a version twice;
	// grouping by version makes that harmless.
	rows, err = st.Query(ctx, "SELECT Version, argMax(Name, AppliedAt) AS Name, argMax(Checksum, AppliedAt) AS Checksum, "+
		"toUnixTimestamp64Milli(min(AppliedAt)) AS AppliedAtMs FROM `"+o.Database+"`.schema_migrations GROUP BY Version ORDER BY Version", nil)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	var recs []record
	for rows.Next() {
		var r struct {
			Version     json.Number
			Name        string
			Checksum    string
			AppliedAtMs json.Number
		}
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		v, err := strconv.ParseUint(r.Version.String(), 10, 32)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: version %q: %w", r.Version, err)
		}
		ms, err := r.AppliedAtMs.Int64()
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read schema_migrations: applied_at %q: %w", r.AppliedAtMs, err)
		}
		recs = append(recs, record{Version: Version(v), Name: r.Name, Checksum: r.Checksum, AppliedAt: time.UnixMilli(ms).UTC()})
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return recs, nil
}

func closeRows(rows store.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

// recordApplied writes m into schema_migrations. On a cluster the insert
// goes through the Distributed table synchronously, so the next Status or
// Apply sees it.
func recordApplied(ctx context.Context, st store.Store, o Options, m Migration) error {
	var settings []store.Setting
	if o.Cluster != "" {
		settings = append(settings, store.Setting{Name: "distributed_foreground_insert", Value: "1"})
	}
	return st.Exec(ctx, "INSERT INTO `"+o.Database+"`.schema_migrations (Version, Name, Checksum) "+
		"SELECT {v:UInt32}, {n:String}, {c:String}",
		store.Params{"v": strconv.FormatUint(uint64(m.Version), 10), "n": m.Name, "c": m.Checksum}, settings...)
}

// SupportsTextIndex reports whether the connected engine creates text
// indexes without experimental settings: version 26.2 or newer, the same
// test the exporter v0.161.0 makes.
func SupportsTextIndex(ctx context.Context, st store.Store) (bool, error) {
	rows, err := st.Query(ctx, "SELECT version() AS v", nil)
	if err != nil {
		return false, fmt.Errorf("read engine version: %w", err)
	}
	var r struct{ V string }
	for rows.Next() {
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return false, fmt.Errorf("read engine version: %w", err)
		}
	}
	if err := closeRows(rows); err != nil {
		return false, fmt.Errorf("read engine version: %w", err)
	}
	return versionAtLeast(r.V, 26, 2), nil
}

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
