package query

import "strings"

// Full-text helpers shared by PPL and search.
//
// ClickHouse's token functions (hasToken, the tokenbf_v1 and text indexes on
// Body and lower(Body)) split text into maximal runs of ASCII letters and
// digits and non-ASCII bytes; everything else separates tokens. The helpers
// here split the same way, so a needle never contains a separator (hasToken
// rejects such needles) and the Body indexes can prune granules.

// isTokenByte reports whether c belongs to a token.
func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// splitTokens returns the tokens of s, in order, with duplicates.
func splitTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && !isTokenByte(byte(r)) })
}

// isToken reports whether s is exactly one token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, as ClickHouse's lower() does,
// so a needle lowered here matches lower(Body) there byte for byte.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// asciiUpper upper-cases ASCII letters only, as ClickHouse's upper() does.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hasTokenCI is a case-insensitive whole-token test written the way the
// idx_lower_body index on lower(Body) can serve it.
func hasTokenCI(field Expr, tok string) Expr {
	return Fn("hasToken", Fn("lower", field), String(asciiLower(tok)))
}

// hasTokenCS is a case-sensitive whole-token test (idx_body).
func hasTokenCS(field Expr, tok string) Expr {
	return Fn("hasToken", field, String(tok))
}

// containsPhrase matches text that contains phrase as whole tokens, case-
// insensitively, like a Lucene phrase query: every token of the phrase must
// be a token of the text (which the token index can check), and the phrase
// must occur as written (which position() checks exactly). A phrase with no
// token characters at all is a plain substring test.
func containsPhrase(field Expr, phrase string) Expr {
	toks := splitTokens(phrase)
	if len(toks) == 1 && toks[0] == phrase {
		return hasTokenCI(field, phrase)
	}
	var terms []Expr
	seen := map[string]bool{}
	for _, t := range toks {
		lt := asciiLower(t)
		if !seen[lt] {
			seen[lt] = true
			terms = append(terms, hasTokenCI(field, t))
		}
	}
	pos := "positionCaseInsensitive"
	if !isASCII(phrase) {
		pos = "positionCaseInsensitiveUTF8"
	}
	terms = append(terms, Gt(Fn(pos, field, String(phrase)), raw("0")))
	if len(terms) == 1 {
		return terms[0]
	}
	return And(terms...)
}
