package chhttp

import (
	"strings"
)

// statement is what the interface must know of a query's text before the
// engine sees it: the engine parses and checks everything else.
//
// A ClickHouse request's input is one statement; for an INSERT it is
// followed by the data (the rest of the input after the FORMAT name, or
// after VALUES). The engine here reads INSERT data from a file, so the
// interface finds where the statement ends and the data begins, the same
// split ClickHouse's parser makes.
type statement struct {
	// Kind is the first keyword, upper-cased: SELECT, INSERT, SHOW...
	Kind string
	// Format is the name after a top-level FORMAT keyword: the output
	// format of a query, the input format of an INSERT ("Values" for
	// VALUES); "" when there is none.
	Format string
	// HasData: an INSERT whose data follows the statement in the input,
	// from offset DataStart.
	HasData   bool
	DataStart int
	// InfileAt is where "FROM INFILE ..." belongs in an INSERT with data:
	// before a top-level SETTINGS clause, else before FORMAT (or VALUES).
	// FormatAt..FormatEnd is the FORMAT (or VALUES) clause itself.
	InfileAt, FormatAt, FormatEnd int
	// End is the end of the statement's text, a trailing ';' excluded.
	End int
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokWord
	tokQuotedIdent
	tokString
	tokNumber
	tokPunct
	tokUnterminated
)

type token struct {
	kind       tokKind
	start, end int
}

// lexer splits ClickHouse SQL into the tokens this file needs: words,
// quoted identifiers and strings (skipped whole, escapes included),
// comments and whitespace (skipped), and single punctuation characters.
type lexer struct {
	s   string
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80
}

