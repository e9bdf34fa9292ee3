package query

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Expr is a SQL expression. Its text is built only from identifiers and
// operators this package controls; the values inside it are bound as
// parameters when the statement is built.
//
// Expr values are immutable and may be shared between statements.
type Expr interface {
	// render writes the expression to w, binding its values.
	render(w *writer)
}

// writer accumulates SQL text and the parameters it binds.
type writer struct {
	b      strings.Builder
	params store.Params
	next   int
}

func newWriter() *writer { return &writer{params: store.Params{}} }

// bind adds a parameter holding val (its plain text; the store escapes it
// for the engine) and writes its {pN:typ} placeholder.
func (w *writer) bind(typ, val string) {
	name := "p" + strconv.Itoa(w.next)
	w.next++
	w.params[name] = val
	w.b.WriteString("{" + name + ":" + typ + "}")
}

func (w *writer) str(s string) { w.b.WriteString(s) }

// Fragment renders e alone, for a caller that writes the rest of its
// statement itself: it returns the SQL text and binds e's values into params
// under names that start with prefix (prefix0, prefix1, ...), so fragments
// with different prefixes share one statement without clashing.
func Fragment(e Expr, prefix string, params store.Params) string {
	w := newWriter()
	e.render(w)
	sql := w.b.String()
	for i := w.next - 1; i >= 0; i-- { // high to low: p1 is a prefix of p10
		old := "p" + strconv.Itoa(i)
		sql = strings.ReplaceAll(sql, "{"+old+":", "{"+prefix+strconv.Itoa(i)+":")
		params[prefix+strconv.Itoa(i)] = w.params[old]
	}
	return sql
}

// identRe is what an identifier in emitted SQL may look like. Identifiers
// come from this package's maps; the check turns a typo into a panic in tests
// rather than odd SQL.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// mapKeyRe bounds the attribute keys that are written inline (they come from
// the fixed field maps); any other key is bound as a parameter.
var mapKeyRe = regexp.MustCompile(`^[A-Za-z0-9_./-]+$`)

func mustIdent(s string) string {
	if !identRe.MatchString(s) {
		panic(fmt.Sprintf("query: %q is not a valid identifier", s))
	}
	return s
}

// raw is trusted SQL text: keywords and constant fragments written in this
// package. It must never be built from user input.
type raw string

func (r raw) render(w *writer) { w.str(string(r)) }

// column is a plain column reference.
type column string

func (c column) render(w *writer) { w.str(string(c)) }

// Col references a table column (or a generated alias). name must be a plain
// identifier from a fixed map; anything else panics, since it would be a
// programming error, never user input.
func Col(name string) Expr { return column(mustIdent(name)) }

// mapGet is m[key]. A key from a fixed map is written inline, which keeps the
// expression identical to the MATERIALIZED column definitions (so the
// optimizer can use them); any other key is bound.
type mapGet struct {
	m     string
	key   string
	bound bool
}

func (g mapGet) render(w *writer) {
	w.str(g.m + "[")
	if g.bound {
		w.bind("String", g.key)
	} else {
		w.str("'" + g.key + "'")
	}
	w.str("]")
}

// MapKey references a fixed key of a Map column, such as
// ResourceAttributes['k8s.pod.name']. key must come from a fixed map.
func MapKey(mapCol, key string) Expr {
	if !mapKeyRe.MatchString(key) {
		panic(fmt.Sprintf("query: map key %q is not a fixed key", key))
	}
	return mapGet{m: mustIdent(mapCol), key: key}
}

// MapKeyParam references a user-chosen key of a Map column; the key is bound.
func MapKeyParam(mapCol, key string) Expr {
	return mapGet{m: mustIdent(mapCol), key: key, bound: true}
}

// param is a bound value.
type param struct {
	typ string
	val string // plain form; escaped on bind
}

func (p param) render(w *writer) { w.bind(p.typ, p.val) }

// String binds a String value.
func String(v string) Expr { return param{"String", v} }

// Int binds an Int64 value.
func Int(v int64) Expr { return param{"Int64", strconv.FormatInt(v, 10)} }

// Uint binds a UInt64 value.
func Uint(v uint64) Expr { return param{"UInt64", strconv.FormatUint(v, 10)} }

// Float binds a Float64 value.
func Float(v float64) Expr { return param{"Float64", strconv.FormatFloat(v, 'g', -1, 64)} }

