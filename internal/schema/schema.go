// Package schema owns obsplane's ClickHouse schema: the ClickStack-compatible
// telemetry tables in database otel and obsplane's own state tables, created
// and evolved by versioned migrations.
//
// The telemetry tables match, column for column, what the OpenTelemetry
// Collector contrib clickhouseexporter v0.161.0 creates, so HyperDX, the
// Grafana ClickHouse datasource's OTel mode and existing ClickStack queries
// work unchanged. obsplane's additions (tenant columns, extra indexes, the
// per-second metric rollup) come after the upstream columns, never instead of
// them. The test suite checks this against the upstream DDL in a real engine.
//
// Migrations are embedded SQL files, migrations/NNNN_name.sql, written as
// text/template so that one source renders both forms:
//
//   - single node (the embedded engine or one server): MergeTree tables with
//     the public names;
//   - a cluster (Options.Cluster set): ON CLUSTER DDL, ReplicatedMergeTree
//     tables named <table>_local, and Distributed tables with the public
//     names over them. Materialized views fire on the local tables and write
//     through the Distributed tables.
//
// Every statement is idempotent (IF NOT EXISTS), because a process can die
// between running a migration and recording it; the next Apply runs it again.
// Applied migrations are recorded with a checksum of their source in
// schema_migrations. A migration that has been released never changes: a
// new schema change is a new file with the next number.
package schema

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Version numbers a migration. Versions start at 1 and have no gaps.
type Version uint32

// Migration is one embedded schema change.
type Migration struct {
	Version Version
	// Name is the file name's descriptive part: 0002_otel_logs.sql is
	// "otel_logs".
	Name string
	// Checksum is the hex SHA-256 of the migration's source file. It is
	// recorded when the migration is applied; a later binary whose source
	// differs is refused, because the database would no longer be what the
	// source says.
	Checksum string

	source string
}

// Source returns the migration's template text as embedded.
func (m Migration) Source() string { return m.source }

// Statement is one rendered SQL statement, in the order it must run.
type Statement struct {
	Version Version
	Name    string // the migration's name
	SQL     string
}

// Options shape the rendered DDL. The zero value is valid: database "otel",
// single node, no TTL.
type Options struct {
	// Database holds every table. Empty means "otel".
	Database string
	// Cluster, when set, renders ON CLUSTER DDL with Replicated local
	// tables and Distributed tables over them. It names a cluster in the
	// servers' remote_servers configuration, whose macros define {shard}
	// and {replica}.
	Cluster string
	// DeleteAfter drops telemetry older than this (by the row's own
	// timestamp). Zero keeps it forever. The default is 13 months.
	DeleteAfter time.Duration
	// Hot, Warm and Cold are the ages at which telemetry moves to the
	// storage policy's volumes named 'hot', 'warm' and 'cold' (for example
	// SSD, HDD and an S3 disk; docs/DESIGN.md, Storage); new parts land
	// on the policy's first volume. They take effect only when StoragePolicy
	// is set, and a zero duration skips that move. The embedded engine has no
	// storage policy, so it keeps the delete TTL only.
	Hot, Warm, Cold time.Duration
	// StoragePolicy names a storage policy defined in the servers' config.
	// Empty means the server's default policy and no TTL moves.
	StoragePolicy string
	// TextIndex selects ClickHouse's text (inverted) indexes for the log body,
	// trace id and attribute maps, as the exporter does on servers 26.2 and
	// newer; otherwise the exporter's bloom filter and tokenbf_v1 indexes are
	// used, which every supported server version has. Apply turns it on by
	// itself when the connected engine supports it.
	TextIndex bool
}

// DefaultDeleteAfter is the default retention: 13 months, counted as 395 days
// because a time.Duration has no calendar months.
const DefaultDeleteAfter = 395 * 24 * time.Hour

// DefaultOptions returns the defaults from the spec: database otel, hot 7d,
// warm 30d, cold 90d (used only with a storage policy), delete after 13
// months.
func DefaultOptions() Options {
	return Options{
		Database:    "otel",
		DeleteAfter: DefaultDeleteAfter,
		Hot:         7 * 24 * time.Hour,
		Warm:        30 * 24 * time.Hour,
		Cold:        90 * 24 * time.Hour,
	}
}

