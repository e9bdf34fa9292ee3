package query

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func searchSQL(t *testing.T, q string) (string, map[string]string) {
	t.Helper()
	e, err := ParseSearch(q, LogsTable)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	sql, p, err := Select().From(LogsTable).Scoped(tenant).Where(e).Build()
	if err != nil {
		t.Fatal(err)
	}
	checkScoped(t, sql, p)
	return strings.TrimPrefix(sql, "SELECT * FROM otel.otel_logs WHERE "+scopeSQL+" AND "), p
}

func TestSearch(t *testing.T) {
	cases := []struct {
		q, sql string
		params []string // p0, p1, ...
	}{
		{"error", "(hasToken(lower(Body), {p0:String}))", []string{"error"}},
		{"ERROR timeout", "((hasToken(lower(Body), {p0:String})) AND (hasToken(lower(Body), {p1:String})))", []string{"error", "timeout"}},
		{`"connection refused"`,
			"((hasToken(lower(Body), {p0:String})) AND (hasToken(lower(Body), {p1:String})) AND (positionCaseInsensitive(Body, {p2:String}) > 0))",
			[]string{"connection", "refused", "connection refused"}},
		{"10.0.0.1",
			"((hasToken(lower(Body), {p0:String})) AND (hasToken(lower(Body), {p1:String})) AND (hasToken(lower(Body), {p2:String})) AND (positionCaseInsensitive(Body, {p3:String}) > 0))",
			[]string{"10", "0", "1", "10.0.0.1"}},
		{"a OR b c", "((hasToken(lower(Body), {p0:String})) OR ((hasToken(lower(Body), {p1:String})) AND (hasToken(lower(Body), {p2:String}))))", []string{"a", "b", "c"}},
		{"level:error -service:api", "((upper(SeverityText) = {p0:String}) AND (NOT (ServiceName = {p1:String})))", []string{"ERROR", "api"}},
		{"NOT (a OR b)", "(NOT ((hasToken(lower(Body), {p0:String})) OR (hasToken(lower(Body), {p1:String}))))", []string{"a", "b"}},
		{"component:gateway AND kubernetes.pod_name:gw-*", "((OpenChoreoComponent = {p0:String}) AND (K8sPodName LIKE {p1:String}))", []string{"gateway", "gw-%"}},
		{"severityNumber:>=17", "(SeverityNumber >= {p0:Int64})", []string{"17"}},
		{"@timestamp:[2026-01-01 TO 2026-01-02}", "((Timestamp >= {p0:DateTime64(9, 'UTC')}) AND (Timestamp < {p1:DateTime64(9, 'UTC')}))", []string{"2026-01-01 00:00:00.000000000", "2026-01-02 00:00:00.000000000"}},
		{"service:(a OR b)", "((ServiceName = {p0:String}) OR (ServiceName = {p1:String}))", []string{"a", "b"}},
		{"traceId:*", "(TraceId != {p0:String})", []string{""}},
		{`message:"disk full"`, "((hasToken(lower(Body), {p0:String})) AND (hasToken(lower(Body), {p1:String})) AND (positionCaseInsensitive(Body, {p2:String}) > 0))", []string{"disk", "full", "disk full"}},
		{"naïve", "(hasToken(lower(Body), {p0:String}))", []string{"naïve"}},
		{"50%_off", "((hasToken(lower(Body), {p0:String})) AND (hasToken(lower(Body), {p1:String})) AND (positionCaseInsensitive(Body, {p2:String}) > 0))", []string{"50", "off", "50%_off"}},
	}
	for _, tc := range cases {
		sql, p := searchSQL(t, tc.q)
		if sql != tc.sql {
			t.Errorf("%s\n got %s\nwant %s", tc.q, sql, tc.sql)
		}
		for i, want := range tc.params {
			if got := p["p"+itoa(i)]; got != want {
				t.Errorf("%s: p%d = %q, want %q", tc.q, i, got, want)
			}
		}
	}
	if e, err := ParseSearch("   ", LogsTable); e != nil || err != nil {
		t.Errorf("blank search: %v %v", e, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestSearchErrors(t *testing.T) {
	cases := []struct {
		q    string
		want string
	}{
		{`"unterminated`, "unterminated phrase"},
		{`"` + strings.Repeat("x", 1025) + `"`, "phrase is longer than 1024"},
		{strings.Repeat("x", 1025), "term is longer than 1024"},
		{strings.Repeat("a ", 65), "more than 64 terms"},
		{"nosuch:x", `unknown field "nosuch"`},
		{"(a OR b", "expected ')'"},
		{"a)", "unexpected"},
		{"severityNumber:abc", "is a number"},
		{"@timestamp:[yesterday TO *]", "not a time"},
		{"service:", "expected a value"},
		{`a\`, "backslash at end"},
		{strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), "nested deeper"},
		{"service:[a TO]", "expected a range bound"},
	}
	for _, tc := range cases {
		_, err := ParseSearch(tc.q, LogsTable)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("%.40s: got %v, want SyntaxError containing %q", tc.q, err, tc.want)
		}
	}
}
