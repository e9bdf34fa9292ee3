package query

import (
	"errors"
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/store"
)

var tenant = Scope{Namespaces: []string{"acme"}}

const scopeSQL = "(OpenChoreoNamespace IN ({scope_ns0:String}))"

func mustPPL(t *testing.T, q string) *Compiled {
	t.Helper()
	c, err := CompilePPL(q, tenant, Options{})
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	checkScoped(t, c.SQL, c.Params)
	return c
}

// checkScoped asserts the tenant predicate is the first conjunct of the
// WHERE clause that reads the table, and bound to the tenant's namespaces.
func checkScoped(t *testing.T, sql string, p store.Params) {
	t.Helper()
	for _, table := range []string{"otel.otel_logs", "otel.otel_traces"} {
		if i := strings.Index(sql, "FROM "+table); i >= 0 {
			if !strings.HasPrefix(sql[i+len("FROM "+table):], " WHERE "+scopeSQL) {
				t.Fatalf("table read is not scoped first:\n%s", sql)
			}
			if strings.Count(sql, "FROM "+table) != 1 {
				t.Fatalf("table read twice:\n%s", sql)
			}
		}
	}
	if p["scope_ns0"] != "acme" || p["scope_ns1"] != "" {
		t.Fatalf("scope params = %v", p)
	}
}

// The PPL -> SQL mapping of docs/DESIGN.md, PPL.
func TestWhitepaperMapping(t *testing.T) {
	cases := []struct {
		ppl      string
		contains []string
		params   store.Params
	}{
		{"source=kubernetes | where @timestamp > now() - 1h",
			[]string{"FROM otel.otel_logs WHERE ", "AND (Timestamp > now() - INTERVAL 1 HOUR)"}, nil},
		{"source=kubernetes | where service = 'api'",
			[]string{"AND (ServiceName = {p0:String})"}, store.Params{"p0": "api"}},
		{"source=kubernetes | where service='api'",
			[]string{"AND (ServiceName = {p0:String})"}, store.Params{"p0": "api"}},
		{"source=kubernetes | where message like '%error%'",
			[]string{"AND (hasToken(Body, {p0:String}))"}, store.Params{"p0": "error"}},
		{"source=kubernetes | stats count() by service",
			[]string{"SELECT ServiceName, count() AS c0 FROM otel.otel_logs", "GROUP BY ServiceName"}, nil},
	}
	for _, tc := range cases {
		c := mustPPL(t, tc.ppl)
		for _, s := range tc.contains {
			if !strings.Contains(c.SQL, s) {
				t.Errorf("%s\n got %s\nwant it to contain %s", tc.ppl, c.SQL, s)
			}
		}
		for k, v := range tc.params {
			if c.Params[k] != v {
				t.Errorf("%s: param %s = %q, want %q", tc.ppl, k, c.Params[k], v)
			}
		}
	}
}