// Time binds a DateTime64(9, 'UTC') value, nanoseconds included.
func Time(t time.Time) Expr {
	return param{"DateTime64(9, 'UTC')", t.UTC().Format("2006-01-02 15:04:05.000000000")}
}

// binary is "l op r".
type binary struct {
	op   string
	l, r Expr
}

func (b binary) render(w *writer) {
	b.l.render(w)
	w.str(" " + b.op + " ")
	b.r.render(w)
}

// Comparison operators. Each takes two expressions.
func Eq(l, r Expr) Expr      { return cmp("=", l, r) }
func Ne(l, r Expr) Expr      { return cmp("!=", l, r) }
func Lt(l, r Expr) Expr      { return cmp("<", l, r) }
func Le(l, r Expr) Expr      { return cmp("<=", l, r) }
func Gt(l, r Expr) Expr      { return cmp(">", l, r) }
func Ge(l, r Expr) Expr      { return cmp(">=", l, r) }
func Like(l, r Expr) Expr    { return cmp("LIKE", l, r) }
func NotLike(l, r Expr) Expr { return cmp("NOT LIKE", l, r) }
func ILike(l, r Expr) Expr   { return cmp("ILIKE", l, r) }

func cmp(op string, l, r Expr) Expr { return binary{op, operand(l), operand(r)} }

// operand parenthesizes e when it is a predicate, so it keeps its meaning as
// the operand of another operator: (a OR b) = 1, not a OR b = 1.
func operand(e Expr) Expr {
	switch e.(type) {
	case binary, junction, not, in, scopeIn, aliased:
		return paren{e}
	}
	return e
}

// Arith is "l op r" for op one of + - * / %. Operands that bind less
// tightly than op are parenthesized, so the text reads like the input
// ("now() - INTERVAL 1 HOUR") and still nests correctly.
func Arith(op string, l, r Expr) Expr {
	p := arithPrec(op)
	if p == 0 {
		panic("query: bad arithmetic operator " + op)
	}
	l, r = operand(l), operand(r)
	if lp := precOf(l); lp != 0 && lp < p {
		l = paren{l}
	}
	// The right operand of - / % needs parentheses at equal precedence
	// too: a - (b - c) is not (a - b) - c.
	if rp := precOf(r); rp != 0 && (rp < p || rp == p) {
		r = paren{r}
	}
	return arith{binary{op, l, r}, p}
}

type arith struct {
	binary
	prec int
}

func arithPrec(op string) int {
	switch op {
	case "+", "-":
		return 1
	case "*", "/", "%":
		return 2
	}
	return 0
}

// precOf is the precedence of an arithmetic expression, 0 for anything that
// needs no parentheses as an operand (columns, calls, parameters).
func precOf(e Expr) int {
	if a, ok := e.(arith); ok {
		return a.prec
	}
	if _, ok := e.(negate); ok {
		return 3
	}
	return 0
}

// paren wraps an expression in parentheses.
type paren struct{ e Expr }

func (p paren) render(w *writer) { w.str("("); p.e.render(w); w.str(")") }

// junction is AND or OR over its terms, each parenthesized.
type junction struct {
	op    string
	terms []Expr
}

func (j junction) render(w *writer) {
	for i, t := range j.terms {
		if i > 0 {
			w.str(" " + j.op + " ")
		}
		w.str("(")
		t.render(w)
		w.str(")")
	}
}

// And is the conjunction of terms; nil terms are skipped. With no terms it
// is true.
func And(terms ...Expr) Expr { return junc("AND", terms) }

// Or is the disjunction of terms; nil terms are skipped. With no terms it is
// false.
func Or(terms ...Expr) Expr { return junc("OR", terms) }

func junc(op string, terms []Expr) Expr {
	var ts []Expr
	for _, t := range terms {
		if t != nil {
			ts = append(ts, t)
		}
	}
	switch len(ts) {
	case 0:
		if op == "AND" {
			return raw("1")
		}
		return raw("0")
	case 1:
		return paren{ts[0]}
	}
	return junction{op, ts}
}

// Not negates e.
func Not(e Expr) Expr { return not{e} }

type not struct{ e Expr }

func (n not) render(w *writer) { w.str("NOT ("); n.e.render(w); w.str(")") }

// In is "e IN (v1, v2, ...)"; with no values it is false.
func In(e Expr, vals ...Expr) Expr {
	if len(vals) == 0 {
		return raw("0")
	}
	return in{e, vals, false}
}

