package query

import (
	"strings"
	"unicode/utf8"
)

// Limits on search input. A phrase or term longer than maxSearchPhrase or a
// query with more than maxSearchTerms clauses is refused with a clear error
// rather than sent to the engine as a huge scan.
const (
	maxSearchLen    = 16 << 10
	maxSearchPhrase = 1 << 10
	maxSearchTerms  = 64
	maxSearchDepth  = 32
)

// ParseSearch compiles a Lucene-style search string (the q= parameter) to a
// predicate on table t. An empty or blank q returns nil, nil.
//
// Syntax, as in HyperDX and Kibana:
//
//	error                  free-text term: a whole word of the body, any case
//	"connection refused"   phrase: the words, in order, any case
//	level:error            field filter (fields as in PPL); * and ? wildcards
//	durationInNanos:>1000  comparison; field:[a TO b] and {a TO b} ranges
//	a AND b, a OR b, NOT a, -a, +a, (a OR b) c   (adjacent clauses are ANDed)
//
// Free text reads the body with hasToken on lower(Body), which the token
// index serves; terms with punctuation (10.0.0.1, user@example) and phrases
// need every word as a token and then the exact text by position().
// Errors are *SyntaxError.
func ParseSearch(q string, t Table) (Expr, error) {
	if len(q) > maxSearchLen {
		return nil, errAt(maxSearchLen, "search is longer than %d bytes", maxSearchLen)
	}
	if !utf8.ValidString(q) {
		return nil, errAt(0, "search is not valid UTF-8")
	}
	if strings.TrimSpace(q) == "" {
		return nil, nil
	}
	toks, err := lexSearch(q)
	if err != nil {
		return nil, err
	}
	p := &searchParser{toks: toks, fields: t.Fields}
	e, err := p.or("")
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != sEOF {
		return nil, errAt(t.pos, "unexpected %s", t.desc())
	}
	return e, nil
}

type sKind int

const (
	sEOF    sKind = iota
	sTerm         // bare word (escapes resolved); wild marks unescaped * or ?
	sPhrase       // "quoted"
	sLParen
	sRParen
	sColon
	sAnd // AND, &&
	sOr  // OR, ||
	sNot // NOT, !
	sMinus
	sPlus
	sLBracket // [ or {
	sRBracket // ] or }
	sCmp      // > >= < <=
)

type sTok struct {
	kind sKind
	val  string
	pos  int
	wild bool
	// incl is true for [ and ], false for { and }.
	incl bool
}

func (t sTok) desc() string {
	switch t.kind {
	case sEOF:
		return "end of search"
	case sPhrase:
		return "phrase"
	}
	return "'" + truncate(t.val) + "'"
}

// searchSpecial are the characters that end a bare term; a backslash makes
// any of them literal.
const searchSpecial = " \t\r\n()\":[]{}"

