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
