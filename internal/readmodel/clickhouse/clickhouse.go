// Package clickhouse is the read model's ClickHouse backend: every read of
// package readmodel on the ClickStack tables, through store.Store.
//
// One way to write SQL: every statement is an embedded text/template in
// sql/*.sql (one file per family: logs, traces, analytics), rendered with
// the configured database name, as the collector contrib's clickhouseexporter
// renders its statements. A template names user values only through
// stmt.Bind, which binds the value as a {name:Type} parameter and writes the
// placeholder, so a value and its placeholder cannot drift apart and no user
// text reaches SQL. User syntax (the q= search language, PPL) is compiled by
// internal/query into predicates and statements of the same kind. One
// tenant scope: stmt.Scope and PPL both render query.Scope.SQL, with one
// String parameter per namespace. One set of level rules: the level SQL is
// generated from package loglevel's tables (levelSQL).
//
// Every read runs with Limits as engine settings (max_execution_time,
// max_result_rows, max_memory_usage, readonly), so the engine, not SQL
// inspection, enforces them; a read that hits one is a readmodel Limit
// error.
package clickhouse

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/openchoreo/obsplane/internal/loglevel"
	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

var templates = store.MustTemplates(sqlFiles, "sql/*.sql", template.FuncMap{
	"level": func() string { return levelSQL },
	"dir": func(desc bool) string {
		if desc {
			return "DESC"
		}
		return "ASC"
	},
})

// Limits are the engine settings every read runs with.
type Limits struct {
	MaxExecutionTime time.Duration
	MaxResultRows    int
	MaxMemory        int64
}

// DefaultLimits are the defaults of the query-max-* settings.
var DefaultLimits = Limits{MaxExecutionTime: 30 * time.Second, MaxResultRows: 100000, MaxMemory: 2 << 30}

// settings renders l for one read; maxRows, when above zero, replaces
// MaxResultRows (a stream's own bound). result_overflow_mode stays "throw",
// so a capped result is an error, never silently short.
func (l Limits) settings(maxRows int) []store.Setting {
	if maxRows <= 0 {
		maxRows = l.MaxResultRows
	}
	return []store.Setting{
		{Name: "max_execution_time", Value: strconv.Itoa(int(l.MaxExecutionTime / time.Second))},
		{Name: "max_result_rows", Value: strconv.Itoa(maxRows)},
		{Name: "max_memory_usage", Value: strconv.FormatInt(l.MaxMemory, 10)},
		{Name: "readonly", Value: "2"},
	}
}

// Backend answers every read from the ClickStack tables of one database.
type Backend struct {
	st     store.Store
	db     string
	limits Limits
}

var _ readmodel.Reader = (*Backend)(nil)

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// New returns the backend on database db of st; zero limits are
// DefaultLimits.
func New(st store.Store, db string, l Limits) (*Backend, error) {
	if !identRE.MatchString(db) {
		return nil, fmt.Errorf("readmodel: database name %q: use letters, digits and underscores", db)
	}
	if l == (Limits{}) {
		l = DefaultLimits
	}
	return &Backend{st: st, db: db, limits: l}, nil
}

// stmt is what a template renders with: store.Stmt plus the caller's
// tenancy, for Scope.
type stmt struct {
	*store.Stmt
	ten readmodel.Tenancy
}

func (b *Backend) stmt(t readmodel.Tenancy, q any) *stmt {
	return &stmt{Stmt: store.NewStmt(b.db, q), ten: t}
}

// Scope is the tenant scope on the tenant expression col (written in a
// template, never user text).
func (s *stmt) Scope(col string) (string, error) {
	return query.Scope{All: s.ten.All, Namespaces: s.ten.Namespaces}.SQL(col, s.Params)
}

// begin checks that t may read namespace ns (a read's required namespace
// when strict; an optional filter, empty for none, otherwise) and renders
// the named statement or condition of q.
func (b *Backend) begin(t readmodel.Tenancy, ns string, strict bool, q any, name string) (*stmt, string, error) {
	check := t.RequireIf
	if strict {
		check = t.Require
	}
	if err := check(ns); err != nil {
		return nil, "", err
	}
	s := b.stmt(t, q)
	sql, err := s.render(name)
	return s, sql, err
}

