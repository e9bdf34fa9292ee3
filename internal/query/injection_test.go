package query

import (
	"regexp"
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/store"
)

// payloads try to escape a string literal, the tenant predicate or the
// statement. Each carries the marker ZQX so the test can tell whether any
// of it reached SQL text.
var payloads = []string{
	`ZQX' OR 1=1 --`,
	`ZQX') OR (1=1`,
	`ZQX" OR "1"="1`,
	`ZQX\' OR 1=1 --`,
	`ZQX\`,
	`ZQX\\' UNION SELECT * FROM system.users --`,
	`ZQX'; DROP TABLE otel.otel_logs; --`,
	`ZQX' FORMAT JSON`,
	`ZQX' SETTINGS readonly=0`,
	"ZQX'/* comment */",
	"ZQX\x00' OR 1=1",
	"ZQX\n' OR 1=1",
	"ZQX\u2019 OR 1=1", // right single quotation mark
	"ZQX\uff07 OR 1=1", // fullwidth apostrophe
	"ZQX\u02bc OR 1=1", // modifier letter apostrophe
	`ZQX{scope_ns0:String}`,
	`ZQX{p0:String}`,
	`ZQX] OR 1=1 OR ['`,
	"ZQX`) OR 1=1 --",
}

// fixedQuotes are the only quoted strings the package writes itself: map
// keys from the field maps and the UTC of DateTime64(9, 'UTC').
var fixedQuotes = regexp.MustCompile(`\['[A-Za-z0-9_./-]+'\]|'UTC'`)

// assertNoUserText checks the invariants every compiled statement keeps:
// the tenant predicate comes first, no quote is opened except the fixed
// ones, every placeholder has a parameter, and the marker is only in
// parameters.
func assertNoUserText(t *testing.T, input, sql string, p store.Params) {
	t.Helper()
	checkScoped(t, sql, p)
	if strings.Contains(strings.ToUpper(sql), "ZQX") {
		t.Fatalf("user text in SQL for %q:\n%s", input, sql)
	}
	rest := fixedQuotes.ReplaceAllString(sql, "")
	if strings.ContainsAny(rest, "'\"`;\\\x00") || strings.Contains(rest, "--") || strings.Contains(rest, "/*") {
		t.Fatalf("stray quote or comment in SQL for %q:\n%s", input, sql)
	}
	for _, m := range regexp.MustCompile(`\{([a-z0-9]+):`).FindAllStringSubmatch(sql, -1) {
		if _, ok := p[m[1]]; !ok {
			t.Fatalf("placeholder %s without a parameter:\n%s", m[1], sql)
		}
	}
}

func TestPPLInjection(t *testing.T) {
	templates := []string{
		"source=logs | where service = '%s'",
		"source=logs | where service = \"%s\"",
		"source=logs | where message like '%%%s%%'",
		"source=logs | where match(log, '%s')",
		"source=logs | where match_phrase(log, '%s')",
		"source=logs | where service in ('a', '%s') or level = 'x'",
		"source=logs | where @timestamp > '%s'",
		"source=logs | eval x = concat(log, '%s') | fields x",
		"source=logs | where resource.attributes.%s = 'v'",
		"source=logs | where `resource.attributes.%s` = 'v'",
		"source=logs | where `%s` = 'v'",
		"source=%s",
		"source=logs | %s",
		"source=logs | where service = 'a' or 1=1 %s",
		"source=logs | stats count() as `%s` by service",
		"source=otel-traces-* | where status.code = '%s' or name = 'x'",
	}
	ok := 0
	for _, tpl := range templates {
		for _, pl := range payloads {
			// Quotes inside a quoted literal must be escaped the PPL way
			// for the payload to stay one literal; try both the raw and
			// the escaped form.
			for _, v := range []string{pl, strings.ReplaceAll(strings.ReplaceAll(pl, `\`, `\\`), `'`, `\'`)} {
				q := strings.Replace(tpl, "%s", v, 1)
				q = strings.ReplaceAll(q, "%%", "%")
				c, err := CompilePPL(q, tenant, Options{})
				if err != nil {
					if _, isSyntax := err.(*SyntaxError); !isSyntax {
						t.Fatalf("%q: non-syntax error %v", q, err)
					}
					continue
				}
				ok++
				assertNoUserText(t, q, c.SQL, c.Params)
			}
		}
	}
	if ok < 50 {
		t.Fatalf("only %d injection queries compiled; the test is not exercising the compiler", ok)
	}
}

func TestSearchInjection(t *testing.T) {
	templates := []string{`%s`, `"%s"`, `service:"%s"`, `service:%s`, `a OR %s`, `(%s) OR level:error`, `resource.attributes.%s:x`}
	ok := 0
	for _, tpl := range templates {
		for _, pl := range payloads {
			for _, v := range []string{pl, strings.ReplaceAll(pl, `"`, `\"`)} {
				q := strings.Replace(tpl, "%s", v, 1)
				e, err := ParseSearch(q, LogsTable)
				if err != nil {
					if _, isSyntax := err.(*SyntaxError); !isSyntax {
						t.Fatalf("%q: non-syntax error %v", q, err)
					}
					continue
				}
				sql, p, err := Select().From(LogsTable).Scoped(tenant).Where(e).Build()
				if err != nil {
					t.Fatal(err)
				}
				ok++
				assertNoUserText(t, q, sql, p)
			}
		}
	}
	if ok < 50 {
		t.Fatalf("only %d injection searches compiled", ok)
	}
}

// An OR in user input stays inside its parentheses: the scope is ANDed
// with the whole user predicate.
func TestOrCannotWidenScope(t *testing.T) {
	c := mustPPL(t, "source=logs | where service = 'a' or 1 = 1")
	want := "WHERE " + scopeSQL + " AND ((ServiceName = {p0:String}) OR ({p1:Int64} = {p2:Int64}))"
	if !strings.Contains(c.SQL, want) {
		t.Fatalf("got %s", c.SQL)
	}
	e, err := ParseSearch("a OR b", LogsTable)
	if err != nil {
		t.Fatal(err)
	}
	sql, _, _ := Select().From(LogsTable).Scoped(tenant).Where(e).Build()
	if !strings.Contains(sql, "WHERE "+scopeSQL+" AND ((hasToken") {
		t.Fatalf("got %s", sql)
	}
}