// Names are restricted to plain identifiers rather than escaped, because the
// database and cluster names also appear as Distributed engine arguments and
// in ZooKeeper paths, where an escaped oddity would only move the problem.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o Options) normalize() (Options, error) {
	if o.Database == "" {
		o.Database = "otel"
	}
	if !identRE.MatchString(o.Database) {
		return o, fmt.Errorf("schema: database name %q: use letters, digits and underscores", o.Database)
	}
	if o.Cluster != "" && !identRE.MatchString(o.Cluster) {
		return o, fmt.Errorf("schema: cluster name %q: use letters, digits and underscores", o.Cluster)
	}
	if o.StoragePolicy != "" && !identRE.MatchString(o.StoragePolicy) {
		return o, fmt.Errorf("schema: storage policy name %q: use letters, digits and underscores", o.StoragePolicy)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"delete-after", o.DeleteAfter}, {"hot", o.Hot}, {"warm", o.Warm}, {"cold", o.Cold}} {
		if d.v < 0 {
			return o, fmt.Errorf("schema: %s TTL %s is negative", d.name, d.v)
		}
		if d.v%time.Second != 0 {
			return o, fmt.Errorf("schema: %s TTL %s is not a whole number of seconds", d.name, d.v)
		}
	}
	if o.StoragePolicy != "" {
		// Moves must happen in tier order and before deletion, or the
		// engine would shuffle parts back and forth.
		last := time.Duration(0)
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"hot", o.Hot}, {"warm", o.Warm}, {"cold", o.Cold}, {"delete-after", o.DeleteAfter}} {
			if d.v == 0 {
				continue
			}
			if d.v <= last {
				return o, fmt.Errorf("schema: %s TTL %s must be longer than the tier before it (%s)", d.name, d.v, last)
			}
			last = d.v
		}
	}
	return o, nil
}

var fileRE = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

var loadMigrations = sync.OnceValue(func() []Migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic("schema: embedded migrations: " + err.Error())
	}
	var ms []Migration
	for _, e := range entries {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			// Only a bad file added at build time gets here; the tests
			// load every migration, so it never ships.
			panic("schema: embedded migration file " + e.Name() + " is not named NNNN_name.sql")
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic("schema: embedded migrations: " + err.Error())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: Version(v), Name: m[2], Checksum: hex.EncodeToString(sum[:]), source: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != Version(i+1) {
			panic(fmt.Sprintf("schema: embedded migrations must be numbered 1, 2, 3... without gaps; found %04d_%s at position %d", m.Version, m.Name, i+1))
		}
	}
	return ms
})

// Migrations returns every embedded migration in version order.
func Migrations() []Migration {
	return append([]Migration(nil), loadMigrations()...)
}

// Latest is the newest migration version this binary knows.
func Latest() Version {
	ms := loadMigrations()
	return ms[len(ms)-1].Version
}

// Render returns every statement of every migration, in order, for o. It is
// what `obsplane schema render` prints for a DBA to review or run by hand.
func Render(o Options) ([]Statement, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	var out []Statement
	for _, m := range loadMigrations() {
		sqls, err := m.render(o)
		if err != nil {
			return nil, err
		}
		for _, s := range sqls {
			out = append(out, Statement{Version: m.Version, Name: m.Name, SQL: s})
		}
	}
	return out, nil
}

// Statements renders this migration for o into single statements.
func (m Migration) Statements(o Options) ([]string, error) {
	o, err := o.normalize()
	if err != nil {
		return nil, err
	}
	return m.render(o)
}

func (m Migration) render(o Options) ([]string, error) {
	t, err := template.New(m.Name).Funcs(funcs(o)).Option("missingkey=error").Parse(m.source)
	if err != nil {
		return nil, fmt.Errorf("schema: parse migration %04d_%s: %w", m.Version, m.Name, err)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		return nil, fmt.Errorf("schema: render migration %04d_%s: %w", m.Version, m.Name, err)
	}
	return split(buf.String()), nil
}