// render renders the named statement; a scope that grants nothing is a
// readmodel Forbidden error.
func (s *stmt) render(name string) (string, error) {
	sql, err := templates.Render(name, s)
	if errors.Is(err, query.ErrEmptyScope) {
		return "", s.ten.Guard()
	}
	return sql, err
}

// set adds values the templates read as .With.<key>.
func (s *stmt) set(kv ...any) *stmt {
	for i := 0; i+1 < len(kv); i += 2 {
		s.With[kv[i].(string)] = kv[i+1]
	}
	return s
}

// each runs sql and calls f for each row; store errors that are a
// per-query limit become readmodel Limit errors.
func (b *Backend) each(ctx context.Context, what, sql string, params store.Params, maxRows int, f func(store.Rows) error) error {
	err := store.Each(ctx, b.st, sql, params, f, b.limits.settings(maxRows)...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, limitError(err))
	}
	return nil
}

func scanAll[R any](ctx context.Context, b *Backend, what, sql string, params store.Params) ([]R, error) {
	rows, err := store.ScanAll[R](ctx, b.st, sql, params, b.limits.settings(0)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, limitError(err))
	}
	return rows, nil
}

// count runs a SELECT count() AS n statement.
func (b *Backend) count(ctx context.Context, what, sql string, params store.Params) (uint64, error) {
	var n struct {
		N uint64 `json:"n"`
	}
	err := b.each(ctx, what, sql, params, 0, func(r store.Rows) error { return r.Scan(&n) })
	return n.N, err
}

// countCapped counts the rows of table matching cond, up to TotalCap.
func (b *Backend) countCapped(ctx context.Context, s *stmt, table, cond string) (int, error) {
	sql, err := s.set("Table", table, "Cond", cond, "Cap", readmodel.TotalCap).render("count_capped")
	if err != nil {
		return 0, err
	}
	n, err := b.count(ctx, "count", sql, s.Params)
	return int(n), err
}

// limitError turns the engine's per-query limit errors into readmodel Limit
// errors, naming the limit; other errors pass unchanged.
func limitError(err error) error {
	var se *store.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code {
	case 159: // TIMEOUT_EXCEEDED
		return readmodel.Limit("OBS-QUERY-TIMEOUT", "the query ran longer than the per-query time limit; narrow the time range or add filters")
	case 396, 158: // TOO_MANY_ROWS_OR_BYTES, TOO_MANY_ROWS
		return readmodel.Limit("OBS-QUERY-TOO-LARGE", "the query result exceeds the per-query row limit; narrow the time range or add filters")
	case 241: // MEMORY_LIMIT_EXCEEDED
		return readmodel.Limit("OBS-QUERY-MEMORY", "the query needs more memory than the per-query limit; narrow the time range or add filters")
	}
	return err
}

// levelSQL is the SQL twin of loglevel.FromSeverity over otel_logs,
// generated from loglevel's tables so the two cannot drift: the severity
// number's range, else ” when SeverityText is blank (the row has no
// severity and its text decides), else the text's level, else INFO.
var levelSQL = func() string {
	name := regexp.MustCompile(`^[A-Z]+$`)
	lit := func(s string) string {
		if !name.MatchString(s) {
			panic("loglevel name " + s + " is not plain upper-case ASCII")
		}
		return "'" + s + "'"
	}
	space := strings.NewReplacer(" ", " ", "\t", `\t`, "\n", `\n`, "\r", `\r`, "\f", `\f`, "\v", `\v`).Replace(loglevel.Space)
	text := "trimBoth(SeverityText, '" + space + "')"
	var b strings.Builder
	b.WriteString("multiIf(")
	for _, f := range loglevel.SeverityFloors {
		fmt.Fprintf(&b, "SeverityNumber >= %d, %s, ", f.Min, lit(f.Level))
	}
	b.WriteString(text + " = '', '', ")
	for _, a := range loglevel.Aliases {
		names := make([]string, len(a.Names))
		for i, n := range a.Names {
			names[i] = lit(n)
		}
		fmt.Fprintf(&b, "upper(%s) IN (%s), %s, ", text, strings.Join(names, ", "), lit(a.Level))
	}
	b.WriteString("'INFO')")
	return b.String()
}()
