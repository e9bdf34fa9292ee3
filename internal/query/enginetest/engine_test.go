// Package enginetest runs the SQL that package query emits through the real
// engine (embedded chDB) against the real schema: every statement must parse,
// bind its parameters, and return the rows the tenant may see. It lives apart
// from package query so that query's own tests need no engine; when the
// library is not installed these tests report that and pass.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/readmodel/clickhouse"
	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

var st *chdb.Store

// The engine checks never skip: make test installs libchdb, and a missing
// library must fail loudly rather than pass having checked nothing.
func TestMain(m *testing.M) { chdbtest.Main(m, &st) }

var ctx = context.Background()

var setupOnce = func() func(t testing.TB) {
	done := false
	return func(t testing.TB) {
		t.Helper()
		if done {
			return
		}
		if _, err := schema.Apply(ctx, st, schema.DefaultOptions()); err != nil {
			t.Fatalf("schema: %v", err)
		}
		// Two tenants; the second must never show up for the first.
		rows := `INSERT INTO otel.otel_logs (Timestamp, ServiceName, SeverityText, SeverityNumber, Body, ResourceAttributes) VALUES
 (now64(9) - INTERVAL 10 MINUTE, 'api', 'ERROR', 17, 'an error occurred: connection refused', map('openchoreo.namespace','acme','openchoreo.component','api','k8s.pod.name','api-1')),
 (now64(9) - INTERVAL 5 MINUTE, 'api', 'INFO', 9, 'GET /healthz 200', map('openchoreo.namespace','acme','openchoreo.component','api','k8s.pod.name','api-1')),
 (now64(9) - INTERVAL 2 HOUR, 'web', 'WARN', 13, 'slow request x''y\\z 50%_off', map('openchoreo.namespace','acme','openchoreo.component','web')),
 (now64(9) - INTERVAL 1 MINUTE, 'api', 'ERROR', 17, 'an error in another tenant', map('openchoreo.namespace','other','openchoreo.component','api'))`
		if err := st.Exec(ctx, rows, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		traces := `INSERT INTO otel.otel_traces (Timestamp, TraceId, SpanId, SpanName, ServiceName, Duration, StatusCode, ResourceAttributes) VALUES
 (now64(9), 't1', 's1', 'GET /', 'api', 2000000, 'Error', map('openchoreo.namespace','acme')),
 (now64(9), 't2', 's2', 'GET /', 'api', 1000, 'Ok', map('openchoreo.namespace','acme'))`
		if err := st.Exec(ctx, traces, nil); err != nil {
			t.Fatalf("insert traces: %v", err)
		}
		done = true
	}
}()

var acme = query.Scope{Namespaces: []string{"acme"}}

func count(t *testing.T, sql string, p store.Params) int {
	t.Helper()
	rows, err := st.Query(ctx, sql, p)
	if err != nil {
		t.Fatalf("%s\nparams %v\n%v", sql, p, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestPPLOnEngine(t *testing.T) {
	setupOnce(t)
	cases := []struct {
		ppl  string
		rows int // -1: any
	}{
		{"source=kubernetes | where @timestamp > now() - 1h", 2},
		{"source=kubernetes | where service = 'api'", 2},
		{"source=kubernetes | where message like '%error%'", 1},
		{"source=kubernetes | stats count() by service", 2},
		{"source=logs | where log like '%x''y%'", 1},
		{"source=logs | where match(log, 'CONNECTION') and level = 'error'", 1},
		{"source=logs | where match_phrase(log, 'connection refused')", 1},
		{"source=logs | fields @timestamp, log, kubernetes.pod_name | sort - @timestamp | head 5", 3},
		{"source=logs | stats count() as n, avg(severityNumber), percentile(severityNumber, 95) by span(@timestamp, 5m), service | where n > 0 | sort - n | head 3", -1},
		{"source=logs | eval x = severityNumber * 2 + 1 | where x > 20 | fields x, log", 2},
		{"source=logs | head 100 | stats count()", 1},
		{"source=logs | stats count() by service | eval m = `count()` * 2 | fields m", 2},
		{"source=logs | where component in ('api', 'web') and not (level = 'warn') | head 10 from 1", 1},
		{"source=logs | where @timestamp < date_sub(now(), INTERVAL 1 HOUR) and length(log) > 3", 1},
		{"source=logs | where resource.attributes.k8s.pod.name = 'api-1'", 2},
		{"source=logs | stats dc(service), min(@timestamp), max(severityNumber)", 1},
		{"source=otel-traces-* | where status.code = 2 and durationInNanos > 1000000 | stats percentile(durationInNanos, 95) as p95 by serviceName", 1},
		{"source=traces | where kind = 'SPAN_KIND_SERVER' or name = 'GET /' | fields traceId, name, durationInNanos", 2},
	}
	for _, tc := range cases {
		c, err := query.CompilePPL(tc.ppl, acme, query.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.ppl, err)
		}
		if n := count(t, c.SQL, c.Params); tc.rows >= 0 && n != tc.rows {
			t.Errorf("%s: %d rows, want %d\n%s %v", tc.ppl, n, tc.rows, c.SQL, c.Params)
		}
	}
}

func TestSearchOnEngine(t *testing.T) {
	setupOnce(t)
	cases := []struct {
		q    string
		rows int
	}{
		{"error", 1},
		{`"Connection Refused"`, 1},
		{`"connection time"`, 0},
		{"level:error OR level:warn", 2},
		{"-service:api", 1},
		{"component:api healthz", 1},
		{`x'y\\z`, 1},
		{"50%_off", 1},
		{"severityNumber:[9 TO 13]", 2},
		{"log:heal*", 1},
		{"kubernetes.pod_name:api-*", 2},
		{"tenant", 0},
	}
	for _, tc := range cases {
		e, err := query.ParseSearch(tc.q, query.LogsTable)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		sql, p, err := query.Select().From(query.LogsTable).Scoped(acme).Where(e).Build()
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, sql, p); n != tc.rows {
			t.Errorf("%s: %d rows, want %d\n%s %v", tc.q, n, tc.rows, sql, p)
		}
	}
}

// Hostile values reach the engine as data: they parse, bind, and match
// nothing (or exactly themselves), and never see another tenant's rows.
func TestHostileValuesOnEngine(t *testing.T) {
	setupOnce(t)
	for _, v := range []string{`' OR 1=1 --`, `\`, `\N`, "a\x00b", "tab\there", `') UNION SELECT * FROM system.users --`, "\u2019 OR 1=1", `{scope_ns0:String}`} {
		pplv := strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), `'`, `\'`)
		c, err := query.CompilePPL("source=logs | where service = '"+pplv+"' or component = '"+pplv+"'", acme, query.Options{})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if n := count(t, c.SQL, c.Params); n != 0 {
			t.Errorf("%q matched %d rows", v, n)
		}
		// The bound value arrives byte for byte.
		rows, err := st.QueryBytes(ctx, "SELECT {p0:String} = {want:String} AS ok", "TSV",
			store.Params{"p0": v, "want": v})
		if err != nil || strings.TrimSpace(string(rows)) != "1" {
			t.Errorf("%q: round trip %s %v", v, rows, err)
		}
	}
	// A scope holding odd namespace names still binds.
	c, err := query.CompilePPL("source=logs", query.Scope{Namespaces: []string{`a'b`, `c\d`, "acme"}}, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, c.SQL, c.Params); n != 3 {
		t.Errorf("scope with odd names: %d rows, want 3", n)
	}
}

