package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// applyThrough runs migrations 1..last as Apply would, recording them.
func applyThrough(t *testing.T, o Options, last Version) {
	t.Helper()
	st := engine(t)
	o, err := o.normalize()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Migrations() {
		if m.Version > last {
			return
		}
		runStatements(t, m, o, -1)
		if err := recordApplied(ctxT(t), st, o, m); err != nil {
			t.Fatal(err)
		}
	}
}

// runStatements runs the first n statements of m (all when n < 0), as a
// process killed after the n-th would have.
func runStatements(t *testing.T, m Migration, o Options, n int) {
	t.Helper()
	sqls, err := m.Statements(o)
	if err != nil {
		t.Fatal(err)
	}
	if n >= 0 {
		sqls = sqls[:n]
	}
	for _, q := range sqls {
		exec(t, engine(t), q)
	}
}

func migration(t *testing.T, name string) Migration {
	for _, m := range Migrations() {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no migration %s", name)
	return Migration{}
}

func sortingKey(t *testing.T, db, table string) string {
	rows := query(t, engine(t), "SELECT sorting_key AS k FROM system.tables WHERE database = {db:String} AND name = {t:String}", map[string]string{"db": db, "t": table})
	if len(rows) != 1 {
		t.Fatalf("%s.%s: %d tables", db, table, len(rows))
	}
	return rows[0]["k"].(string)
}

func count(t *testing.T, sql string) string {
	rows := query(t, engine(t), "SELECT toString(count()) AS n FROM "+sql, nil)
	return rows[0]["n"].(string)
}

// Migrations 9 and 10 change sort keys by moving the rows to a new table.
// Rows stored before are all there afterwards, once, whatever statement a
// crash interrupted the first try at; the views on otel_traces keep firing
// on the new table and get no second copy of the moved spans.
func TestRelayoutKeepsRowsAcrossCrashes(t *testing.T) {
	logs, traces := migration(t, "otel_logs_tenant_key"), migration(t, "otel_traces_trace_key")
	n, err := logs.Statements(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for crashAfter := 0; crashAfter <= len(n); crashAfter++ {
		t.Run(fmt.Sprintf("crash after statement %d", crashAfter), func(t *testing.T) {
			db := fmt.Sprintf("relayout_%d", crashAfter)
			o := Options{Database: db}
			applyThrough(t, o, logs.Version-1)
			exec(t, engine(t), `INSERT INTO `+db+`.otel_logs (Timestamp, Body, ResourceAttributes) SELECT
				toDateTime64('2026-01-01 00:00:00', 9) + INTERVAL number SECOND, concat('line ', toString(number)),
				map('openchoreo.namespace', concat('ns', toString(number % 3)), 'openchoreo.component', concat('c', toString(number % 7))) FROM numbers(5000)`)
			exec(t, engine(t), `INSERT INTO `+db+`.otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanKind, ServiceName) SELECT
				toDateTime64('2026-01-01 00:00:00', 9) + INTERVAL intDiv(number, 4) SECOND, hex(intDiv(number, 4)), hex(number),
				if(number % 4 = 0, '', hex(number - 1)), if(number % 2 = 0, 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT'), concat('svc', toString(number % 4)) FROM numbers(4000)`)
			// The first try dies after crashAfter statements of each.
			runStatements(t, logs, o, crashAfter)
			tn, _ := traces.Statements(o)
			runStatements(t, traces, o, min(crashAfter, len(tn)))
			if _, err := Apply(ctxT(t), engine(t), o); err != nil {
				t.Fatal(err)
			}
			if k := sortingKey(t, db, "otel_logs"); k != "OpenChoreoNamespace, OpenChoreoComponent, Timestamp" {
				t.Errorf("otel_logs sort key %q", k)
			}
			if k := sortingKey(t, db, "otel_traces"); !strings.HasPrefix(k, "toStartOfHour(Timestamp), TraceId") {
				t.Errorf("otel_traces sort key %q", k)
			}
			for table, want := range map[string]string{"otel_logs": "5000", "otel_traces": "4000", "otel_traces_trace_id_ts": "1000", "otel_traces_edges": "4000"} {
				if got := count(t, db+"."+table); got != want {
					t.Errorf("%s: %s rows, want %s", table, got, want)
				}
			}
			if got := count(t, db+".otel_logs WHERE OpenChoreoNamespace = 'ns1' AND OpenChoreoComponent = 'c3'"); got != "238" {
				t.Errorf("ns1/c3: %s rows, want 238 (materialized columns computed again)", got)
			}
			for _, left := range []string{"otel_logs_v10", "otel_traces_v11"} {
				if rows := query(t, engine(t), "SELECT name FROM system.tables WHERE database = {db:String} AND name = {t:String}", map[string]string{"db": db, "t": left}); len(rows) != 0 {
					t.Errorf("%s left behind", left)
				}
			}
			// New spans reach the lookup tables through the views.
			exec(t, engine(t), `INSERT INTO `+db+`.otel_traces (Timestamp, TraceId, SpanId, SpanKind, ServiceName) VALUES (toDateTime64('2026-01-01 05:00:00', 9), 'new', 's', 'SPAN_KIND_SERVER', 'svc')`)
			if got := count(t, db+".otel_traces_trace_id_ts WHERE TraceId = 'new'"); got != "1" {
				t.Errorf("trace id lookup of a span inserted after the migration: %s rows", got)
			}
			exec(t, engine(t), "DROP DATABASE "+db)
		})
	}
}

// Apply bounds each statement by Options.StatementTimeout (not the store's
// shorter default, which a large copy would outlast).
func TestApplyBoundsStatementsByStatementTimeout(t *testing.T) {
	_, err := Apply(context.Background(), engine(t), Options{Database: "tiny_timeout", StatementTimeout: time.Nanosecond})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("Apply with a 1ns statement timeout: %v, want a deadline error", err)
	}
	if _, err := Apply(context.Background(), engine(t), Options{Database: "tiny_timeout", StatementTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
}
