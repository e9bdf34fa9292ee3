// Package enginetest runs the SQL that package query emits through the real
// engine (embedded chDB) against the real schema: every statement must parse,
// bind its parameters, and return the rows the tenant may see. It lives apart
// from package query so that query's own tests need no engine; when the
// library is not installed these tests report that and pass.
package enginetest

import (
	"context"
	"strings"
	"testing"

	"github.com/openchoreo/obsplane/internal/query"
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

var setupOnce = func() func(t *testing.T) {
	done := false
	return func(t *testing.T) {
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