func TestPPLCompile(t *testing.T) {
	cases := []struct{ ppl, sql string }{
		{"source=container-logs-* | fields @timestamp, log, kubernetes.pod_name | sort - @timestamp | head 5",
			"SELECT Timestamp, Body, K8sPodName FROM otel.otel_logs WHERE " + scopeSQL + " ORDER BY Timestamp DESC LIMIT 5"},
		{"source=logs | where level = 'error' or service in ('a', 'b')",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND ((upper(SeverityText) = {p0:String}) OR (ServiceName IN ({p1:String}, {p2:String}))) LIMIT 10000"},
		{"source=logs | where not (service = 'a' and severityNumber >= 17)",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND (NOT ((ServiceName = {p0:String}) AND (SeverityNumber >= {p1:Int64}))) LIMIT 10000"},
		{"source=logs | stats count() as n by span(@timestamp, 5m) | sort - n | head 3",
			"SELECT toStartOfInterval(Timestamp, INTERVAL 5 MINUTE) AS c0, count() AS c1 FROM otel.otel_logs WHERE " + scopeSQL + " GROUP BY c0 ORDER BY c1 DESC LIMIT 3"},
		{"source=logs | stats count() by service | where `count()` > 10",
			"SELECT ServiceName, count() AS c0 FROM otel.otel_logs WHERE " + scopeSQL + " GROUP BY ServiceName HAVING (c0 > {p0:Int64}) ORDER BY ServiceName ASC LIMIT 10000"},
		{"source=otel-traces-* | where status.code = 2 | stats percentile(durationInNanos, 95) as p95, avg(durationInNanos) by serviceName",
			"SELECT ServiceName, quantile({p0:Float64})(Duration) AS c0, avg(Duration) AS c1 FROM otel.otel_traces WHERE " + scopeSQL + " AND (StatusCode = {p1:String}) GROUP BY ServiceName ORDER BY ServiceName ASC LIMIT 10000"},
		{"source=logs | head 100 | stats count()",
			"SELECT count() AS c0 FROM (SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " LIMIT 100) LIMIT 10000"},
		{"source=logs | eval ms = severityNumber * 1000 | fields ms, log",
			"SELECT SeverityNumber * {p0:Int64} AS c0, Body FROM otel.otel_logs WHERE " + scopeSQL + " LIMIT 10000"},
		{"source=logs | where @timestamp >= '2026-01-02T03:04:05Z' and @timestamp < date_sub(now(), INTERVAL 5 MINUTE)",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND ((Timestamp >= {p0:DateTime64(9, 'UTC')}) AND (Timestamp < now() - INTERVAL 5 MINUTE)) LIMIT 10000"},
		{"search source=logs | where message like 'GET /api%' | head 10 from 20",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND (Body LIKE {p0:String}) LIMIT 10 OFFSET 20"},
		{"source=logs | where match(log, 'Connection refused')",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND ((hasToken(lower(Body), {p0:String})) OR (hasToken(lower(Body), {p1:String}))) LIMIT 10000"},
		{"source=logs | where kubernetes.labels.openchoreo_dev/component-uid = 'u1' and kubernetes.namespace_name != 'kube-system'",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND ((OpenChoreoComponentUID = {p0:String}) AND (K8sNamespace != {p1:String})) LIMIT 10000"},
		{"source=logs | where resource.attributes.host.arch = 'arm64'",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND (ResourceAttributes[{p0:String}] = {p1:String}) LIMIT 10000"},
		// Bounds on whole minutes compare the minute (same rows; the count
		// projection can answer); others, and <=, >, stay as written.
		{"source=logs | where @timestamp >= '2026-01-02 03:04:00' and @timestamp < '2026-01-02T04:00:00Z' and @timestamp <= '2026-01-02 05:00:00' | stats count()",
			"SELECT count() AS c0 FROM otel.otel_logs WHERE " + scopeSQL + " AND ((toStartOfMinute(Timestamp) >= {p0:DateTime64(9, 'UTC')}) AND (toStartOfMinute(Timestamp) < {p1:DateTime64(9, 'UTC')}) AND (Timestamp <= {p2:DateTime64(9, 'UTC')})) LIMIT 10000"},
		{"source=logs | where '2026-01-02 03:04:00' <= @timestamp and '2026-01-02 03:05:00' > @timestamp and @timestamp >= '2026-01-02 03:04:00.5'",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND (({p0:DateTime64(9, 'UTC')} <= toStartOfMinute(Timestamp)) AND ({p1:DateTime64(9, 'UTC')} > toStartOfMinute(Timestamp)) AND (Timestamp >= {p2:DateTime64(9, 'UTC')})) LIMIT 10000"},
		{"source=logs | where (severityNumber + 1) * 2 > 10 - (3 - 1)",
			"SELECT * FROM otel.otel_logs WHERE " + scopeSQL + " AND ((SeverityNumber + {p0:Int64}) * {p1:Int64} > {p2:Int64} - ({p3:Int64} - {p4:Int64})) LIMIT 10000"},
	}
	for _, tc := range cases {
		c := mustPPL(t, tc.ppl)
		if c.SQL != tc.sql {
			t.Errorf("%s\n got %s\nwant %s", tc.ppl, c.SQL, tc.sql)
		}
	}
}

func TestPPLColumns(t *testing.T) {
	c := mustPPL(t, "source=logs | stats count() as n, max(severityNumber) by service, span(@timestamp, 1h)")
	want := []OutputColumn{{"n", "c1"}, {"max(severityNumber)", "c2"}, {"service", "ServiceName"}, {"span(@timestamp, 1h)", "c0"}}
	if len(c.Columns) != len(want) {
		t.Fatalf("columns %v", c.Columns)
	}
	for i := range want {
		if c.Columns[i] != want[i] {
			t.Errorf("column %d = %v, want %v", i, c.Columns[i], want[i])
		}
	}
	if c.Star {
		t.Error("stats output is not SELECT *")
	}
	if !mustPPL(t, "source=logs").Star {
		t.Error("bare source should be SELECT *")
	}
}

func TestPPLErrors(t *testing.T) {
	cases := []struct {
		ppl  string
		pos  int
		want string
	}{
		{"source=logs | dedup service", 14, `unsupported command "dedup"`},
		{"source=logs | rename a as b", 14, `unsupported command "rename"`},
		{"source=logs | frobnicate", 14, `unknown command "frobnicate"`},
		{"source=logs | where foo(service) = 1", 20, `unsupported function "foo"`},
		{"source=logs | stats bogus(x)", 20, `unsupported aggregation "bogus"`},
		{"source=logs | where nosuchfield = 1", 20, `unknown field "nosuchfield"`},
		{"source=nope | head", 0, `unknown source "nope"`},
		{"where x = 1", 0, "starts with source="},
		{"source=logs | where service = 'api", 30, "unterminated string"},
		{"source=logs | where @timestamp > 'yesterday'", 33, "not a time"},
		{"source=logs | where severityNumber > 'abc'", 37, "is a number"},
		{"source=logs | where (service = 'a'", 34, "expected ')'"},
		{"source=logs | fields - log", 21, "unsupported"},
		{"source=logs | where service = 'a' ; DROP TABLE x", 34, "unexpected character"},
		{"source=logs | stats count() by span(@timestamp, 5x)", 49, "unknown time unit"},
		{"source=logs | where count() > 1", 20, "only allowed in stats"},
		{"source=logs | where 'a'", 20, "needs a condition"},
		{"source=logs | head 10 20", 22, "unexpected"},
	}
	for _, tc := range cases {
		_, err := CompilePPL(tc.ppl, tenant, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s: want *SyntaxError, got %v", tc.ppl, err)
			continue
		}
		if se.Pos != tc.pos || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("%s: got pos %d %q, want pos %d containing %q", tc.ppl, se.Pos, se.Msg, tc.pos, tc.want)
		}
	}
}

func TestPPLDepthLimit(t *testing.T) {
	q := "source=logs | where " + strings.Repeat("(", 10000) + "service = 'a'" + strings.Repeat(")", 10000)
	_, err := CompilePPL(q, tenant, Options{})
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("want SyntaxError, got %v", err)
	}
	q = "source=logs | where " + strings.Repeat("not ", 10000) + "service = 'a'"
	if _, err := CompilePPL(q, tenant, Options{}); !errors.As(err, &se) {
		t.Fatalf("want SyntaxError, got %v", err)
	}
}

func TestHeadClamped(t *testing.T) {
	c, err := CompilePPL("source=logs | head 999999999", tenant, Options{MaxRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.SQL, "LIMIT 500") {
		t.Fatal(c.SQL)
	}
}

func TestScopeRequired(t *testing.T) {
	if _, err := CompilePPL("source=logs", Scope{}, Options{}); !errors.Is(err, ErrEmptyScope) {
		t.Fatalf("empty scope: %v", err)
	}
	if _, _, err := Select().From(LogsTable).Build(); !errors.Is(err, ErrUnscoped) {
		t.Fatalf("unscoped: %v", err)
	}
	c, err := CompilePPL("source=logs | where service = 'a'", Scope{All: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(c.SQL, "OpenChoreoNamespace") || c.Params["scope_ns0"] != "" {
		t.Fatalf("All scope should not filter: %s", c.SQL)
	}
	// Namespaces are deduplicated and each bound as a String.
	c, err = CompilePPL("source=logs", Scope{Namespaces: []string{"b", "a", "b", `x'y\z`}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.SQL, "WHERE (OpenChoreoNamespace IN ({scope_ns0:String}, {scope_ns1:String}, {scope_ns2:String}))") ||
		c.Params["scope_ns0"] != "a" || c.Params["scope_ns1"] != "b" || c.Params["scope_ns2"] != `x'y\z` {
		t.Fatalf("got %s %v", c.SQL, c.Params)
	}
}

// TestPPLTypeErrors: expressions whose types do not fit are refused by the
// compiler with a message naming the problem, instead of reaching the
// engine (which answered them with an internal error).
func TestPPLTypeErrors(t *testing.T) {
	for _, tc := range []struct{ ppl, want string }{
		{"source=logs | eval x = mod(severityNumber, 0) | fields x", "mod by zero"},
		{"source=logs | eval x = severityNumber % 0 | fields x", "division by zero"},
		{"source=logs | eval x = abs(log) | fields x", "abs needs a number as argument 1, not a string"},
		{"source=logs | eval x = log + 1 | fields x", "+ needs numbers, not a string"},
		{"source=logs | where log * 2 > 1", "* needs numbers"},
		{"source=logs | eval x = -log | fields x", "- needs a number, not a string"},
		{"source=logs | stats avg(log)", "avg needs a number, not a string"},
		{"source=logs | stats sum(service)", "sum needs a number"},
		{"source=logs | stats percentile(log, 50)", "percentile needs a number"},
		{"source=logs | eval x = round(severityNumber, 100000) | fields x", "round's digits must be a whole number from -30 to 30"},
		{"source=logs | eval x = round(severityNumber, 1.5) | fields x", "round's digits"},
		{"source=logs | where concat(log) > 5", "> compares a string with an integer"},
		{"source=logs | where concat(log) = 5", "= compares a string with an integer"},
		{"source=logs | where severityNumber = @timestamp", "compares an integer (field \"severityNumber\") with a time (field \"@timestamp\")"},
		{"source=logs | where severityNumber in (1, log)", "in compares an integer with a string"},
		{"source=logs | eval x = upper(severityNumber) | fields x", "upper needs a string as argument 1, not an integer"},
		{"source=logs | eval x = substring(log, 'a') | fields x", "substring needs a number as argument 2, not a string"},
		{"source=logs | eval x = year(log) | fields x", "year needs a time as argument 1, not a string"},
		{"source=logs | eval x = if(log, 1, 2) | fields x", "a condition is needed here"},
		{"source=logs | eval x = if(severityNumber > 1, 1, 'a') | fields x", "if mixes an integer and a string"},
		{"source=logs | eval x = coalesce(log, 1) | fields x", "coalesce mixes a string and an integer"},
		{"source=logs | eval x = date_sub(log, INTERVAL 1 HOUR) | fields x", "date_sub needs a time first"},
		{"source=logs | eval t = @timestamp - @timestamp | fields t", "takes an interval"},
		{"source=logs | where log", "a condition is needed here (a comparison, like, in, match(), isnull(), ...), not a string"},
		{"source=logs | where not severityNumber", "not an integer"},
		{"source=logs | where severityNumber like '1%'", "like needs a string, not an integer"},
	} {
		_, err := CompilePPL(tc.ppl, tenant, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("%s: %v, want a SyntaxError containing %q", tc.ppl, err, tc.want)
		}
	}
	// What fits still compiles.
	for _, q := range []string{
		"source=logs | eval x = mod(severityNumber, 3), y = round(severityNumber / 3, 2), z = abs(-severityNumber) | fields x, y, z",
		"source=logs | where concat(log, 'x') = 'ax' and length(log) > 3 and year(@timestamp) = 2026",
		"source=logs | eval x = if(severityNumber > 9, 'hi', 'lo'), y = ifnull(service, 'none') | fields x, y",
		"source=logs | where @timestamp > now() - 1h and @timestamp < date_add(now(), INTERVAL 1 DAY)",
		"source=logs | where isnull(service) or not (severityNumber in (1, 2)) xor true",
		"source=logs | stats avg(severityNumber), max(@timestamp), dc(service) by service",
		"source=traces | where status.code = 2 and durationInNanos / 1000000 > 1.5",
	} {
		mustPPL(t, q)
	}
}

// TestPPLChainLimits: one and/or chain joins at most maxPPLChain conditions,
// and renders flat (a chain as deep as it is long overran the engine's
// parser at 1,500 terms); arithmetic chains are bounded too.
func TestPPLChainLimits(t *testing.T) {
	terms := func(n int, term, op string) string {
		ts := make([]string, n)
		for i := range ts {
			ts[i] = term
		}
		return strings.Join(ts, " "+op+" ")
	}
	for _, q := range []string{
		"source=logs | where " + terms(1500, "service = 'a'", "or"),
		"source=logs | where " + terms(maxPPLChain+1, "service = 'a'", "and"),
		"source=logs | where " + terms(maxPPLArith+2, "severityNumber", "+") + " > 1",
		"source=logs | where " + terms(maxPPLArith+2, "severityNumber", "*") + " > 1",
	} {
		_, err := CompilePPL(q, tenant, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "more than") {
			t.Errorf("%.60s... (%d bytes): %v", q, len(q), err)
		}
	}
	c := mustPPL(t, "source=logs | where "+terms(maxPPLChain, "service = 'a'", "or"))
	if strings.Count(c.SQL, "((") > 2 {
		t.Errorf("an or chain renders nested: %.300s", c.SQL)
	}
}

// TestPPLTimesOutsideTheStore: times a DateTime64(9) cannot hold are
// refused where they are written, in PPL and in search.
func TestPPLTimesOutsideTheStore(t *testing.T) {
	for _, q := range []string{
		"source=logs | where @timestamp < '9999-12-31'",
		"source=logs | where @timestamp > '2262-04-12'",
		"source=logs | where @timestamp > '1899-12-31 23:59:59'",
	} {
		_, err := CompilePPL(q, tenant, Options{})
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "outside the times the store can hold") {
			t.Errorf("%s: %v", q, err)
		}
	}
	mustPPL(t, "source=logs | where @timestamp < '2262-04-11 23:00:00' and @timestamp > '1900-01-01'")
	for _, q := range []string{"timestamp:<9999-12-31", "@timestamp:[2026-01-01 TO 2262-04-12]", "@timestamp:>1800-01-01"} {
		_, err := ParseSearch(q, LogsTable)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, "outside the times the store can hold") {
			t.Errorf("search %s: %v", q, err)
		}
	}
}
