package query

import (
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a PPL token.
type tokKind int

const (
	tEOF      tokKind = iota
	tIdent            // field, command, keyword or function name
	tString           // 'quoted' or "quoted"; val is the unquoted text
	tInt              // 42
	tFloat            // 4.2
	tDuration         // 5m, 1h: val is the whole text
	tOp               // | , ( ) = != <> < <= > >= + - * / %
)

type token struct {
	kind tokKind
	val  string
	pos  int
	end  int // offset just past the token
	// quoted marks a `backquoted` identifier, which is never a keyword.
	quoted bool
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "string literal"
	}
	return "'" + t.val + "'"
}

// Limits on PPL input, so a hostile query costs little to reject.
const (
	maxPPLLen    = 64 << 10
	maxStringLit = 64 << 10
	maxPPLDepth  = 64
	// maxPPLChain bounds the conditions one and/or chain joins (OpenSearch's
	// default max_clause_count); maxPPLArith the operators of one
	// arithmetic chain, which the engine nests one level per operator.
	maxPPLChain   = 1024
	maxPPLArith   = 64
	maxPPLTokens  = 10000
	maxPPLCommand = 64
)

// lexPPL splits a PPL query into tokens.
func lexPPL(src string) ([]token, error) {
	if len(src) > maxPPLLen {
		return nil, errAt(maxPPLLen, "query is longer than %d bytes", maxPPLLen)
	}
	if !utf8.ValidString(src) {
		for i := 0; i < len(src); {
			r, n := utf8.DecodeRuneInString(src[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, errAt(i, "invalid UTF-8")
			}
			i += n
		}
	}
	var toks []token
	i := 0
	for {
		if n := len(toks); n > 0 {
			toks[n-1].end = i
		}
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		if len(toks) > maxPPLTokens {
			return nil, errAt(i, "query has more than %d tokens", maxPPLTokens)
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		start := i
		c := src[i]
		if afterSourceEq(toks) && c != '\'' && c != '"' && c != '`' {
			// An index pattern (container-logs-*, kubernetes-2025.01.01)
			// is read raw, up to a space, pipe or comma.
			j := i
			for j < len(src) && !isSpace(src[j]) && src[j] != '|' && src[j] != ',' {
				j++
			}
			if j > i {
				toks = append(toks, token{kind: tIdent, val: src[i:j], pos: start, quoted: true})
				i = j
				continue
			}
		}
		switch {
		case c == '\'' || c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, val: s, pos: start})
			i += n
		case c == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return nil, errAt(i, "unterminated `identifier`")
			}
			if j == 0 {
				return nil, errAt(i, "empty `identifier`")
			}
			toks = append(toks, token{kind: tIdent, val: src[i+1 : i+1+j], pos: start, quoted: true})
			i += j + 2
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			kind := tInt
			if j < len(src) && src[j] == '.' && j+1 < len(src) && isDigit(src[j+1]) {
				kind = tFloat
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') && j+1 < len(src) &&
				(isDigit(src[j+1]) || ((src[j+1] == '+' || src[j+1] == '-') && j+2 < len(src) && isDigit(src[j+2]))) {
				kind = tFloat
				j += 2
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if kind == tInt && j < len(src) && isLetter(src[j]) {
				// A number glued to a unit is a duration: 5m, 1h, 100ms.
				for j < len(src) && isLetter(src[j]) {
					j++
				}
				kind = tDuration
			}
			if j < len(src) && isIdentChar(src[j]) {
				return nil, errAt(start, "malformed number %q", src[start:min(j+1, start+32)])
			}
			toks = append(toks, token{kind: kind, val: src[i:j], pos: start})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			// Pod labels keep '/' and '-' in their keys
			// (kubernetes.labels.openchoreo_dev/component-uid); inside
			// those prefixes they are part of the name, elsewhere they
			// are operators (use `backquotes` for other odd names).
			low := strings.ToLower(src[i:j])
			if strings.HasPrefix(low, "kubernetes.labels.") || strings.HasPrefix(low, "kubernetes.annotations.") {
				for j < len(src) && (isIdentChar(src[j]) || src[j] == '/' || src[j] == '-') {
					j++
				}
			}
			toks = append(toks, token{kind: tIdent, val: src[i:j], pos: start})
			i = j
		default:
			op := ""
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "!=", "<>", "<=", ">=", "==":
				op = two
			}
			if op == "" {
				switch c {
				case '|', ',', '(', ')', '=', '<', '>', '+', '-', '*', '/', '%':
					op = string(c)
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, errAt(i, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: tOp, val: op, pos: start})
			i += len(op)
		}
	}
}

// afterSourceEq reports whether the next token is an index pattern: it
// follows "source =" or a comma inside that list.
func afterSourceEq(toks []token) bool {
	n := len(toks)
	for n >= 2 && toks[n-1].kind == tOp && toks[n-1].val == "," && toks[n-2].quoted && n >= 4 {
		// source = a , b: walk back over "pattern ," pairs.
		n -= 2
	}
	return n >= 2 && toks[n-1].kind == tOp && toks[n-1].val == "=" &&
		toks[n-2].kind == tIdent && !toks[n-2].quoted && strings.EqualFold(toks[n-2].val, "source") &&
		(n == 2 || (n == 3 && strings.EqualFold(toks[0].val, "search")) || (toks[n-3].kind == tOp && toks[n-3].val == "|"))
}

// lexString reads a quoted literal at src[i]. Backslash escapes the next
// character (\n, \t, \\, \', \"), and a doubled quote stands for itself.
func lexString(src string, i int) (string, int, error) {
	q := src[i]
	var b strings.Builder
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case c == '\\':
			if j+1 >= len(src) {
				return "", 0, errAt(i, "unterminated string literal")
			}
			switch e := src[j+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '%', '_':
				// Keep LIKE escapes as they are: \% and \_ are literal
				// wildcards to the engine too.
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte(e)
			}
			j += 2
		case c == q:
			if j+1 < len(src) && src[j+1] == q {
				b.WriteByte(q)
				j += 2
				continue
			}
			if b.Len() > maxStringLit {
				return "", 0, errAt(i, "string literal is longer than %d bytes", maxStringLit)
			}
			return b.String(), j + 1 - i, nil
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, errAt(i, "unterminated string literal")
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdentStart(c byte) bool {
	return isLetter(c) || c == '_' || c == '@'
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '.' }