// NotIn is "e NOT IN (v1, v2, ...)"; with no values it is true.
func NotIn(e Expr, vals ...Expr) Expr {
	if len(vals) == 0 {
		return raw("1")
	}
	return in{e, vals, true}
}

type in struct {
	e    Expr
	vals []Expr
	neg  bool
}

func (x in) render(w *writer) {
	operand(x.e).render(w)
	if x.neg {
		w.str(" NOT IN (")
	} else {
		w.str(" IN (")
	}
	for i, v := range x.vals {
		if i > 0 {
			w.str(", ")
		}
		v.render(w)
	}
	w.str(")")
}

// Fn is a function call. name must be a ClickHouse function name written in
// this package, never user input.
func Fn(name string, args ...Expr) Expr { return call{mustIdent(name), nil, args} }

// Agg is a parametric aggregate call such as quantile(0.95)(Duration).
func Agg(name string, params []Expr, args ...Expr) Expr {
	return call{mustIdent(name), params, args}
}

type call struct {
	name   string
	params []Expr // parametric aggregate parameters, or nil
	args   []Expr
}

func (c call) render(w *writer) {
	w.str(c.name)
	if c.params != nil {
		w.str("(")
		renderList(w, c.params)
		w.str(")")
	}
	w.str("(")
	renderList(w, c.args)
	w.str(")")
}

func renderList(w *writer, es []Expr) {
	for i, e := range es {
		if i > 0 {
			w.str(", ")
		}
		e.render(w)
	}
}

// IntervalUnit is a ClickHouse INTERVAL unit.
type IntervalUnit string

// Interval units.
const (
	Nanosecond  IntervalUnit = "NANOSECOND"
	Microsecond IntervalUnit = "MICROSECOND"
	Millisecond IntervalUnit = "MILLISECOND"
	Second      IntervalUnit = "SECOND"
	Minute      IntervalUnit = "MINUTE"
	Hour        IntervalUnit = "HOUR"
	Day         IntervalUnit = "DAY"
	Week        IntervalUnit = "WEEK"
	Month       IntervalUnit = "MONTH"
	Quarter     IntervalUnit = "QUARTER"
	Year        IntervalUnit = "YEAR"
)

// Interval is "INTERVAL n UNIT". n is a Go integer printed by strconv, so it
// is written inline (it cannot carry text) and the SQL reads like the PPL.
func Interval(n int64, unit IntervalUnit) Expr {
	switch unit {
	case Nanosecond, Microsecond, Millisecond, Second, Minute, Hour, Day, Week, Month, Quarter, Year:
	default:
		panic("query: bad interval unit " + string(unit))
	}
	return raw("INTERVAL " + strconv.FormatInt(n, 10) + " " + string(unit))
}

// Now is the engine's current time.
func Now() Expr { return raw("now()") }

// Star is "*" in a select list or count(*).
func Star() Expr { return raw("*") }

// Count is count().
func Count() Expr { return raw("count()") }

// Const1 and Const0 are the constants true and false.
var (
	True  Expr = raw("1")
	False Expr = raw("0")
)

// IsNull and IsNotNull test for NULL.
func IsNull(e Expr) Expr    { return Fn("isNull", e) }
func IsNotNull(e Expr) Expr { return Fn("isNotNull", e) }

// Neg is unary minus.
func Neg(e Expr) Expr { return negate{e} }

type negate struct{ e Expr }

func (n negate) render(w *writer) { w.str("-("); n.e.render(w); w.str(")") }

// aliased is "e AS alias".
type aliased struct {
	e     Expr
	alias string
}

func (a aliased) render(w *writer) { a.e.render(w); w.str(" AS " + a.alias) }

// As names a select-list expression. alias must be an identifier chosen by
// code (a column name or a generated cN), never user text.
func As(e Expr, alias string) Expr { return aliased{e, mustIdent(alias)} }

// Table is a table obsplane reads.
type Table struct {
	// Database and Name locate the table (otel.otel_logs by default).
	Database, Name string
	// Fields maps user-facing field names to expressions on this table.
	Fields *FieldMap
}

func (t Table) render(w *writer) {
	if t.Database != "" {
		w.str(mustIdent(t.Database) + ".")
	}
	w.str(mustIdent(t.Name))
}

// Order is one ORDER BY term.
type Order struct {
	Expr Expr
	Desc bool
}