// TestPPLLimitsOnEngine: the longest chains and deepest nesting the
// compiler lets through run on the engine (its parser stopped a 1,500-term
// or chain); a zero divisor computed at run time is the engine's
// ILLEGAL_DIVISION, which the API answers 400.
func TestPPLLimitsOnEngine(t *testing.T) {
	setupOnce(t)
	ors := make([]string, 1024)
	for i := range ors {
		ors[i] = "service = 'nope'"
	}
	chain := strings.Join(ors, " or ")
	for _, q := range []string{
		"source=logs | where " + chain,
		"source=logs | where " + strings.Repeat("(", 60) + chain + strings.Repeat(")", 60),
		"source=logs | where " + strings.Repeat("severityNumber + ", 64) + "1 > 1 and " + strings.Repeat("severityNumber * ", 64) + "1 > 1",
	} {
		c, err := query.CompilePPL(q, acme, query.Options{})
		if err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
		count(t, c.SQL, c.Params)
	}
	c, err := query.CompilePPL("source=logs | eval x = mod(severityNumber, severityNumber - severityNumber) | fields x", acme, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.Query(ctx, c.SQL, c.Params)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	var se *store.Error
	if !errors.As(err, &se) || se.Code != 153 {
		t.Fatalf("run-time zero divisor: %v", err)
	}
}

// FuzzPPLOnEngine runs every PPL query through the read model's ClickHouse
// backend on the engine: it must run, or fail with an error the API answers
// 4xx (one the query's text caused, or a query limit), never an internal
// error.
func FuzzPPLOnEngine(f *testing.F) {
	for _, s := range []string{
		"source=logs | where @timestamp > now() - 1h",
		"source=logs | eval x = mod(severityNumber, 3) | fields x",
		"source=logs | eval x = round(severityNumber / 7, 2), y = concat(log, service) | fields x, y",
		"source=logs | stats avg(severityNumber), percentile(severityNumber, 95) by span(@timestamp, 5m)",
		"source=logs | where length(log) > 3 and year(@timestamp) = 2026 | sort - @timestamp | head 5",
		"source=traces | where durationInNanos / 1000 > 1.5 | stats max(durationInNanos) by serviceName",
		"source=logs | eval x = if(severityNumber > 9, substring(log, 1, 3), lower(service)) | fields x",
		"source=logs | where @timestamp < date_sub(now(), INTERVAL 1 HOUR) or isnull(service)",
		"source=logs | eval x = mod(severityNumber, severityNumber - severityNumber) | fields x",
	} {
		f.Add(s)
	}
	setupOnce(f)
	reads, err := clickhouse.New(st, "otel", clickhouse.DefaultLimits)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		_, err := reads.PPL(ctx, readmodel.Tenancy{Namespaces: []string{"acme"}}, readmodel.PPLQuery{Query: q, MaxRows: 100})
		if err != nil && httpx.Classify(err).Status >= 500 {
			t.Fatalf("%q failed on the engine with an internal error: %v", q, err)
		}
	})
}

