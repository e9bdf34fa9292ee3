package query

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Options tune compilation.
type Options struct {
	// MaxRows caps the rows a query returns: head N is clamped to it and a
	// query without head gets LIMIT MaxRows. Zero means DefaultMaxRows.
	MaxRows int64
	// Database holds the tables; empty means the tables' default, otel.
	Database string
}

// DefaultMaxRows is the row cap when Options.MaxRows is zero, OpenSearch's
// default index.max_result_window.
const DefaultMaxRows = 10000

// Compiled is a query ready for store.Query.
type Compiled struct {
	SQL    string
	Params store.Params
	// Table is the table the query reads.
	Table Table
	// Star is true when the rows carry every table column under its
	// ClickHouse name (a PPL query without fields or stats).
	Star bool
	// Columns are the output columns in PPL order: Name as PPL names it
	// ("count()", "service", "p95"), Key as the row's JSON key. With Star,
	// they are the eval'd columns that follow the table's.
	Columns []OutputColumn
}

// OutputColumn maps a PPL output name to the SQL result column.
type OutputColumn struct {
	Name string
	Key  string
}

// CompilePPL parses and compiles a PPL query for the tenant scope sc.
// Errors in the query are *SyntaxError; ErrEmptyScope and ErrUnscoped
// come from the scope.
func CompilePPL(src string, sc Scope, opts Options) (*Compiled, error) {
	q, err := ParsePPL(src)
	if err != nil {
		return nil, err
	}
	return q.Compile(sc, opts)
}

// Compile translates the query to SQL for the tenant scope sc.
func (q *PPLQuery) Compile(sc Scope, opts Options) (*Compiled, error) {
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	var table Table
	for i, s := range q.Sources {
		t, ok := TableForIndex(s)
		if !ok {
			return nil, errAt(0, "unknown source %q: use container-logs-*, kubernetes-*, logs, otel-traces-* or traces", truncate(s))
		}
		if i > 0 && t.Name != table.Name {
			return nil, errAt(0, "sources %q and %q are different tables", truncate(q.Sources[0]), truncate(s))
		}
		table = t
	}
	if opts.Database != "" {
		table.Database = opts.Database
	}
	c := &compiler{table: table, opts: opts}
	r := &relation{stmt: Select().From(table).Scoped(sc), base: true, env: map[string]binding{}}
	for _, cmd := range q.Commands {
		var err error
		r, err = c.command(r, cmd)
		if err != nil {
			return nil, err
		}
	}
	out := c.finish(r)
	if r.stmt.limit < 0 {
		r.stmt.Limit(opts.MaxRows)
	}
	sql, params, err := r.stmt.Build()
	if err != nil {
		return nil, err
	}
	out.SQL, out.Params, out.Table = sql, params, table
	return out, nil
}

// binding is what a visible name stands for.
type binding struct {
	expr  Expr
	kind  Kind
	field *Field // the table field, for Text/Fold/mapValue; nil otherwise
}

// outCol is one output column of a relation.
type outCol struct {
	name string
	b    binding
}

// relation is one SELECT level of the compiled query.
type relation struct {
	stmt *SelectStmt
	// base: names resolve through the table's field map (after env), since
	// the level reads the table or a SELECT * of it.
	base bool
	// env holds eval'd names, and every name after stats or fields.
	env map[string]binding
	// order of eval'd names, for the select list.
	evals []string
	// projected: fields ran; only env names are visible and proj is the
	// select list.
	projected bool
	proj      []outCol
	// grouped: stats ran at this level; aggs and keys are its output.
	grouped      bool
	groupOut     []outCol // PPL order: aggregations, then keys
	defaultOrder bool
	limited      bool
}

type compiler struct {
	table Table
	opts  Options
	alias int
}

func (c *compiler) newAlias() string {
	a := "c" + strconv.Itoa(c.alias)
	c.alias++
	return a
}

