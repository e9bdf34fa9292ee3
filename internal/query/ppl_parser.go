package query

import (
	"strconv"
	"strings"
)

// ParsePPL parses a PPL query into its syntax tree. Errors are
// *SyntaxError. Parsing accepts every command it knows the shape of;
// CompilePPL decides what the ClickHouse back end supports.
func ParsePPL(src string) (*PPLQuery, error) {
	toks, err := lexPPL(src)
	if err != nil {
		return nil, err
	}
	p := &pplParser{src: src, toks: toks}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	return q, nil
}

type pplParser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *pplParser) peek() token { return p.toks[p.i] }
func (p *pplParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isOp reports whether the current token is the operator op.
func (p *pplParser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.val == op
}

// isKw reports whether the current token is the (unquoted) keyword kw.
func (p *pplParser) isKw(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && !t.quoted && strings.EqualFold(t.val, kw)
}

func (p *pplParser) expectOp(op string) (token, error) {
	t := p.next()
	if t.kind != tOp || t.val != op {
		return t, errAt(t.pos, "expected '%s', found %s", op, t)
	}
	return t, nil
}

// keywords that cannot be bare field names.
var pplKeywords = map[string]bool{
	"and": true, "or": true, "xor": true, "not": true, "like": true, "in": true,
	"by": true, "as": true, "from": true, "asc": true, "desc": true,
	"true": true, "false": true, "null": true, "interval": true,
}

// knownCommands are PPL commands this package parses or names in errors.
var unsupportedCommands = map[string]bool{
	"dedup": true, "rename": true, "top": true, "rare": true, "parse": true,
	"grok": true, "patterns": true, "lookup": true, "join": true, "trendline": true,
	"fillnull": true, "expand": true, "flatten": true, "ad": true, "ml": true,
	"kmeans": true, "eventstats": true, "appendcol": true, "subquery": true,
	"describe": true, "show": true, "explain": true, "regex": true, "rex": true,
	"table": true, "timechart": true, "chart": true, "bin": true, "reverse": true,
	"append": true, "spath": true, "multisearch": true, "streamstats": true,
}

func (p *pplParser) query() (*PPLQuery, error) {
	q := &PPLQuery{}
	if p.isKw("search") {
		p.next()
	}
	t := p.next()
	if t.kind != tIdent || t.quoted || !strings.EqualFold(t.val, "source") {
		return nil, errAt(t.pos, "a PPL query starts with source=<index>, found %s", t)
	}
	if _, err := p.expectOp("="); err != nil {
		return nil, err
	}
	for {
		t := p.next()
		if t.kind != tIdent && t.kind != tString {
			return nil, errAt(t.pos, "expected an index name after source=, found %s", t)
		}
		q.Sources = append(q.Sources, t.val)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	for p.peek().kind != tEOF {
		if _, err := p.expectOp("|"); err != nil {
			return nil, err
		}
		if len(q.Commands) >= maxPPLCommand {
			return nil, errAt(p.peek().pos, "more than %d commands", maxPPLCommand)
		}
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		q.Commands = append(q.Commands, c)
	}
	return q, nil
}

func (p *pplParser) command() (Command, error) {
	t := p.next()
	if t.kind != tIdent || t.quoted {
		return nil, errAt(t.pos, "expected a command after '|', found %s", t)
	}
	name := strings.ToLower(t.val)
	switch name {
	case "where":
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		return &WhereCmd{At: t.pos, Cond: cond}, p.endCommand()
	case "fields":
		c := &FieldsCmd{At: t.pos}
		if p.isOp("-") {
			return nil, errAt(p.peek().pos, "unsupported: fields - (excluding fields); list the fields to keep")
		}
		if p.isOp("+") {
			p.next()
		}
		for {
			id, err := p.ident()
			if err != nil {
				return nil, err
			}
			c.Fields = append(c.Fields, id)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		return c, p.endCommand()
	case "sort":
		c := &SortCmd{At: t.pos}
		for {
			desc := false
			if p.isOp("-") {
				desc = true
				p.next()
			} else if p.isOp("+") {
				p.next()
			}
			e, err := p.additive()
			if err != nil {
				return nil, err
			}
			if p.isKw("desc") {
				p.next()
				desc = !desc
			} else if p.isKw("asc") {
				p.next()
			}
			c.Keys = append(c.Keys, SortKey{Expr: e, Desc: desc})
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		return c, p.endCommand()
	case "head":
		c := &HeadCmd{At: t.pos, N: 10}
		if p.peek().kind == tInt {
			n, err := p.int()
			if err != nil {
				return nil, err
			}
			c.N = n
		}
		if p.isKw("from") {
			p.next()
			n, err := p.int()
			if err != nil {
				return nil, err
			}
			c.From = n
		}
		return c, p.endCommand()
	case "stats":
		return p.stats(t)
	case "eval":
		c := &EvalCmd{At: t.pos}
		for {
			id, err := p.ident()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp("="); err != nil {
				return nil, err
			}
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.Assigns = append(c.Assigns, Assignment{At: id.At, Name: id.Name, Expr: e})
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		return c, p.endCommand()
	case "source", "search":
		return nil, errAt(t.pos, "unsupported: %s may only start the query", name)
	}
	if unsupportedCommands[name] {
		return nil, errAt(t.pos, "unsupported command %q", name)
	}
	return nil, errAt(t.pos, "unknown command %q", truncate(t.val))
}

// endCommand checks that a command ended where it should.
func (p *pplParser) endCommand() error {
	t := p.peek()
	if t.kind == tEOF || (t.kind == tOp && t.val == "|") {
		return nil
	}
	return errAt(t.pos, "unexpected %s", t)
}

func (p *pplParser) int() (int64, error) {
	t := p.next()
	if t.kind != tInt {
		return 0, errAt(t.pos, "expected a whole number, found %s", t)
	}
	n, err := strconv.ParseInt(t.val, 10, 64)
	if err != nil {
		return 0, errAt(t.pos, "number %s is out of range", truncate(t.val))
	}
	return n, nil
}

func (p *pplParser) ident() (*Ident, error) {
	t := p.next()
	if t.kind != tIdent || (!t.quoted && pplKeywords[strings.ToLower(t.val)]) {
		return nil, errAt(t.pos, "expected a field name, found %s", t)
	}
	return &Ident{At: t.pos, Name: t.val}, nil
}

func (p *pplParser) stats(t token) (Command, error) {
	c := &StatsCmd{At: t.pos}
	for {
		start := p.peek()
		fn := p.next()
		if fn.kind != tIdent || fn.quoted || !p.isOp("(") {
			return nil, errAt(fn.pos, "expected an aggregation such as count(), found %s", fn)
		}
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		a := Aggregation{At: fn.pos, Func: strings.ToLower(fn.val), Args: args,
			Text: p.src[start.pos:p.toks[p.i-1].end]}
		if p.isKw("as") {
			p.next()
			id, err := p.ident()
			if err != nil {
				return nil, err
			}
			a.Alias = id.Name
		}
		c.Aggs = append(c.Aggs, a)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if p.isKw("by") {
		p.next()
		for {
			start := p.peek()
			e, err := p.primary()
			if err != nil {
				return nil, err
			}
			k := GroupKey{Expr: e, Text: p.src[start.pos:p.toks[p.i-1].end]}
			if p.isKw("as") {
				p.next()
				id, err := p.ident()
				if err != nil {
					return nil, err
				}
				k.Alias = id.Name
			}
			c.By = append(c.By, k)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	return c, p.endCommand()
}

// args parses "( [expr {, expr}] )".
func (p *pplParser) args() ([]Node, error) {
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []Node
	if p.isOp(")") {
		p.next()
		return args, nil
	}
	for {
		if p.isOp("*") { // count(*)
			t := p.next()
			args = append(args, &Ident{At: t.pos, Name: "*"})
		} else {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		if p.isOp(",") {
			p.next()
			continue
		}
		if _, err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return args, nil
	}
}

// enter bounds recursion so a deeply nested query is an error, not a stack
// overflow.
func (p *pplParser) enter() error {
	p.depth++
	if p.depth > maxPPLDepth {
		return errAt(p.peek().pos, "expression nested deeper than %d", maxPPLDepth)
	}
	return nil
}

func (p *pplParser) leave() { p.depth-- }

// expr := or
func (p *pplParser) expr() (Node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.or()
}

func (p *pplParser) or() (Node, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for n := 1; p.isKw("or") || p.isKw("xor"); n++ {
		t := p.next()
		if n >= maxPPLChain {
			return nil, errAt(t.pos, "more than %d conditions joined by or (OpenSearch's max_clause_count); use in (...) for a list of values", maxPPLChain)
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Binary{At: t.pos, Op: strings.ToLower(t.val), L: l, R: r}
	}
	return l, nil
}

func (p *pplParser) and() (Node, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for n := 1; p.isKw("and"); n++ {
		t := p.next()
		if n >= maxPPLChain {
			return nil, errAt(t.pos, "more than %d conditions joined by and (OpenSearch's max_clause_count)", maxPPLChain)
		}
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &Binary{At: t.pos, Op: "and", L: l, R: r}
	}
	return l, nil
}

func (p *pplParser) not() (Node, error) {
	if p.isKw("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		t := p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Unary{At: t.pos, Op: "not", X: x}, nil
	}
	return p.comparison()
}

var compareOps = map[string]string{"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *pplParser) comparison() (Node, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp {
		if op, ok := compareOps[t.val]; ok {
			p.next()
			r, err := p.additive()
			if err != nil {
				return nil, err
			}
			return &Binary{At: t.pos, Op: op, L: l, R: r}, nil
		}
	}
	neg := false
	if p.isKw("not") {
		// "x not like p", "x not in (...)"
		nt := p.toks[p.i+1]
		if nt.kind == tIdent && !nt.quoted && (strings.EqualFold(nt.val, "like") || strings.EqualFold(nt.val, "in")) {
			p.next()
			neg = true
		}
	}
	switch {
	case p.isKw("like"):
		t := p.next()
		r, err := p.additive()
		if err != nil {
			return nil, err
		}
		return &LikeExpr{At: t.pos, X: l, Pattern: r, Not: neg}, nil
	case p.isKw("in"):
		t := p.next()
		list, err := p.args()
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errAt(t.pos, "in () needs at least one value")
		}
		return &InExpr{At: t.pos, X: l, List: list, Not: neg}, nil
	}
	return l, nil
}

func (p *pplParser) additive() (Node, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for n := 0; p.isOp("+") || p.isOp("-"); n++ {
		t := p.next()
		if n >= maxPPLArith {
			return nil, errAt(t.pos, "more than %d + and - in a row", maxPPLArith)
		}
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &Binary{At: t.pos, Op: t.val, L: l, R: r}
	}
	return l, nil
}

func (p *pplParser) multiplicative() (Node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for n := 0; p.isOp("*") || p.isOp("/") || p.isOp("%"); n++ {
		t := p.next()
		if n >= maxPPLArith {
			return nil, errAt(t.pos, "more than %d *, / and %% in a row", maxPPLArith)
		}
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Binary{At: t.pos, Op: t.val, L: l, R: r}
	}
	return l, nil
}

func (p *pplParser) unary() (Node, error) {
	if p.isOp("-") || p.isOp("+") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		t := p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.val == "+" {
			return x, nil
		}
		return &Unary{At: t.pos, Op: "-", X: x}, nil
	}
	return p.primary()
}

// durationUnits maps the suffixes of 5m-style spans and the words of
// INTERVAL n UNIT to ClickHouse units.
var durationUnits = map[string]IntervalUnit{
	"ns": Nanosecond, "us": Microsecond, "ms": Millisecond,
	"s": Second, "sec": Second, "secs": Second, "second": Second, "seconds": Second,
	"m": Minute, "min": Minute, "mins": Minute, "minute": Minute, "minutes": Minute,
	"h": Hour, "hr": Hour, "hour": Hour, "hours": Hour,
	"d": Day, "day": Day, "days": Day,
	"w": Week, "week": Week, "weeks": Week,
	"month": Month, "months": Month, "M": Month,
	"q": Quarter, "quarter": Quarter, "quarters": Quarter,
	"y": Year, "year": Year, "years": Year,
}

func parseUnit(s string) (IntervalUnit, bool) {
	if u, ok := durationUnits[s]; ok {
		return u, true
	}
	u, ok := durationUnits[strings.ToLower(s)]
	return u, ok
}

func (p *pplParser) primary() (Node, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &StringLit{At: t.pos, Val: t.val}, nil
	case tInt, tFloat:
		return &NumberLit{At: t.pos, Text: t.val, Float: t.kind == tFloat}, nil
	case tDuration:
		j := 0
		for j < len(t.val) && isDigit(t.val[j]) {
			j++
		}
		n, err := strconv.ParseInt(t.val[:j], 10, 64)
		if err != nil {
			return nil, errAt(t.pos, "span %s is out of range", truncate(t.val))
		}
		u, ok := parseUnit(t.val[j:])
		if !ok {
			return nil, errAt(t.pos+j, "unknown time unit %q (use s, m, h, d, w)", truncate(t.val[j:]))
		}
		return &DurationLit{At: t.pos, N: n, Unit: u, Text: t.val}, nil
	case tOp:
		if t.val == "(" {
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer p.leave()
			e, err := p.or()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return e, nil
		}
		return nil, errAt(t.pos, "unexpected %s", t)
	case tIdent:
		if t.quoted {
			return &Ident{At: t.pos, Name: t.val}, nil
		}
		low := strings.ToLower(t.val)
		switch low {
		case "true", "false":
			return &BoolLit{At: t.pos, Val: low == "true"}, nil
		case "null":
			return &NullLit{At: t.pos}, nil
		case "interval":
			n, err := p.int()
			if err != nil {
				return nil, err
			}
			ut := p.next()
			u, ok := parseUnit(ut.val)
			if ut.kind != tIdent || !ok {
				return nil, errAt(ut.pos, "expected a time unit after INTERVAL %d, found %s", n, ut)
			}
			return &DurationLit{At: t.pos, N: n, Unit: u, Text: p.src[t.pos:ut.end]}, nil
		}
		if p.isOp("(") {
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer p.leave()
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			return &Call{At: t.pos, Func: low, Args: args}, nil
		}
		if pplKeywords[low] {
			return nil, errAt(t.pos, "unexpected keyword %s", t)
		}
		return &Ident{At: t.pos, Name: t.val}, nil
	}
	return nil, errAt(t.pos, "unexpected %s", t)
}

// truncate shortens user text quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