// Time bounds on whole minutes compile to the row's minute: the same rows
// as the plain bounds, and a count over them is read from otel_logs'
// per-minute count projection (schema migration 10), not from the lines.
func TestMinuteBoundsOnEngine(t *testing.T) {
	setupOnce(t)
	from := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	to := time.Now().UTC().Add(time.Minute).Truncate(time.Minute)
	c, err := query.CompilePPL(fmt.Sprintf("source=logs | where @timestamp >= '%s' and @timestamp < '%s' | stats count() by level",
		from.Format(time.RFC3339), to.Format(time.RFC3339)), acme, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.SQL, "toStartOfMinute(Timestamp)") {
		t.Fatalf("whole-minute bounds not compiled to minutes:\n%s", c.SQL)
	}
	got, err := st.QueryBytes(ctx, c.SQL, "TSV", c.Params)
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.QueryBytes(ctx, `SELECT SeverityText, count() FROM otel.otel_logs WHERE OpenChoreoNamespace = 'acme'
		AND Timestamp >= {f:DateTime64(9)} AND Timestamp < {t:DateTime64(9)} GROUP BY SeverityText ORDER BY SeverityText`, "TSV",
		store.Params{"f": from.Format("2006-01-02 15:04:05"), "t": to.Format("2006-01-02 15:04:05")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) || string(got) != "ERROR\t1\nINFO\t1\nWARN\t1\n" {
		t.Errorf("compiled:\n%s\nplain bounds:\n%s", got, want)
	}
	plan, err := st.QueryBytes(ctx, "EXPLAIN "+c.SQL, "TSVRaw", c.Params)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plan), "p_minute_counts") {
		t.Errorf("the count did not read the projection:\n%s", plan)
	}
}