// lookup resolves a field name on r.
func (c *compiler) lookup(r *relation, id *Ident) (binding, error) {
	if b, ok := r.env[id.Name]; ok {
		return b, nil
	}
	if r.base && !r.projected && !r.grouped {
		if f, ok := c.table.Fields.Lookup(id.Name); ok {
			return binding{expr: f.Expr, kind: f.Kind, field: f}, nil
		}
	}
	return binding{}, errAt(id.At, "unknown field %q", truncate(id.Name))
}

func (c *compiler) command(r *relation, cmd Command) (*relation, error) {
	switch cmd := cmd.(type) {
	case *WhereCmd:
		if r.limited {
			r = c.wrap(r)
		}
		e, err := c.predicate(r, cmd.Cond)
		if err != nil {
			return nil, err
		}
		if r.grouped {
			r.stmt.Having(e)
		} else {
			r.stmt.Where(e)
		}
	case *EvalCmd:
		if r.limited && r.grouped {
			r = c.wrap(r)
		}
		for _, a := range cmd.Assigns {
			e, k, _, err := c.expr(r, a.Expr, KindString, nil)
			if err != nil {
				return nil, err
			}
			if !contains(r.evals, a.Name) {
				r.evals = append(r.evals, a.Name)
			}
			r.env[a.Name] = binding{expr: e, kind: k}
			if r.projected {
				r.proj = upsert(r.proj, outCol{a.Name, r.env[a.Name]})
			}
		}
	case *FieldsCmd:
		if r.grouped {
			r = c.wrap(r)
		}
		var proj []outCol
		env := map[string]binding{}
		for _, id := range cmd.Fields {
			b, err := c.lookup(r, id)
			if err != nil {
				return nil, err
			}
			proj = upsert(proj, outCol{id.Name, b})
			env[id.Name] = b
		}
		r.proj, r.env, r.evals, r.projected = proj, env, nil, true
	case *SortCmd:
		if r.limited {
			r = c.wrap(r)
		}
		if r.defaultOrder {
			r.stmt.orderBy, r.defaultOrder = nil, false
		}
		for _, k := range cmd.Keys {
			e, _, _, err := c.expr(r, k.Expr, KindString, nil)
			if err != nil {
				return nil, err
			}
			r.stmt.OrderBy(Order{Expr: e, Desc: k.Desc})
		}
	case *HeadCmd:
		if r.limited {
			r = c.wrap(r)
		}
		if cmd.N < 0 || cmd.From < 0 {
			return nil, errAt(cmd.At, "head needs non-negative numbers")
		}
		r.stmt.Limit(min(cmd.N, c.opts.MaxRows)).Offset(cmd.From)
		r.limited = true
	case *StatsCmd:
		if r.limited || r.grouped {
			r = c.wrap(r)
		}
		return c.stats(r, cmd)
	default:
		return nil, errAt(cmd.Pos(), "unsupported command %q", cmd.Name())
	}
	return r, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// upsert replaces the column called col.name or appends col.
func upsert(cols []outCol, col outCol) []outCol {
	for i := range cols {
		if cols[i].name == col.name {
			cols[i] = col
			return cols
		}
	}
	return append(cols, col)
}

// finish sets r's select list and returns the output description.
func (c *compiler) finish(r *relation) *Compiled {
	out := &Compiled{}
	keys := map[string]bool{}
	var sel []Expr
	add := func(col outCol) {
		key := ""
		if name, ok := col.b.expr.(column); ok && !keys[string(name)] {
			// A plain column keeps its own name: SELECT ServiceName.
			key = string(name)
			sel = append(sel, col.b.expr)
		} else {
			key = c.newAlias()
			sel = append(sel, As(col.b.expr, key))
		}
		keys[key] = true
		out.Columns = append(out.Columns, OutputColumn{Name: col.name, Key: key})
	}
	switch {
	case r.grouped:
		// Keys first in SQL (SELECT ServiceName, count() ...), PPL order
		// (aggregations, then keys) in Columns.
		sel = append(sel, r.stmt.cols...)
		for _, g := range r.groupOut {
			out.Columns = append(out.Columns, OutputColumn{Name: g.name, Key: string(g.b.expr.(column))})
		}
		for _, n := range r.evals {
			add(outCol{n, r.env[n]})
		}
	case r.projected:
		for _, p := range r.proj {
			add(p)
		}
	default:
		out.Star = true
		sel = append(sel, Star())
		for _, n := range r.evals {
			if col, ok := r.env[n].expr.(column); ok {
				// Already in *: a table column or an inner alias.
				out.Columns = append(out.Columns, OutputColumn{Name: n, Key: string(col)})
				continue
			}
			a := c.newAlias()
			sel = append(sel, As(r.env[n].expr, a))
			out.Columns = append(out.Columns, OutputColumn{Name: n, Key: a})
		}
	}
	r.stmt.cols = sel
	return out
}

// wrap closes r as a subquery and returns a relation reading it.
func (c *compiler) wrap(r *relation) *relation {
	base := r.base && !r.grouped && !r.projected
	out := c.finish(r)
	n := &relation{stmt: Select().FromSelect(r.stmt), base: base, env: map[string]binding{}}
	for i, col := range out.Columns {
		var b binding
		switch {
		case r.grouped && i < len(r.groupOut):
			b = r.groupOut[i].b
		case r.projected && i < len(r.proj):
			b = r.proj[i].b
		default:
			b = r.env[col.Name]
		}
		// The outer level sees the inner result column, keeping the kind
		// (and field, for plain columns) for literal binding.
		nb := binding{expr: Col(col.Key), kind: b.kind}
		if _, plain := b.expr.(column); plain {
			nb.field = b.field
		}
		n.env[col.Name] = nb
		if !out.Star {
			n.projected = true
			n.proj = append(n.proj, outCol{col.Name, nb})
		} else {
			n.evals = append(n.evals, col.Name)
		}
	}
	return n
}

// aggregate functions: PPL name -> ClickHouse name.
var aggFuncs = map[string]string{
	"count": "count", "sum": "sum", "avg": "avg", "mean": "avg", "min": "min", "max": "max",
	"dc": "uniqExact", "distinct_count": "uniqExact", "stddev": "stddevPop", "stddev_pop": "stddevPop",
	"stddev_samp": "stddevSamp", "var_pop": "varPop", "var_samp": "varSamp",
	"percentile": "quantile", "percentile_approx": "quantile", "median": "median",
}

func (c *compiler) stats(r *relation, cmd *StatsCmd) (*relation, error) {
	if len(cmd.Aggs) == 0 {
		return nil, errAt(cmd.At, "stats needs an aggregation")
	}
	var keySel, aggSel []Expr
	var keyOut, aggOut []outCol
	var groupBy []Expr
	env := map[string]binding{}
	for _, k := range cmd.By {
		e, kind, f, err := c.groupKey(r, k.Expr)
		if err != nil {
			return nil, err
		}
		name := k.Text
		if k.Alias != "" {
			name = k.Alias
		}
		var key Expr
		if col, ok := e.(column); ok && k.Alias == "" {
			key = col
			keySel = append(keySel, col)
		} else {
			a := c.newAlias()
			key = Col(a)
			keySel = append(keySel, As(e, a))
			f = nil
		}
		groupBy = append(groupBy, key)
		b := binding{expr: key, kind: kind, field: f}
		keyOut = append(keyOut, outCol{name, b})
		env[name] = b
	}
	for _, a := range cmd.Aggs {
		e, kind, err := c.aggregation(r, a)
		if err != nil {
			return nil, err
		}
		name := a.Text
		if a.Alias != "" {
			name = a.Alias
		}
		al := c.newAlias()
		aggSel = append(aggSel, As(e, al))
		b := binding{expr: Col(al), kind: kind}
		aggOut = append(aggOut, outCol{name, b})
		env[name] = b
	}
	r.stmt.cols = append(keySel, aggSel...)
	r.stmt.GroupBy(groupBy...)
	if len(groupBy) > 0 {
		// OpenSearch returns buckets in key order; so do we, unless a
		// later sort says otherwise.
		for _, g := range groupBy {
			r.stmt.OrderBy(Order{Expr: g})
		}
		r.defaultOrder = true
	}
	r.grouped, r.env, r.evals, r.projected, r.proj = true, env, nil, false, nil
	r.groupOut = append(aggOut, keyOut...)
	return r, nil
}

// groupKey compiles a "by" key: a field, or span(field, interval).
func (c *compiler) groupKey(r *relation, n Node) (Expr, Kind, *Field, error) {
	call, ok := n.(*Call)
	if !ok {
		id, ok := n.(*Ident)
		if !ok {
			return nil, 0, nil, errAt(n.Pos(), "stats by needs a field or span()")
		}
		b, err := c.lookup(r, id)
		if err != nil {
			return nil, 0, nil, err
		}
		return b.expr, b.kind, b.field, nil
	}
	if call.Func != "span" {
		return nil, 0, nil, errAt(call.At, "unsupported function %q in stats by (use a field or span())", call.Func)
	}
	if len(call.Args) != 2 {
		return nil, 0, nil, errAt(call.At, "span(field, interval) takes 2 arguments")
	}
	fe, kind, _, err := c.expr(r, call.Args[0], KindString, nil)
	if err != nil {
		return nil, 0, nil, err
	}
	switch iv := call.Args[1].(type) {
	case *DurationLit:
		if kind != KindTime {
			return nil, 0, nil, errAt(call.At, "span with a time interval needs a time field")
		}
		if iv.N <= 0 {
			return nil, 0, nil, errAt(iv.At, "span interval must be positive")
		}
		return Fn("toStartOfInterval", fe, Interval(iv.N, iv.Unit)), KindTime, nil, nil
	case *NumberLit:
		if kind == KindTime || kind == KindString {
			return nil, 0, nil, errAt(iv.At, "span on a %s field needs an interval such as 5m", kind)
		}
		v, err := strconv.ParseFloat(iv.Text, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return nil, 0, nil, errAt(iv.At, "span width must be a positive number")
		}
		w := Float(v)
		return Arith("*", Fn("floor", Arith("/", fe, w)), w), KindFloat, nil, nil
	}
	return nil, 0, nil, errAt(call.Args[1].Pos(), "span needs an interval such as 5m")
}

func (c *compiler) aggregation(r *relation, a Aggregation) (Expr, Kind, error) {
	name, ok := aggFuncs[a.Func]
	if !ok {
		return nil, 0, errAt(a.At, "unsupported aggregation %q", truncate(a.Func))
	}
	switch a.Func {
	case "count":
		if len(a.Args) == 0 {
			return Count(), KindUint, nil
		}
		if len(a.Args) == 1 {
			if id, ok := a.Args[0].(*Ident); ok && id.Name == "*" {
				return Count(), KindUint, nil
			}
			e, _, _, err := c.expr(r, a.Args[0], KindString, nil)
			if err != nil {
				return nil, 0, err
			}
			return Fn("count", e), KindUint, nil
		}
		return nil, 0, errAt(a.At, "count takes at most one argument")
	case "percentile", "percentile_approx":
		if len(a.Args) != 2 {
			return nil, 0, errAt(a.At, "%s(field, percent) takes 2 arguments", a.Func)
		}
		e, _, _, err := c.expr(r, a.Args[0], KindString, nil)
		if err != nil {
			return nil, 0, err
		}
		pl, ok := a.Args[1].(*NumberLit)
		if !ok {
			return nil, 0, errAt(a.Args[1].Pos(), "the percent of %s must be a number", a.Func)
		}
		p, err := strconv.ParseFloat(pl.Text, 64)
		if err != nil || p < 0 || p > 100 {
			return nil, 0, errAt(pl.At, "percent must be between 0 and 100")
		}
		return Agg(name, []Expr{Float(p / 100)}, e), KindFloat, nil
	}
	if len(a.Args) != 1 {
		return nil, 0, errAt(a.At, "%s takes one argument", a.Func)
	}
	if id, ok := a.Args[0].(*Ident); ok && id.Name == "*" {
		return nil, 0, errAt(id.At, "%s(*) is not allowed", a.Func)
	}
	e, kind, _, err := c.expr(r, a.Args[0], KindString, nil)
	if err != nil {
		return nil, 0, err
	}
	switch a.Func {
	case "min", "max":
	case "dc", "distinct_count":
		kind = KindUint
	default:
		kind = KindFloat
	}
	return Fn(name, e), kind, nil
}

// predicate compiles a where condition.
func (c *compiler) predicate(r *relation, n Node) (Expr, error) {
	switch n.(type) {
	case *StringLit, *NumberLit, *DurationLit:
		return nil, errAt(n.Pos(), "where needs a condition, not a value")
	}
	e, _, _, err := c.expr(r, n, KindString, nil)
	return e, err
}

// expr compiles n. hint and hf describe what a literal n is compared with,
// so it is bound with the right type. It returns the expression, its kind,
// and the table field when n is a plain field reference.
func (c *compiler) expr(r *relation, n Node, hint Kind, hf *Field) (Expr, Kind, *Field, error) {
	switch n := n.(type) {
	case *Ident:
		if n.Name == "*" {
			return nil, 0, nil, errAt(n.At, "unexpected *")
		}
		b, err := c.lookup(r, n)
		if err != nil {
			return nil, 0, nil, err
		}
		return b.expr, b.kind, b.field, nil
	case *StringLit, *NumberLit:
		e, k, err := c.literal(n, hint, hf)
		return e, k, nil, err
	case *BoolLit:
		if n.Val {
			return True, KindUint, nil, nil
		}
		return False, KindUint, nil, nil
	case *NullLit:
		return raw("NULL"), hint, nil, nil
	case *DurationLit:
		return Interval(n.N, n.Unit), KindTime, nil, nil
	case *Unary:
		if n.Op == "not" {
			x, err := c.predicate(r, n.X)
			if err != nil {
				return nil, 0, nil, err
			}
			return Not(x), KindUint, nil, nil
		}
		x, k, _, err := c.expr(r, n.X, hint, hf)
		if err != nil {
			return nil, 0, nil, err
		}
		return Neg(x), k, nil, nil
	case *Binary:
		return c.binary(r, n)
	case *LikeExpr:
		e, err := c.like(r, n.X, n.Pattern, n.Not)
		return e, KindUint, nil, err
	case *InExpr:
		x, k, f, err := c.expr(r, n.X, KindString, nil)
		if err != nil {
			return nil, 0, nil, err
		}
		fold := f != nil && f.Fold
		if fold {
			x = Fn("upper", x)
		}
		var vals []Expr
		for _, v := range n.List {
			e, _, _, err := c.expr(r, v, k, f)
			if err != nil {
				return nil, 0, nil, err
			}
			vals = append(vals, e)
		}
		if n.Not {
			return NotIn(x, vals...), KindUint, nil, nil
		}
		return In(x, vals...), KindUint, nil, nil
	case *Call:
		return c.call(r, n)
	}
	return nil, 0, nil, errAt(n.Pos(), "unsupported expression")
}

// literal binds a literal, typed by what it is compared with.
func (c *compiler) literal(n Node, hint Kind, f *Field) (Expr, Kind, error) {
	var text string
	isNum, isFloat := false, false
	switch n := n.(type) {
	case *StringLit:
		text = n.Val
	case *NumberLit:
		text, isNum, isFloat = n.Text, true, n.Float
	}
	if f != nil && f.mapValue != nil {
		if v, ok := f.mapValue(text); ok {
			return String(v), KindString, nil
		}
	}
	if f != nil && f.Fold {
		return String(asciiUpper(text)), KindString, nil
	}
	switch hint {
	case KindTime:
		if isNum {
			return nil, 0, errAt(n.Pos(), "compare %s with a time such as '2026-01-02 15:04:05' or now() - 1h", fieldName(f, "a time field"))
		}
		t, err := parseTime(text)
		if err != nil {
			return nil, 0, errAt(n.Pos(), "%q is not a time (use RFC 3339 or 'YYYY-MM-DD hh:mm:ss')", truncate(text))
		}
		return Time(t), KindTime, nil
	case KindInt, KindUint, KindFloat:
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return Int(i), KindInt, nil
		}
		if u, err := strconv.ParseUint(text, 10, 64); err == nil {
			return Uint(u), KindUint, nil
		}
		if v, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return Float(v), KindFloat, nil
		}
		return nil, 0, errAt(n.Pos(), "%s is a number; %q is not", fieldName(f, "the other side"), truncate(text))
	case KindString:
		if isNum && f != nil {
			// status.code = 2 and the like compare as text.
			return String(text), KindString, nil
		}
	}
	if isNum {
		if !isFloat {
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				return Int(i), KindInt, nil
			}
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, 0, errAt(n.Pos(), "number %s is out of range", truncate(text))
		}
		return Float(v), KindFloat, nil
	}
	return String(text), KindString, nil
}