// SelectStmt is a SELECT statement under construction. Build it with Select
// and its chained methods; render it with Build.
type SelectStmt struct {
	cols    []Expr
	table   *Table
	sub     *SelectStmt
	where   []Expr
	groupBy []Expr
	having  []Expr
	orderBy []Order
	limit   int64
	offset  int64
	scope   *Scope
}

// Select starts a SELECT of cols (all columns when none are given).
func Select(cols ...Expr) *SelectStmt { return &SelectStmt{cols: cols, limit: -1} }

// From reads table t. A statement that reads a table must be Scoped.
func (s *SelectStmt) From(t Table) *SelectStmt { s.table = &t; s.sub = nil; return s }

// FromSelect reads the rows of sub, which carries its own scope.
func (s *SelectStmt) FromSelect(sub *SelectStmt) *SelectStmt { s.sub = sub; s.table = nil; return s }

// Where adds predicates, ANDed with each other and with the rest.
func (s *SelectStmt) Where(preds ...Expr) *SelectStmt {
	for _, p := range preds {
		if p != nil {
			s.where = append(s.where, p)
		}
	}
	return s
}

// GroupBy sets the grouping keys.
func (s *SelectStmt) GroupBy(keys ...Expr) *SelectStmt {
	s.groupBy = append(s.groupBy, keys...)
	return s
}

// Having adds predicates on groups, ANDed.
func (s *SelectStmt) Having(preds ...Expr) *SelectStmt {
	s.having = append(s.having, preds...)
	return s
}

// OrderBy appends ORDER BY terms.
func (s *SelectStmt) OrderBy(o ...Order) *SelectStmt { s.orderBy = append(s.orderBy, o...); return s }

// Limit sets LIMIT n; a negative n means no limit.
func (s *SelectStmt) Limit(n int64) *SelectStmt { s.limit = n; return s }

// Offset sets OFFSET n (with a LIMIT).
func (s *SelectStmt) Offset(n int64) *SelectStmt { s.offset = n; return s }

// Scoped restricts the rows read from the table to sc. It is required for a
// table read; Build fails without it.
func (s *SelectStmt) Scoped(sc Scope) *SelectStmt { s.scope = &sc; return s }

// ErrUnscoped is returned by Build for a table read without a Scope.
var ErrUnscoped = errors.New("query: table read without a tenant scope")

// Build renders the statement and the parameters it binds.
func (s *SelectStmt) Build() (string, store.Params, error) {
	w := newWriter()
	if err := s.render(w); err != nil {
		return "", nil, err
	}
	return w.b.String(), w.params, nil
}

func (s *SelectStmt) render(w *writer) error {
	w.str("SELECT ")
	if len(s.cols) == 0 {
		w.str("*")
	} else {
		renderList(w, s.cols)
	}
	w.str(" FROM ")
	var scopePred Expr
	switch {
	case s.table != nil:
		if s.scope == nil {
			return ErrUnscoped
		}
		p, err := s.scope.predicate(s.table)
		if err != nil {
			return err
		}
		scopePred = p
		s.table.render(w)
	case s.sub != nil:
		w.str("(")
		if err := s.sub.render(w); err != nil {
			return err
		}
		w.str(")")
	default:
		return errors.New("query: SELECT without FROM")
	}
	// The scope predicate comes first and every user predicate is in its own
	// parentheses, so "(scope) AND (a OR b)" can never become
	// "scope AND a OR b".
	var preds []Expr
	if scopePred != nil {
		preds = append(preds, scopePred)
	}
	preds = append(preds, s.where...)
	if len(preds) > 0 {
		w.str(" WHERE ")
		junction{"AND", preds}.render(w)
	}
	if len(s.groupBy) > 0 {
		w.str(" GROUP BY ")
		renderList(w, s.groupBy)
	}
	if len(s.having) > 0 {
		w.str(" HAVING ")
		junction{"AND", s.having}.render(w)
	}
	if len(s.orderBy) > 0 {
		w.str(" ORDER BY ")
		for i, o := range s.orderBy {
			if i > 0 {
				w.str(", ")
			}
			o.Expr.render(w)
			if o.Desc {
				w.str(" DESC")
			} else {
				w.str(" ASC")
			}
		}
	}
	if s.limit >= 0 {
		w.str(" LIMIT " + strconv.FormatInt(s.limit, 10))
		if s.offset > 0 {
			w.str(" OFFSET " + strconv.FormatInt(s.offset, 10))
		}
	}
	return nil
}