// split cuts rendered text into statements at a ';' that ends a line, and
// drops whole-line comments and statements left empty (a Distributed table
// on a single node renders to nothing). Migrations keep ';' out of string
// literals and comments so this stays this simple.
func split(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if q := strings.TrimSpace(cur.String()); q != "" {
			out = append(out, q)
		}
		cur.Reset()
	}
	for _, line := range strings.Split(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		line = strings.TrimRight(line, " \t")
		if strings.HasSuffix(line, ";") {
			cur.WriteString(strings.TrimSuffix(line, ";"))
			flush()
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
	}
	flush()
	return out
}

// replicatedPath is where replicas of one table coordinate in Keeper. The
// {shard}, {database} and {table} macros are the server's to expand.
const replicatedPath = `'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'`

func funcs(o Options) template.FuncMap {
	db := "`" + o.Database + "`"
	cluster := o.Cluster != ""
	local := func(t string) string {
		if cluster {
			return db + ".`" + t + "_local`"
		}
		return db + ".`" + t + "`"
	}
	return template.FuncMap{
		"db": func() string { return db },
		"on_cluster": func() string {
			if cluster {
				return "ON CLUSTER `" + o.Cluster + "`"
			}
			return ""
		},
		// local names the table that stores rows: the table itself on a
		// single node, <t>_local on a cluster.
		"local": local,
		// public names what clients read and write: the table itself, or
		// the Distributed table on a cluster.
		"public": func(t string) string { return db + ".`" + t + "`" },
		// engine renders a MergeTree-family engine, its Replicated form on
		// a cluster. args are the engine's own parameters.
		"engine": func(name string, args ...string) string {
			if cluster {
				return "Replicated" + name + "(" + strings.Join(append([]string{replicatedPath}, args...), ", ") + ")"
			}
			return name + "(" + strings.Join(args, ", ") + ")"
		},
		// distributed renders the Distributed table over <t>_local on a
		// cluster, and nothing on a single node. Rows are spread at random
		// because no query here needs a shard key.
		"distributed": func(t string) string {
			if !cluster {
				return ""
			}
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.`%s` ON CLUSTER `%s` AS %s\nENGINE = Distributed(`%s`, `%s`, `%s_local`, rand())",
				db, t, o.Cluster, local(t), o.Cluster, o.Database, t)
		},
		"ttl":        func(expr string) string { return ttlClause(o, expr) },
		"settings":   func() string { return settingsClause(o) },
		"text_index": func() bool { return o.TextIndex },
	}
}

// ttlClause renders the TTL for a telemetry table whose row time is expr.
func ttlClause(o Options, expr string) string {
	var parts []string
	if o.StoragePolicy != "" {
		for _, tier := range []struct {
			volume string
			after  time.Duration
		}{{"hot", o.Hot}, {"warm", o.Warm}, {"cold", o.Cold}} {
			if tier.after > 0 {
				parts = append(parts, fmt.Sprintf("%s + %s TO VOLUME '%s'", expr, interval(tier.after), tier.volume))
			}
		}
	}
	if o.DeleteAfter > 0 {
		parts = append(parts, fmt.Sprintf("%s + %s DELETE", expr, interval(o.DeleteAfter)))
	}
	if len(parts) == 0 {
		return ""
	}
	return "TTL " + strings.Join(parts, ",\n    ")
}

// interval renders d in the largest whole unit, as the exporter does.
func interval(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("toIntervalDay(%d)", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("toIntervalHour(%d)", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("toIntervalMinute(%d)", d/time.Minute)
	default:
		return fmt.Sprintf("toIntervalSecond(%d)", d/time.Second)
	}
}

// settingsClause renders the exporter's MergeTree settings, plus the storage
// policy when one is configured. ttl_only_drop_parts makes the delete TTL
// drop whole daily partitions instead of rewriting parts.
func settingsClause(o Options) string {
	s := "SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"
	if o.Cluster == "" {
		// Plain MergeTree ignores insert dedup tokens unless it remembers
		// recent blocks; the gateway and the backfill replay batches with
		// the same token after a crash and rely on this to write them once.
		// Replicated tables deduplicate through Keeper by default.
		s += ", non_replicated_deduplication_window = 1000"
	}
	if o.StoragePolicy != "" {
		s += ", storage_policy = '" + o.StoragePolicy + "'"
	}
	return s
}
