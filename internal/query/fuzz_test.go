package query

import (
	"errors"
	"strings"
	"testing"
)

func FuzzPPL(f *testing.F) {
	for _, s := range []string{
		"source=logs | where @timestamp > now() - 1h",
		"source=kubernetes | where service = 'api'",
		"source=logs | where message like '%error%'",
		"source=logs | stats count() by service",
		"source=logs | stats count() as n, percentile(severityNumber, 95) by span(@timestamp, 5m) | where n > 1 | sort - n | head 3",
		"source=logs | eval x = severityNumber * 2 | head 5 | eval y = x + 1 | fields y",
		"source=otel-traces-* | where status.code = 2 and durationInNanos > 10 | fields traceId, name",
		"source=logs | where match(log, 'a b') or not (level in ('x', 'y'))",
		"source=logs | where service = 'ZQX\\' OR 1=1 --'",
		"source=logs | head 10 | stats count() | head 1",
		"source=logs | where `resource.attributes.k` = \"v\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		c, err := CompilePPL(q, tenant, Options{})
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error is not a SyntaxError: %v", q, err)
			}
			return
		}
		assertNoUserText(t, q, c.SQL, c.Params)
		assertLiteralsBound(t, q, c.Params)
	})
}

func FuzzSearch(f *testing.F) {
	for _, s := range []string{
		"error", `"connection refused" level:error`, "a OR (b -c)", "service:(a OR b) NOT x",
		"severityNumber:[1 TO 17}", "@timestamp:>2026-01-01", "log:err*", `ZQX\' OR 1=1`, "10.0.0.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		e, err := ParseSearch(q, LogsTable)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error is not a SyntaxError: %v", q, err)
			}
			return
		}
		sql, p, err := Select().From(LogsTable).Scoped(tenant).Where(e).Build()
		if err != nil {
			t.Fatal(err)
		}
		assertNoUserText(t, q, sql, p)
	})
}

// assertLiteralsBound checks that the text of each simple quoted literal
// in q is held by some parameter (modulo escaping and case folding).
func assertLiteralsBound(t *testing.T, q string, p map[string]string) {
	t.Helper()
	toks, err := lexPPL(q)
	if err != nil {
		return
	}
	for _, tok := range toks {
		_, status := statusCodes[strings.ToUpper(tok.val)]
		_, kind := spanKinds[strings.ToUpper(tok.val)]
		if tok.kind != tString || strings.ContainsAny(tok.val, "%\\") || status || kind {
			continue
		}
		found := false
		for _, v := range p {
			ev := tok.val
			if strings.Contains(v, ev) || strings.Contains(v, asciiUpper(tok.val)) ||
				strings.Contains(v, asciiLower(tok.val)) {
				found = true
				break
			}
		}
		if !found && isToken(tok.val) {
			t.Fatalf("%q: literal %q is in no parameter: %v", q, tok.val, p)
		}
	}
}