func fieldName(f *Field, def string) string {
	if f == nil {
		return def
	}
	return "field " + strconv.Quote(f.Name)
}

// timeLayouts are the time formats a literal compared with a time field may
// take; times without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	var err error
	for _, l := range timeLayouts {
		var t time.Time
		if t, err = time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

func isLiteral(n Node) bool {
	switch n.(type) {
	case *StringLit, *NumberLit:
		return true
	}
	return false
}

func (c *compiler) binary(r *relation, n *Binary) (Expr, Kind, *Field, error) {
	switch n.Op {
	case "and", "or", "xor":
		l, err := c.predicate(r, n.L)
		if err != nil {
			return nil, 0, nil, err
		}
		rr, err := c.predicate(r, n.R)
		if err != nil {
			return nil, 0, nil, err
		}
		switch n.Op {
		case "and":
			return And(l, rr), KindUint, nil, nil
		case "or":
			return Or(l, rr), KindUint, nil, nil
		}
		return Fn("xor", l, rr), KindUint, nil, nil
	}
	// Compile the non-literal side first so a literal on either side is
	// bound with the other side's type.
	var l, rr Expr
	var lk, rk Kind
	var lf, rf *Field
	var err error
	if isLiteral(n.L) && !isLiteral(n.R) {
		if rr, rk, rf, err = c.expr(r, n.R, KindString, nil); err != nil {
			return nil, 0, nil, err
		}
		if l, lk, lf, err = c.expr(r, n.L, rk, rf); err != nil {
			return nil, 0, nil, err
		}
	} else {
		if l, lk, lf, err = c.expr(r, n.L, KindString, nil); err != nil {
			return nil, 0, nil, err
		}
		if rr, rk, rf, err = c.expr(r, n.R, lk, lf); err != nil {
			return nil, 0, nil, err
		}
	}
	switch n.Op {
	case "+", "-", "*", "/", "%":
		k := lk
		if lk == KindTime || rk == KindTime {
			k = KindTime
		} else if lk == KindFloat || rk == KindFloat || n.Op == "/" {
			k = KindFloat
		}
		return Arith(n.Op, l, rr), k, nil, nil
	}
	// Case-insensitive fields compare upper-cased (the literal was
	// upper-cased when bound).
	if lf != nil && lf.Fold && isLiteral(n.R) {
		l = Fn("upper", l)
	}
	if rf != nil && rf.Fold && isLiteral(n.L) {
		rr = Fn("upper", rr)
	}
	switch n.Op {
	case "=":
		return Eq(l, rr), KindUint, nil, nil
	case "!=":
		return Ne(l, rr), KindUint, nil, nil
	case "<":
		return Lt(l, rr), KindUint, nil, nil
	case "<=":
		return Le(l, rr), KindUint, nil, nil
	case ">":
		return Gt(l, rr), KindUint, nil, nil
	case ">=":
		return Ge(l, rr), KindUint, nil, nil
	}
	return nil, 0, nil, errAt(n.At, "unsupported operator %q", n.Op)
}

// like compiles "x like pattern". On the log body, '%token%' with a single
// alphanumeric token becomes hasToken(Body, token), the PPL mapping of
// docs/DESIGN.md: it is served by the token index and matches the token as a whole
// word (so '%error%' finds "an error occurred" but not "errors"). Every other
// pattern is a plain LIKE.
func (c *compiler) like(r *relation, x, pattern Node, neg bool) (Expr, error) {
	xe, _, f, err := c.expr(r, x, KindString, nil)
	if err != nil {
		return nil, err
	}
	pl, ok := pattern.(*StringLit)
	if !ok {
		return nil, errAt(pattern.Pos(), "like needs a quoted pattern")
	}
	if f != nil && f.Text && len(pl.Val) > 2 && strings.HasPrefix(pl.Val, "%") && strings.HasSuffix(pl.Val, "%") {
		tok := pl.Val[1 : len(pl.Val)-1]
		if isToken(tok) && isASCII(tok) {
			e := hasTokenCS(xe, tok)
			if neg {
				return Not(e), nil
			}
			return e, nil
		}
	}
	if neg {
		return NotLike(xe, String(pl.Val)), nil
	}
	return Like(xe, String(pl.Val)), nil
}

// scalar functions: PPL name -> ClickHouse name and arity (-1: any >= 1).
var scalarFuncs = map[string]struct {
	ch         string
	minA, maxA int
	kind       Kind // result kind; -1 keeps the first argument's
}{
	"abs": {"abs", 1, 1, -1}, "ceil": {"ceil", 1, 1, KindFloat}, "ceiling": {"ceil", 1, 1, KindFloat},
	"floor": {"floor", 1, 1, KindFloat}, "round": {"round", 1, 2, KindFloat}, "sqrt": {"sqrt", 1, 1, KindFloat},
	"exp": {"exp", 1, 1, KindFloat}, "ln": {"log", 1, 1, KindFloat}, "log10": {"log10", 1, 1, KindFloat},
	"log2": {"log2", 1, 1, KindFloat}, "pow": {"pow", 2, 2, KindFloat}, "power": {"pow", 2, 2, KindFloat},
	"mod": {"modulo", 2, 2, -1}, "sign": {"sign", 1, 1, KindInt},
	"lower": {"lower", 1, 1, KindString}, "upper": {"upper", 1, 1, KindString},
	"length": {"length", 1, 1, KindUint}, "trim": {"trimBoth", 1, 1, KindString},
	"ltrim": {"trimLeft", 1, 1, KindString}, "rtrim": {"trimRight", 1, 1, KindString},
	"concat": {"concat", 1, 32, KindString}, "substring": {"substringUTF8", 2, 3, KindString},
	"substr": {"substringUTF8", 2, 3, KindString}, "reverse": {"reverseUTF8", 1, 1, KindString},
	"replace": {"replaceAll", 3, 3, KindString}, "if": {"if", 3, 3, -1},
	"ifnull": {"ifNull", 2, 2, -1}, "coalesce": {"coalesce", 1, 32, -1},
	"isnull": {"isNull", 1, 1, KindUint}, "isnotnull": {"isNotNull", 1, 1, KindUint},
	"year": {"toYear", 1, 1, KindUint}, "month": {"toMonth", 1, 1, KindUint},
	"day": {"toDayOfMonth", 1, 1, KindUint}, "dayofmonth": {"toDayOfMonth", 1, 1, KindUint},
	"dayofweek": {"toDayOfWeek", 1, 1, KindUint}, "hour": {"toHour", 1, 1, KindUint},
	"minute": {"toMinute", 1, 1, KindUint}, "second": {"toSecond", 1, 1, KindUint},
}

func (c *compiler) call(r *relation, n *Call) (Expr, Kind, *Field, error) {
	switch n.Func {
	case "now", "current_timestamp", "sysdate", "localtimestamp":
		if len(n.Args) != 0 {
			return nil, 0, nil, errAt(n.At, "%s() takes no arguments", n.Func)
		}
		return Now(), KindTime, nil, nil
	case "date_sub", "subdate", "date_add", "adddate":
		if len(n.Args) != 2 {
			return nil, 0, nil, errAt(n.At, "%s(time, interval) takes 2 arguments", n.Func)
		}
		t, _, _, err := c.expr(r, n.Args[0], KindTime, nil)
		if err != nil {
			return nil, 0, nil, err
		}
		iv, ok := n.Args[1].(*DurationLit)
		if !ok {
			return nil, 0, nil, errAt(n.Args[1].Pos(), "%s needs an interval such as INTERVAL 1 HOUR", n.Func)
		}
		op := "+"
		if n.Func == "date_sub" || n.Func == "subdate" {
			op = "-"
		}
		return Arith(op, t, Interval(iv.N, iv.Unit)), KindTime, nil, nil
	case "match", "match_phrase":
		if len(n.Args) != 2 {
			return nil, 0, nil, errAt(n.At, "%s(field, 'text') takes 2 arguments", n.Func)
		}
		id, ok := n.Args[0].(*Ident)
		if !ok {
			return nil, 0, nil, errAt(n.Args[0].Pos(), "%s needs a field name first", n.Func)
		}
		b, err := c.lookup(r, id)
		if err != nil {
			return nil, 0, nil, err
		}
		s, ok := n.Args[1].(*StringLit)
		if !ok {
			return nil, 0, nil, errAt(n.Args[1].Pos(), "%s needs quoted text second", n.Func)
		}
		e, err := matchText(b, s, n.Func == "match_phrase")
		return e, KindUint, nil, err
	case "like":
		if len(n.Args) != 2 {
			return nil, 0, nil, errAt(n.At, "like(field, pattern) takes 2 arguments")
		}
		e, err := c.like(r, n.Args[0], n.Args[1], false)
		return e, KindUint, nil, err
	case "span":
		return nil, 0, nil, errAt(n.At, "span() is only allowed in stats ... by")
	}
	if _, ok := aggFuncs[n.Func]; ok {
		return nil, 0, nil, errAt(n.At, "aggregation %s() is only allowed in stats", n.Func)
	}
	def, ok := scalarFuncs[n.Func]
	if !ok {
		return nil, 0, nil, errAt(n.At, "unsupported function %q", truncate(n.Func))
	}
	if len(n.Args) < def.minA || len(n.Args) > def.maxA {
		return nil, 0, nil, errAt(n.At, "%s takes %d to %d arguments", n.Func, def.minA, def.maxA)
	}
	args := make([]Expr, len(n.Args))
	kind := def.kind
	for i, a := range n.Args {
		var e Expr
		var k Kind
		var err error
		if i == 0 && (n.Func == "if") {
			e, err = c.predicate(r, a)
		} else {
			e, k, _, err = c.expr(r, a, KindString, nil)
		}
		if err != nil {
			return nil, 0, nil, err
		}
		if i == 0 && kind < 0 {
			kind = k
		}
		if i == 1 && n.Func == "if" && def.kind < 0 {
			kind = k
		}
		args[i] = e
	}
	if kind < 0 {
		kind = KindString
	}
	return Fn(def.ch, args...), kind, nil, nil
}

// matchText compiles match(field, 'text') and match_phrase. On a full-text
// field, match is OpenSearch's default OR of the text's tokens and
// match_phrase needs the tokens in order; both are case-insensitive, as the
// analyzed text field was. On other fields both are exact equality.
func matchText(b binding, s *StringLit, phrase bool) (Expr, error) {
	if b.field == nil || !b.field.Text {
		if b.kind != KindString {
			return nil, errAt(s.At, "match needs a text field")
		}
		return Eq(b.expr, String(s.Val)), nil
	}
	toks := splitTokens(s.Val)
	if len(toks) == 0 {
		return nil, errAt(s.At, "match text has no words to search for")
	}
	if len(toks) > maxSearchTerms {
		return nil, errAt(s.At, "match text has more than %d words", maxSearchTerms)
	}
	if phrase {
		return containsPhrase(b.expr, s.Val), nil
	}
	var terms []Expr
	for _, t := range toks {
		terms = append(terms, hasTokenCI(b.expr, t))
	}
	return Or(terms...), nil
}