// skip passes whitespace and comments; false when a block comment does not end.
func (l *lexer) skip() bool {
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case isSpace(c):
			l.pos++
		case c == '-' && strings.HasPrefix(l.s[l.pos:], "--"), c == '#':
			i := strings.IndexByte(l.s[l.pos:], '\n')
			if i < 0 {
				l.pos = len(l.s)
			} else {
				l.pos += i + 1
			}
		case c == '/' && strings.HasPrefix(l.s[l.pos:], "/*"):
			// ClickHouse's block comments nest.
			depth, i := 0, l.pos
			for i < len(l.s) {
				if strings.HasPrefix(l.s[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(l.s[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			if depth != 0 {
				l.pos = len(l.s)
				return false
			}
			l.pos = i
		default:
			return true
		}
	}
	return true
}

func (l *lexer) next() token {
	if !l.skip() {
		return token{kind: tokUnterminated, start: l.pos, end: l.pos}
	}
	if l.pos >= len(l.s) {
		return token{kind: tokEOF, start: l.pos, end: l.pos}
	}
	start := l.pos
	c := l.s[start]
	switch {
	case c == '\'' || c == '"' || c == '`':
		i := start + 1
		for i < len(l.s) {
			switch l.s[i] {
			case '\\':
				i += 2
				continue
			case c:
				if i+1 < len(l.s) && l.s[i+1] == c { // doubled quote
					i += 2
					continue
				}
				l.pos = i + 1
				if c == '\'' {
					return token{tokString, start, l.pos}
				}
				return token{tokQuotedIdent, start, l.pos}
			}
			i++
		}
		l.pos = len(l.s)
		return token{tokUnterminated, start, l.pos}
	case c == '$':
		// Heredoc $tag$...$tag$, else a word starting with $.
		if j := strings.IndexByte(l.s[start+1:], '$'); j >= 0 && isHeredocTag(l.s[start+1:start+1+j]) {
			tag := l.s[start : start+j+2]
			if k := strings.Index(l.s[start+len(tag):], tag); k >= 0 {
				l.pos = start + len(tag) + k + len(tag)
				return token{tokString, start, l.pos}
			}
			l.pos = len(l.s)
			return token{tokUnterminated, start, l.pos}
		}
	}
	if isWordByte(c) {
		i := start
		for i < len(l.s) && isWordByte(l.s[i]) {
			i++
		}
		l.pos = i
		if c >= '0' && c <= '9' {
			return token{tokNumber, start, i}
		}
		return token{tokWord, start, i}
	}
	l.pos++
	return token{tokPunct, start, l.pos}
}

func isHeredocTag(t string) bool {
	for i := 0; i < len(t); i++ {
		if !isWordByte(t[i]) || t[i] == '$' {
			return false
		}
	}
	return true
}

func (l *lexer) text(t token) string { return l.s[t.start:t.end] }

func (l *lexer) is(t token, word string) bool {
	return t.kind == tokWord && strings.EqualFold(l.text(t), word)
}

// scanStatement reads the statement at the start of text. complete says
// text is the whole input; when it is only a prefix (the head of a large
// INSERT body), an INSERT must reach its data within it.
//
// It rejects what a ClickHouse server rejects before parsing: an empty
// query, more than one statement, and the client-side clauses INTO OUTFILE
// and FROM INFILE, which the embedded engine (a clickhouse-local) would
// otherwise honour against the server's own files.
func scanStatement(text string, complete bool) (statement, error) {
	l := &lexer{s: text}
	var st statement
	first := l.next()
	switch first.kind {
	case tokEOF:
		return st, exception(codeSyntaxError, "Empty query")
	case tokUnterminated:
		return st, exception(codeSyntaxError, "Syntax error: unterminated comment or quoted text at position %d", first.start+1)
	}
	st.Kind = strings.ToUpper(l.text(first))
	if first.kind != tokWord {
		st.Kind = l.text(first)
	}
	st.InfileAt, st.FormatAt, st.FormatEnd = -1, -1, -1
	insert := st.Kind == "INSERT"
	if insert {
		// INTO [TABLE] name | INTO FUNCTION f(...): the target may itself be
		// called "format" or "values", so it is passed before looking.
		t := l.next()
		if l.is(t, "INTO") {
			t = l.next()
		}
		if l.is(t, "TABLE") {
			t = l.next()
		}
		if l.is(t, "FUNCTION") {
			l.next() // function name; its arguments are a depth-1 group below
		} else {
			// db.table
			save := l.pos
			if d := l.next(); d.kind == tokPunct && l.text(d) == "." {
				l.next()
			} else {
				l.pos = save
			}
		}
	}
	depth := 0
	var prev token
	for {
		t := l.next()
		switch t.kind {
		case tokUnterminated:
			if !complete && insert {
				return st, exception(codeSyntaxError, "Max query size exceeded: the INSERT's FORMAT clause is not within max_query_size")
			}
			return st, exception(codeSyntaxError, "Syntax error: unterminated comment or quoted text at position %d", t.start+1)
		case tokEOF:
			if !complete && insert {
				return st, exception(codeSyntaxError, "Max query size exceeded: the INSERT's FORMAT clause is not within max_query_size")
			}
			st.End = t.start
			return st, nil
		case tokPunct:
			switch l.text(t) {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth > 0 {
					depth--
				}
			case ";":
				if depth == 0 {
					st.End = t.start
					if rest := l.next(); rest.kind != tokEOF {
						return st, exception(codeSyntaxError, "Multi-statements are not allowed")
					}
					return st, nil
				}
			}
		case tokString:
			if prev.kind == tokWord && (l.is(prev, "OUTFILE")) {
				return st, exception(codeIntoOutfileNotAllowed, "INTO OUTFILE is not allowed")
			}
			if prev.kind == tokWord && l.is(prev, "INFILE") {
				return st, exception(codeIntoOutfileNotAllowed, "FROM INFILE is not allowed: the data of an INSERT goes in the request body")
			}
		case tokWord:
			if depth > 0 {
				break
			}
			switch {
			case insert && st.InfileAt < 0 && l.is(t, "SETTINGS"):
				st.InfileAt = t.start
			case insert && (l.is(t, "SELECT") || l.is(t, "WITH")) && !st.HasData:
				insert = false // INSERT ... SELECT: the whole input is the query
			case l.is(t, "FORMAT"):
				save := l.pos
				name := l.next()
				if name.kind != tokWord && name.kind != tokQuotedIdent {
					l.pos = save
					break
				}
				st.Format = strings.Trim(l.text(name), "`\"")
				st.FormatAt, st.FormatEnd = t.start, name.end
				if insert {
					if st.InfileAt < 0 {
						st.InfileAt = t.start
					}
					st.HasData, st.DataStart = true, dataStart(text, name.end)
					return st, nil
				}
			case insert && l.is(t, "VALUES"):
				st.Format = "Values"
				st.FormatAt, st.FormatEnd = t.start, t.end
				if st.InfileAt < 0 {
					st.InfileAt = t.start
				}
				st.HasData, st.DataStart = true, t.end
				return st, nil
			}
		}
		prev = t
	}
}

// dataStart is where an INSERT's data begins after its format name at pos:
// after the first newline if only whitespace comes before it, otherwise
// after all the whitespace (ClickHouse's rule).
func dataStart(text string, pos int) int {
	i := pos
	for i < len(text) && isSpace(text[i]) {
		if text[i] == '\n' {
			return i + 1
		}
		i++
	}
	return i
}

// insertFromFile rewrites an INSERT with data so that the engine reads the
// data from path: "INSERT INTO t (cols) FROM INFILE 'path' [SETTINGS ...]
// FORMAT name". path is the interface's own spool file name.
func insertFromFile(text string, st statement, path string) string {
	var b strings.Builder
	b.WriteString(text[:st.InfileAt])
	b.WriteString(" FROM INFILE '")
	b.WriteString(path)
	b.WriteString("' ")
	b.WriteString(text[st.InfileAt:st.FormatAt])
	b.WriteString(" FORMAT ")
	b.WriteString(quoteFormat(st.Format))
	return b.String()
}

func quoteFormat(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// unquote decodes the text of a quoted string or identifier token: doubled
// quotes and ClickHouse's backslash escapes. An escape it does not know
// keeps the character after the backslash.
func unquote(tok string) string {
	if len(tok) < 2 {
		return tok
	}
	q := tok[0]
	s := tok[1 : len(tok)-1]
	if q == '$' { // heredoc: $tag$...$tag$
		if i := strings.IndexByte(tok[1:], '$'); i >= 0 {
			tag := tok[:i+2]
			if len(tok) >= 2*len(tag) {
				return tok[len(tag) : len(tok)-len(tag)]
			}
		}
		return tok
	}
	if !strings.ContainsAny(s, "\\"+string(q)) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case c == '\\' && i+1 < len(s):
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'a':
				b.WriteByte('\a')
			case 'v':
				b.WriteByte('\v')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'X':
				if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
					b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
					i += 2
				} else {
					b.WriteByte(e)
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// identName is the name an identifier token stands for: a word as written,
// a quoted identifier decoded; ok is false for other tokens.
func (l *lexer) identName(t token) (string, bool) {
	switch t.kind {
	case tokWord:
		return l.text(t), true
	case tokQuotedIdent:
		return unquote(l.text(t)), true
	}
	return "", false
}

// namesFile reports whether text, as SQL, names the engine's file function
// outside string literals: called, quoted, escaped, or passed by name (to
// APPLY or a higher-order function such as arrayMap). The embedded engine
// is clickhouse-local's, whose file() reads any file the process can,
// whatever readonly says, so a read-only request may not name it. With
// nested, string literals are read as SQL too, to that depth: for setting
// values such as additional_table_filters, whose strings are expressions.
// A column or table called "file" is refused as well; that is the price of
// a check the text alone can make.
func namesFile(text string, nested int) bool {
	l := &lexer{s: text}
	for {
		t := l.next()
		switch t.kind {
		case tokEOF, tokUnterminated:
			return false
		case tokString:
			if nested > 0 && namesFile(unquote(l.text(t)), nested-1) {
				return true
			}
		}
		if name, ok := l.identName(t); ok && strings.EqualFold(name, "file") {
			return true
		}
	}
}

// identifierParams returns the names of the {name:Identifier} placeholders
// of text: their values become names in the query, functions included.
func identifierParams(text string) []string {
	l := &lexer{s: text}
	var out []string
	var win [5]token
	for n := 0; ; n++ {
		t := l.next()
		if t.kind == tokEOF || t.kind == tokUnterminated {
			return out
		}
		copy(win[:], win[1:])
		win[4] = t
		if n >= 4 && l.text(win[0]) == "{" && win[1].kind == tokWord && l.text(win[2]) == ":" &&
			l.is(win[3], "Identifier") && l.text(win[4]) == "}" {
			out = append(out, l.text(win[1]))
		}
	}
}

// assign is one setting a statement assigns: its name and its value as the
// SQL text of a literal.
type assign struct{ name, expr string }

// parseAssigns reads "name = literal, name = literal..." from l, the form
// of SET and of a SETTINGS clause. Values are literals only: numbers,
// strings, true/false/null, and arrays, maps and tuples of them; each expr
// is rebuilt from its tokens, comments dropped. It stops at the first token
// after the last pair (returned), and fails on anything else.
func parseAssigns(l *lexer) ([]assign, token, bool) {
	var out []assign
	for {
		name := l.next()
		if name.kind != tokWord || !settingNameRE.MatchString(l.text(name)) {
			return nil, name, false
		}
		if eq := l.next(); l.text(eq) != "=" {
			return nil, eq, false
		}
		expr, next, ok := parseLiteral(l, l.next(), 0)
		if !ok {
			return nil, next, false
		}
		out = append(out, assign{l.text(name), expr})
		if next.kind != tokPunct || l.text(next) != "," {
			return out, next, true
		}
	}
}

// parseLiteral reads one literal starting at t and returns its text and
// the token after it.
func parseLiteral(l *lexer, t token, depth int) (string, token, bool) {
	if depth > 16 {
		return "", t, false
	}
	var b strings.Builder
	switch {
	case t.kind == tokString:
		b.WriteString(l.text(t))
		return b.String(), l.next(), true
	case t.kind == tokWord:
		switch strings.ToLower(l.text(t)) {
		case "true", "false", "null", "inf", "nan", "infinity", "default":
			return l.text(t), l.next(), true
		}
		return "", t, false
	case t.kind == tokPunct && (l.text(t) == "-" || l.text(t) == "+"):
		n := l.next()
		if n.kind != tokNumber && !(n.kind == tokWord && (strings.EqualFold(l.text(n), "inf") || strings.EqualFold(l.text(n), "nan"))) {
			return "", n, false
		}
		b.WriteString(l.text(t))
		t = n
		fallthrough
	case t.kind == tokNumber || t.kind == tokWord:
		// 1, 1.5, 1e-3, 0x1F: the lexer splits them at '.', '-' and '+';
		// the parts are adjacent.
		b.WriteString(l.text(t))
		prev := t
		for {
			n := l.next()
			adjacent := n.start == prev.end
			switch {
			case adjacent && n.kind == tokPunct && l.text(n) == ".":
			case adjacent && n.kind == tokPunct && (l.text(n) == "-" || l.text(n) == "+") && strings.HasSuffix(strings.ToLower(l.text(prev)), "e"):
			case adjacent && n.kind == tokNumber && prev.kind == tokPunct:
			default:
				return b.String(), n, true
			}
			b.WriteString(l.text(n))
			prev = n
		}
	case t.kind == tokPunct && (l.text(t) == "[" || l.text(t) == "(" || l.text(t) == "{"):
		open := l.text(t)
		closer := map[string]string{"[": "]", "(": ")", "{": "}"}[open]
		b.WriteString(open)
		n := l.next()
		if l.text(n) == closer {
			b.WriteString(closer)
			return b.String(), l.next(), true
		}
		for {
			v, next, ok := parseLiteral(l, n, depth+1)
			if !ok {
				return "", next, false
			}
			b.WriteString(v)
			if open == "{" {
				if l.text(next) != ":" {
					return "", next, false
				}
				v, next, ok = parseLiteral(l, l.next(), depth+1)
				if !ok {
					return "", next, false
				}
				b.WriteString(": ")
				b.WriteString(v)
			}
			switch l.text(next) {
			case ",":
				b.WriteString(", ")
				n = l.next()
			case closer:
				b.WriteString(closer)
				return b.String(), l.next(), true
			default:
				return "", next, false
			}
		}
	}
	return "", t, false
}

// parseSet reads a SET statement of settings ("SET a = 1, b = 'x'").
func parseSet(text string) ([]assign, bool) {
	l := &lexer{s: text}
	if !l.is(l.next(), "SET") {
		return nil, false
	}
	out, next, ok := parseAssigns(l)
	if ok && next.kind == tokPunct && l.text(next) == ";" {
		next = l.next()
	}
	if !ok || next.kind != tokEOF {
		return nil, false
	}
	return out, true
}

// settingsClauses returns the assignments of a reading statement's
// SETTINGS clauses, the query's own and those of its subqueries, in text
// order; a clause that is not plain literals is left out.
func settingsClauses(text string) []assign {
	l := &lexer{s: text}
	var out []assign
	for {
		t := l.next()
		switch {
		case t.kind == tokEOF || t.kind == tokUnterminated:
			return out
		case l.is(t, "SETTINGS"):
			save := l.pos
			pairs, next, ok := parseAssigns(l)
			if ok && (next.kind == tokEOF || l.is(next, "FORMAT") || next.kind == tokPunct && (l.text(next) == ";" || l.text(next) == ")")) {
				out = append(out, pairs...)
			}
			l.pos = save
		}
	}
}