func lexSearch(q string) ([]sTok, error) {
	var toks []sTok
	i := 0
	for {
		for i < len(q) && isSpace(q[i]) {
			i++
		}
		if i >= len(q) {
			return append(toks, sTok{kind: sEOF, pos: i}), nil
		}
		start := i
		c := q[i]
		switch {
		case c == '(':
			toks = append(toks, sTok{kind: sLParen, val: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, sTok{kind: sRParen, val: ")", pos: i})
			i++
		case c == ':':
			toks = append(toks, sTok{kind: sColon, val: ":", pos: i})
			i++
		case c == '[' || c == '{':
			toks = append(toks, sTok{kind: sLBracket, val: string(c), pos: i, incl: c == '['})
			i++
		case c == ']' || c == '}':
			toks = append(toks, sTok{kind: sRBracket, val: string(c), pos: i, incl: c == ']'})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '"'; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j >= len(q) {
				return nil, errAt(i, "unterminated phrase")
			}
			if b.Len() > maxSearchPhrase {
				return nil, errAt(i, "phrase is longer than %d bytes", maxSearchPhrase)
			}
			toks = append(toks, sTok{kind: sPhrase, val: b.String(), pos: i})
			i = j + 1
		case (c == '-' || c == '+' || c == '!') && (len(toks) == 0 || !glued(q, i)):
			// A prefix operator: at a clause start, not inside a word.
			k := map[byte]sKind{'-': sMinus, '+': sPlus, '!': sNot}[c]
			toks = append(toks, sTok{kind: k, val: string(c), pos: i})
			i++
		case (c == '>' || c == '<') && len(toks) > 0 && toks[len(toks)-1].kind == sColon:
			op := string(c)
			if i+1 < len(q) && q[i+1] == '=' {
				op += "="
			}
			toks = append(toks, sTok{kind: sCmp, val: op, pos: i})
			i += len(op)
		case c == '&' && i+1 < len(q) && q[i+1] == '&':
			toks = append(toks, sTok{kind: sAnd, val: "&&", pos: i})
			i += 2
		case c == '|' && i+1 < len(q) && q[i+1] == '|':
			toks = append(toks, sTok{kind: sOr, val: "||", pos: i})
			i += 2
		default:
			var b strings.Builder
			wild := false
			j := i
			for j < len(q) && !strings.ContainsRune(searchSpecial, rune(q[j])) {
				if q[j] == '\\' {
					if j+1 >= len(q) {
						return nil, errAt(j, "backslash at end of search")
					}
					j++
					// Keep an escaped wildcard distinguishable from a
					// live one by escaping it for LIKE.
					if q[j] == '*' || q[j] == '?' {
						b.WriteByte('\\')
					}
				} else if q[j] == '*' || q[j] == '?' {
					wild = true
				}
				b.WriteByte(q[j])
				j++
			}
			if b.Len() > maxSearchPhrase {
				return nil, errAt(start, "term is longer than %d bytes", maxSearchPhrase)
			}
			t := sTok{kind: sTerm, val: b.String(), pos: start, wild: wild}
			if !wild {
				switch t.val {
				case "AND":
					t.kind = sAnd
				case "OR":
					t.kind = sOr
				case "NOT":
					t.kind = sNot
				}
			}
			toks = append(toks, t)
			i = j
		}
	}
}

// glued reports whether q[i] follows a term character directly (a-b is one
// term, not a AND NOT b).
func glued(q string, i int) bool {
	return i > 0 && !isSpace(q[i-1]) && q[i-1] != '(' && q[i-1] != ':'
}

type searchParser struct {
	toks   []sTok
	i      int
	fields *FieldMap
	terms  int
	depth  int
}

func (p *searchParser) peek() sTok { return p.toks[p.i] }
func (p *searchParser) next() sTok {
	t := p.toks[p.i]
	if t.kind != sEOF {
		p.i++
	}
	return t
}

// or := and { OR and }. field is the field of an enclosing field:(...)
// group, "" for free text.
func (p *searchParser) or(field string) (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxSearchDepth {
		return nil, errAt(p.peek().pos, "search nested deeper than %d", maxSearchDepth)
	}
	first, err := p.and(field)
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for p.peek().kind == sOr {
		p.next()
		e, err := p.and(field)
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return Or(terms...), nil
}

// and := unary { [AND] unary }; adjacent clauses are ANDed.
func (p *searchParser) and(field string) (Expr, error) {
	first, err := p.unary(field)
	if err != nil {
		return nil, err
	}
	terms := []Expr{first}
	for {
		t := p.peek()
		if t.kind == sAnd {
			p.next()
		} else if t.kind == sEOF || t.kind == sOr || t.kind == sRParen {
			break
		}
		e, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		terms = append(terms, e)
	}
	if len(terms) == 1 {
		return first, nil
	}
	return And(terms...), nil
}

func (p *searchParser) unary(field string) (Expr, error) {
	switch t := p.peek(); t.kind {
	case sNot, sMinus:
		p.next()
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxSearchDepth {
			return nil, errAt(t.pos, "search nested deeper than %d", maxSearchDepth)
		}
		x, err := p.unary(field)
		if err != nil {
			return nil, err
		}
		return Not(x), nil
	case sPlus:
		p.next()
		return p.unary(field)
	}
	return p.primary(field)
}

func (p *searchParser) primary(field string) (Expr, error) {
	t := p.next()
	switch t.kind {
	case sLParen:
		e, err := p.or(field)
		if err != nil {
			return nil, err
		}
		if r := p.next(); r.kind != sRParen {
			return nil, errAt(r.pos, "expected ')', found %s", r.desc())
		}
		return e, nil
	case sPhrase:
		return p.leaf(field, t)
	case sTerm:
		if p.peek().kind != sColon {
			return p.leaf(field, t)
		}
		colon := p.next()
		if field != "" {
			return nil, errAt(colon.pos, "field %q inside field %q's group", truncate(t.val), truncate(field))
		}
		if t.wild {
			return nil, errAt(t.pos, "wildcards are not allowed in field names")
		}
		name := t.val
		switch v := p.peek(); v.kind {
		case sLParen:
			p.next()
			e, err := p.or(name)
			if err != nil {
				return nil, err
			}
			if r := p.next(); r.kind != sRParen {
				return nil, errAt(r.pos, "expected ')', found %s", r.desc())
			}
			return e, nil
		case sLBracket:
			return p.rangeQuery(name)
		case sCmp:
			p.next()
			val := p.next()
			if val.kind != sTerm && val.kind != sPhrase {
				return nil, errAt(val.pos, "expected a value after %s", v.val)
			}
			return p.compare(name, t.pos, v.val, val)
		case sTerm, sPhrase:
			p.next()
			return p.leaf(name, v)
		default:
			return nil, errAt(v.pos, "expected a value after %q:", truncate(name))
		}
	}
	return nil, errAt(t.pos, "unexpected %s", t.desc())
}

func (p *searchParser) count(pos int) error {
	p.terms++
	if p.terms > maxSearchTerms {
		return errAt(pos, "search has more than %d terms", maxSearchTerms)
	}
	return nil
}

func (p *searchParser) field(name string, pos int) (*Field, error) {
	f, ok := p.fields.Lookup(name)
	if !ok {
		return nil, errAt(pos, "unknown field %q", truncate(name))
	}
	return f, nil
}

// leaf compiles one term or phrase, for field name ("" = free text).
func (p *searchParser) leaf(name string, t sTok) (Expr, error) {
	if err := p.count(t.pos); err != nil {
		return nil, err
	}
	f := p.fields.Text()
	if name != "" {
		var err error
		if f, err = p.field(name, t.pos); err != nil {
			return nil, err
		}
	}
	if f == nil {
		return nil, errAt(t.pos, "this table has no free-text field; use field:value")
	}
	if t.kind == sTerm && t.wild {
		if t.val == "*" {
			if f.Kind == KindString {
				return Ne(f.Expr, String("")), nil // field:* means "has a value"
			}
			return True, nil
		}
		if f.Kind != KindString {
			return nil, errAt(t.pos, "wildcards need a text field, %q is a %s", f.Name, f.Kind)
		}
		pat := wildcardToLike(t.val)
		if f.Text {
			// A wildcard word may sit anywhere in the body.
			return ILike(f.Expr, String("%"+pat+"%")), nil
		}
		return Like(f.Expr, String(pat)), nil
	}
	val := t.val
	if t.kind == sTerm {
		// Escaped wildcards were kept as \* \? for LIKE; here they are
		// plain characters.
		val = strings.NewReplacer(`\*`, "*", `\?`, "?").Replace(val)
	}
	if val == "" {
		return nil, errAt(t.pos, "empty phrase")
	}
	if f.Text {
		return containsPhrase(f.Expr, val), nil
	}
	return p.typedEq(f, t.pos, val)
}

// typedEq is field = value, with value bound as the field's type.
func (p *searchParser) typedEq(f *Field, pos int, val string) (Expr, error) {
	v, err := p.typedValue(f, pos, val)
	if err != nil {
		return nil, err
	}
	if f.Fold {
		return Eq(Fn("upper", f.Expr), v), nil
	}
	return Eq(f.Expr, v), nil
}

func (p *searchParser) typedValue(f *Field, pos int, val string) (Expr, error) {
	var e Expr
	var err error
	if f.Kind == KindString {
		return (&compiler{}).literalString(f, val), nil
	}
	e, _, err = (&compiler{}).literal(&StringLit{At: pos, Val: val}, f.Kind, f)
	return e, err
}

// literalString binds a string value for a string field.
func (c *compiler) literalString(f *Field, val string) Expr {
	if f.mapValue != nil {
		if v, ok := f.mapValue(val); ok {
			return String(v)
		}
	}
	if f.Fold {
		return String(asciiUpper(val))
	}
	return String(val)
}

func (p *searchParser) compare(name string, pos int, op string, val sTok) (Expr, error) {
	if err := p.count(pos); err != nil {
		return nil, err
	}
	f, err := p.field(name, pos)
	if err != nil {
		return nil, err
	}
	v, err := p.typedValue(f, val.pos, val.val)
	if err != nil {
		return nil, err
	}
	switch op {
	case ">":
		return Gt(f.Expr, v), nil
	case ">=":
		return Ge(f.Expr, v), nil
	case "<":
		return Lt(f.Expr, v), nil
	}
	return Le(f.Expr, v), nil
}

// rangeQuery parses [lo TO hi] (inclusive) or {lo TO hi} (exclusive); * is
// an open end.
func (p *searchParser) rangeQuery(name string) (Expr, error) {
	open := p.next()
	if err := p.count(open.pos); err != nil {
		return nil, err
	}
	f, err := p.field(name, open.pos)
	if err != nil {
		return nil, err
	}
	lo := p.next()
	to := p.next()
	hi := p.next()
	cl := p.next()
	for _, t := range []sTok{lo, hi} {
		if t.kind != sTerm && t.kind != sPhrase {
			return nil, errAt(t.pos, "expected a range bound, found %s", t.desc())
		}
	}
	if to.kind != sTerm || to.val != "TO" {
		return nil, errAt(to.pos, "expected TO in range, found %s", to.desc())
	}
	if cl.kind != sRBracket {
		return nil, errAt(cl.pos, "expected ] or } to close the range, found %s", cl.desc())
	}
	var terms []Expr
	if !(lo.kind == sTerm && lo.val == "*") {
		v, err := p.typedValue(f, lo.pos, lo.val)
		if err != nil {
			return nil, err
		}
		if open.incl {
			terms = append(terms, Ge(f.Expr, v))
		} else {
			terms = append(terms, Gt(f.Expr, v))
		}
	}
	if !(hi.kind == sTerm && hi.val == "*") {
		v, err := p.typedValue(f, hi.pos, hi.val)
		if err != nil {
			return nil, err
		}
		if cl.incl {
			terms = append(terms, Le(f.Expr, v))
		} else {
			terms = append(terms, Lt(f.Expr, v))
		}
	}
	return And(terms...), nil
}

// wildcardToLike turns a Lucene wildcard term into a LIKE pattern: % and _
// become literal, * and ? become % and _, and \* \? (escaped by the lexer)
// stay literal.
func wildcardToLike(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?'):
			b.WriteByte(s[i+1])
			i++
		case c == '\\':
			b.WriteString(`\\`)
		case c == '%' || c == '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '*':
			b.WriteByte('%')
		case c == '?':
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
