package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// testStore is the one engine this test process may hold (the embedded
// engine is process-global); each test uses its own database in it.
var testStore *chdb.Store

func TestMain(m *testing.M) { chdbtest.Main(m, &testStore) }

func engine(t *testing.T) store.Store {
	t.Helper()
	return testStore
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// query returns every row of q as a map.
func query(t *testing.T, st store.Store, q string, p store.Params) []map[string]any {
	t.Helper()
	rows, err := st.Query(ctxT(t), q, p)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var r map[string]any
		d := json.NewDecoder(bytes.NewReader(rows.Raw()))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func exec(t *testing.T, st store.Store, q string) {
	t.Helper()
	if err := st.Exec(ctxT(t), q, nil); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrationsAreNumberedAndRender(t *testing.T) {
	ms := Migrations()
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i, m := range ms {
		if m.Version != Version(i+1) || m.Name == "" || len(m.Checksum) != 64 {
			t.Errorf("migration %d: %+v", i, m)
		}
	}
	for _, o := range []Options{{}, DefaultOptions(), {Cluster: "c1", StoragePolicy: "tiered", Hot: time.Hour, Warm: 2 * time.Hour, Cold: 3 * time.Hour, DeleteAfter: 4 * time.Hour}} {
		ss, err := Render(o)
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		for _, s := range ss {
			if strings.Contains(s.SQL, "{{") || strings.Contains(s.SQL, "<no value>") || strings.HasSuffix(s.SQL, ";") {
				t.Errorf("migration %d: badly rendered statement:\n%s", s.Version, s.SQL)
			}
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, o := range []Options{
		{Database: "otel; DROP"},
		{Database: "otel", Cluster: "a`b"},
		{StoragePolicy: "x'y"},
		{DeleteAfter: -time.Hour},
		{DeleteAfter: time.Millisecond},
		{StoragePolicy: "tiered", Hot: 30 * 24 * time.Hour, Warm: 7 * 24 * time.Hour},
		{StoragePolicy: "tiered", Cold: 400 * 24 * time.Hour, DeleteAfter: 395 * 24 * time.Hour},
	} {
		if _, err := Render(o); err == nil {
			t.Errorf("Render(%+v) accepted bad options", o)
		}
	}
}

func TestTTL(t *testing.T) {
	o := DefaultOptions()
	got := ttlClause(o, "toDateTime(Timestamp)")
	if want := "TTL toDateTime(Timestamp) + toIntervalDay(395) DELETE"; got != want {
		t.Errorf("no storage policy: got %q, want %q (moves need a policy)", got, want)
	}
	o.StoragePolicy = "tiered"
	got = ttlClause(o, "t")
	want := "TTL t + toIntervalDay(7) TO VOLUME 'hot',\n    t + toIntervalDay(30) TO VOLUME 'warm',\n    t + toIntervalDay(90) TO VOLUME 'cold',\n    t + toIntervalDay(395) DELETE"
	if got != want {
		t.Errorf("with policy: got %q, want %q", got, want)
	}
	if got := ttlClause(Options{}, "t"); got != "" {
		t.Errorf("zero options: got %q, want no TTL", got)
	}
	if got := interval(90 * time.Minute); got != "toIntervalMinute(90)" {
		t.Errorf("interval: %s", got)
	}
}

// upstreamDDL renders the exporter v0.161.0 table templates (kept verbatim
// under testdata) the way the exporter does, for database db, single node,
// no TTL.
func upstreamDDL(t *testing.T, db string, fullText bool) map[string]string {
	t.Helper()
	dir := filepath.Join("testdata", "clickhouseexporter-v0.161.0")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	out := map[string]string{}

	// logs_table.sql is a text/template; the others are fmt templates.
	tmpl := template.Must(template.New("logs").Funcs(template.FuncMap{
		"ident": func(s string) string { return "`" + strings.ReplaceAll(s, "`", "\\`") + "`" },
	}).Parse(read("logs_table.sql")))
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]any{
		"Database": db, "TableName": "otel_logs", "ClusterString": "", "Engine": "MergeTree()", "TTL": "", "HasFullTextSearch": fullText,
	}); err != nil {
		t.Fatal(err)
	}
	out["otel_logs"] = buf.String()
	out["otel_traces"] = fmt.Sprintf(read("traces_table.sql"), db, "otel_traces", "", "MergeTree()", "")
	out["otel_traces_trace_id_ts"] = fmt.Sprintf(read("traces_id_ts_lookup_table.sql"), db, "otel_traces", "", "MergeTree()", "")
	for file, table := range map[string]string{
		"metrics_gauge_table.sql":         "otel_metrics_gauge",
		"metrics_sum_table.sql":           "otel_metrics_sum",
		"metrics_histogram_table.sql":     "otel_metrics_histogram",
		"metrics_exp_histogram_table.sql": "otel_metrics_exponential_histogram",
		"metrics_summary_table.sql":       "otel_metrics_summary",
	} {
		out[table] = fmt.Sprintf(read(file), db, table, "", "MergeTree()", "")
	}
	for table, q := range out {
		if strings.Contains(q, "%!") {
			t.Fatalf("%s: upstream template rendered badly:\n%s", table, q)
		}
	}
	return out
}

type column struct {
	Name, Type, DefaultKind, DefaultExpression, Codec string
	Position                                          json.Number
}

func columns(t *testing.T, st store.Store, db, table string) []column {
	rows := query(t, st, "SELECT name, type, position, default_kind, default_expression, compression_codec FROM system.columns "+
		"WHERE database = {db:String} AND table = {t:String} ORDER BY position", store.Params{"db": db, "t": table})
	var out []column
	for _, r := range rows {
		out = append(out, column{
			Name: r["name"].(string), Type: r["type"].(string), Position: json.Number(fmt.Sprint(r["position"])),
			DefaultKind: r["default_kind"].(string), DefaultExpression: r["default_expression"].(string), Codec: r["compression_codec"].(string),
		})
	}
	return out
}

func indexes(t *testing.T, st store.Store, db, table string) map[string]string {
	rows := query(t, st, "SELECT name, expr, type_full, granularity FROM system.data_skipping_indices "+
		"WHERE database = {db:String} AND table = {t:String}", store.Params{"db": db, "t": table})
	out := map[string]string{}
	for _, r := range rows {
		out[r["name"].(string)] = fmt.Sprintf("%v TYPE %v GRANULARITY %v", r["expr"], r["type_full"], r["granularity"])
	}
	return out
}

func tableKeys(t *testing.T, st store.Store, db, table string) map[string]any {
	rows := query(t, st, "SELECT engine, partition_key, sorting_key, primary_key FROM system.tables "+
		"WHERE database = {db:String} AND name = {t:String}", store.Params{"db": db, "t": table})
	if len(rows) != 1 {
		t.Fatalf("%s.%s: %d tables", db, table, len(rows))
	}
	return rows[0]
}

// layoutChanges are where obsplane's tables deliberately differ from the
// exporter's beyond added columns: sort keys and skip indexes, which
// readers (HyperDX, Grafana) never depend on for answers, only for speed
// (measured in docs/BENCHMARKS.md). Columns never differ.
var layoutChanges = map[string]struct {
	sortingKey, primaryKey string
	// droppedIndexes are upstream indexes ours does not have; changed are
	// upstream index names ours defines differently, with our definition.
	droppedIndexes []string
	changed        map[string]string
	// codecs are upstream columns ours compresses differently.
	codecs map[string]string
}{
	"otel_logs": {
		sortingKey:     "OpenChoreoNamespace, OpenChoreoComponent, Timestamp",
		primaryKey:     "OpenChoreoNamespace, OpenChoreoComponent, Timestamp",
		droppedIndexes: []string{"idx_res_attr_key", "idx_res_attr_value", "idx_scope_attr_key", "idx_scope_attr_value"},
		changed:        map[string]string{"idx_lower_body": "lower(Body) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1"},
		codecs:         map[string]string{"ResourceAttributes": "CODEC(ZSTD(3))"},
	},
	"otel_traces": {
		sortingKey: "toStartOfHour(Timestamp), TraceId, Timestamp",
		primaryKey: "toStartOfHour(Timestamp), TraceId, Timestamp",
	},
}

// TestUpstreamColumnsMatch is the ClickStack compatibility oracle: the
// exporter's own DDL and ours are created side by side in the real engine,
// and every upstream column must exist in ours with the same name, type,
// default and codec at the same position (ours may only add columns after
// them), with every upstream index and the same partition and sort keys,
// except where layoutChanges says otherwise.
func TestUpstreamColumnsMatch(t *testing.T) {
	st := engine(t)
	for _, fullText := range []bool{true, false} {
		t.Run(fmt.Sprintf("textIndex=%v", fullText), func(t *testing.T) {
			upDB, ourDB := fmt.Sprintf("upstream_ti%v", fullText), fmt.Sprintf("ours_ti%v", fullText)
			exec(t, st, "CREATE DATABASE IF NOT EXISTS "+upDB)
			for table, q := range upstreamDDL(t, upDB, fullText) {
				if err := st.Exec(ctxT(t), q, nil); err != nil {
					t.Fatalf("upstream %s: %v\n%s", table, err, q)
				}
			}
			ss, err := Render(Options{Database: ourDB, TextIndex: fullText})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if err := st.Exec(ctxT(t), s.SQL, nil); err != nil {
					t.Fatalf("ours, migration %d: %v\n%s", s.Version, err, s.SQL)
				}
			}
			for table := range upstreamDDL(t, upDB, fullText) {
				up, ours := columns(t, st, upDB, table), columns(t, st, ourDB, table)
				if len(up) == 0 {
					t.Fatalf("%s: upstream table has no columns", table)
				}
				if len(ours) < len(up) {
					t.Errorf("%s: ours has %d columns, upstream %d", table, len(ours), len(up))
					continue
				}
				for i := range up {
					if c, ok := layoutChanges[table].codecs[up[i].Name]; ok {
						if ours[i].Codec != c {
							t.Errorf("%s column %s: codec %s, want %s", table, up[i].Name, ours[i].Codec, c)
						}
						ours[i].Codec = up[i].Codec
					}
					if up[i] != ours[i] {
						t.Errorf("%s column %d:\n upstream %+v\n ours     %+v", table, i+1, up[i], ours[i])
					}
				}
				upIdx, ourIdx := indexes(t, st, upDB, table), indexes(t, st, ourDB, table)
				lc := layoutChanges[table]
				for _, name := range lc.droppedIndexes {
					if _, ok := upIdx[name]; !ok {
						t.Errorf("%s: layoutChanges drops index %s, which upstream does not have", table, name)
					}
					if _, ok := ourIdx[name]; ok {
						t.Errorf("%s: index %s should be gone", table, name)
					}
					delete(upIdx, name)
				}
				for name, def := range lc.changed {
					if ourIdx[name] != def {
						t.Errorf("%s index %s:\n want %s\n ours %s", table, name, def, ourIdx[name])
					}
					delete(upIdx, name)
				}
				for name, def := range upIdx {
					if ourIdx[name] != def {
						t.Errorf("%s index %s:\n upstream %s\n ours     %s", table, name, def, ourIdx[name])
					}
				}
				upKeys, ourKeys := tableKeys(t, st, upDB, table), tableKeys(t, st, ourDB, table)
				if lc.sortingKey != "" {
					if ourKeys["sorting_key"] != lc.sortingKey || ourKeys["primary_key"] != lc.primaryKey {
						t.Errorf("%s: sort key %v, primary key %v; want %s", table, ourKeys["sorting_key"], ourKeys["primary_key"], lc.sortingKey)
					}
					upKeys["sorting_key"], upKeys["primary_key"] = ourKeys["sorting_key"], ourKeys["primary_key"]
				}
				if !reflect.DeepEqual(upKeys, ourKeys) {
					t.Errorf("%s keys:\n upstream %v\n ours     %v", table, upKeys, ourKeys)
				}
			}
		})
	}
}

// TestRenderedStatementsParse checks every statement of the cluster form
// (and the single-node form) with the engine's own parser; the embedded
// engine has no cluster to run ON CLUSTER DDL against.
func TestRenderedStatementsParse(t *testing.T) {
	st := engine(t)
	cluster := DefaultOptions()
	cluster.Cluster = "obsplane_cluster"
	cluster.StoragePolicy = "tiered"
	clusterText := cluster
	clusterText.TextIndex = true
	for name, o := range map[string]Options{"cluster": cluster, "cluster+text": clusterText, "single": DefaultOptions()} {
		ss, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		var distributed, replicated int
		for _, s := range ss {
			rows := query(t, st, "SELECT formatQuery({q:String}) AS f", store.Params{"q": s.SQL})
			if len(rows) != 1 || rows[0]["f"] == "" {
				t.Errorf("%s: migration %d: no formatted statement for\n%s", name, s.Version, s.SQL)
			}
			// DDL runs on every node; a backfill INSERT runs once, through
			// the Distributed tables.
			backfill := strings.HasPrefix(strings.TrimSpace(s.SQL), "INSERT INTO")
			if o.Cluster != "" && !backfill && !strings.Contains(s.SQL, "ON CLUSTER `obsplane_cluster`") {
				t.Errorf("%s: migration %d statement lacks ON CLUSTER:\n%s", name, s.Version, s.SQL)
			}
			if strings.Contains(s.SQL, "ENGINE = Distributed(") {
				distributed++
			}
			if strings.Contains(s.SQL, "ENGINE = Replicated") {
				replicated++
			}
		}
		if o.Cluster != "" && (distributed == 0 || distributed != replicated) {
			t.Errorf("%s: %d Distributed tables over %d Replicated ones", name, distributed, replicated)
		}
	}
}

func TestApplyTwiceAndStatus(t *testing.T) {
	st := engine(t)
	o := DefaultOptions()
	o.Database = "apply_twice"
	applied, err := Apply(ctxT(t), st, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(Migrations()) {
		t.Fatalf("first Apply applied %v, want all %d", applied, len(Migrations()))
	}
	again, err := Apply(ctxT(t), st, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Fatalf("second Apply applied %v, want nothing", again)
	}
	if n := query(t, st, "SELECT count() AS n FROM apply_twice.schema_migrations", nil)[0]["n"]; fmt.Sprint(n) != fmt.Sprint(len(Migrations())) {
		t.Errorf("schema_migrations has %v rows, want %d", n, len(Migrations()))
	}
	status, err := Status(ctxT(t), st, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != len(Migrations()) {
		t.Fatalf("status lists %d, want %d", len(status), len(Migrations()))
	}
	for _, s := range status {
		if s.State != Applied || s.Recorded != s.Checksum || s.AppliedAt.IsZero() {
			t.Errorf("status: %+v", s)
		}
	}

	// The engine is 26.5, so Apply chose the text indexes (migration 10
	// keeps them, except on the body: layoutChanges).
	if idx := indexes(t, st, "apply_twice", "otel_logs"); !strings.Contains(idx["idx_trace_id"], "text") {
		t.Errorf("idx_trace_id is %q, want a text index on 26.5", idx["idx_trace_id"])
	}
}

func TestStatusOfFreshDatabase(t *testing.T) {
	st := engine(t)
	status, err := Status(ctxT(t), st, Options{Database: "never_created"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if s.State != Pending {
			t.Errorf("%+v, want pending", s)
		}
	}
	if rows := query(t, st, "SELECT name FROM system.databases WHERE name = 'never_created'", nil); len(rows) != 0 {
		t.Error("Status created the database")
	}
}

// TestTablesWork writes through the tables and views the way the gateway
// will, and reads the derived columns and aggregates back.
func TestTablesWork(t *testing.T) {
	st := engine(t)
	o := Options{Database: "tables_work", DeleteAfter: DefaultDeleteAfter}
	if _, err := Apply(ctxT(t), st, o); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	exec(t, st, "INSERT INTO tables_work.otel_logs (Timestamp, TraceId, ServiceName, Body, ResourceAttributes) VALUES "+
		"(now64(9), 'abc', 'svc', 'connection timeout', map('k8s.namespace.name', 'dp-ns', 'k8s.pod.name', 'api-1', "+
		"'openchoreo.dev/component-uid', 'c-1', 'openchoreo.dev/project', 'shop'))")
	// The enrichment processor's keys win over the pod-label keys.
	exec(t, st, "INSERT INTO tables_work.otel_logs (Timestamp, ServiceName, Body, ResourceAttributes) VALUES "+
		"(now64(9), 'svc', 'enriched line', map('openchoreo.namespace', 'acme', 'openchoreo.dev/namespace', 'ignored', "+
		"'openchoreo.component.uid', 'c-2', 'openchoreo.environment', 'dev'))")
	got := query(t, st, "SELECT K8sNamespace, K8sPodName, OpenChoreoComponentUID, OpenChoreoProject, OpenChoreoEnvironment FROM tables_work.otel_logs WHERE hasToken(lower(Body), 'timeout')", nil)
	want := []map[string]any{{"K8sNamespace": "dp-ns", "K8sPodName": "api-1", "OpenChoreoComponentUID": "c-1", "OpenChoreoProject": "shop", "OpenChoreoEnvironment": ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("materialized columns: got %v, want %v", got, want)
	}
	got = query(t, st, "SELECT OpenChoreoNamespace, OpenChoreoComponentUID, OpenChoreoEnvironment FROM tables_work.otel_logs WHERE hasToken(lower(Body), 'enriched')", nil)
	want = []map[string]any{{"OpenChoreoNamespace": "acme", "OpenChoreoComponentUID": "c-2", "OpenChoreoEnvironment": "dev"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("materialized columns: got %v, want %v", got, want)
	}

	exec(t, st, "INSERT INTO tables_work.otel_traces (Timestamp, TraceId, SpanId, ServiceName, SpanName, Duration) VALUES "+
		"('"+now+"', 't1', 's1', 'svc', 'GET /', 5), ('"+now+"', 't1', 's2', 'svc', 'db', 3), ('"+now+"', '', 's3', 'svc', 'x', 1)")
	if rows := query(t, st, "SELECT TraceId FROM tables_work.otel_traces_trace_id_ts", nil); len(rows) != 1 || rows[0]["TraceId"] != "t1" {
		t.Errorf("trace_id_ts: %v, want one row for t1", rows)
	}
	// The topology's edge rows: keys hashed from the ids, a root has
	// parent key 0, the tenant columns come along.
	if rows := query(t, st, "SELECT count() AS n, countIf(ParentKey = 0) AS roots, countIf(SpanKey = cityHash64('t1', 's1')) AS s1 FROM tables_work.otel_traces_edges", nil); len(rows) != 1 ||
		fmt.Sprintf("%v %v %v", rows[0]["n"], rows[0]["roots"], rows[0]["s1"]) != "3 3 1" {
		t.Errorf("otel_traces_edges: %v, want 3 rows, all roots, one for t1/s1", rows)
	}
	// Spans stored before migration 7 are copied when it runs: forget it
	// and its rows, apply again.
	exec(t, st, "TRUNCATE TABLE tables_work.otel_traces_edges")
	exec(t, st, "DROP VIEW tables_work.otel_traces_edges_mv")
	exec(t, st, "DELETE FROM tables_work.schema_migrations WHERE Version = 7")
	if _, err := Apply(context.Background(), st, o); err != nil {
		t.Fatal(err)
	}
	if rows := query(t, st, "SELECT count() AS n FROM tables_work.otel_traces_edges", nil); len(rows) != 1 || fmt.Sprint(rows[0]["n"]) != "3" {
		t.Errorf("otel_traces_edges after re-applying migration 7: %v, want the 3 stored spans", rows)
	}

	exec(t, st, "INSERT INTO tables_work.otel_metrics_sum (ServiceName, MetricName, Attributes, TimeUnix, Value) VALUES "+
		"('svc', 'requests', map('route', '/'), '"+now+"', 1), ('svc', 'requests', map('route', '/'), '"+now+"', 2), "+
		"('svc', 'requests', map('route', '/x'), '"+now+"', 5)")
	rows := query(t, st, "SELECT Attributes['route'] AS route, sum(Sum) AS s, sum(Count) AS c, max(Max) AS mx FROM tables_work.metrics_sum_1s_agg "+
		"GROUP BY route ORDER BY route", nil)
	if fmt.Sprint(rows) != "[map[c:2 mx:2 route:/ s:3] map[c:1 mx:5 route:/x s:5]]" {
		t.Errorf("metrics_sum_1s_agg: %v", rows)
	}

	exec(t, st, "INSERT INTO tables_work.obsplane_flags (Name, Value, UpdatedBy) VALUES ('backend', 'opensearch', 'test')")
	exec(t, st, "INSERT INTO tables_work.obsplane_flags (Name, Value, UpdatedBy, UpdatedAt) VALUES ('backend', 'clickhouse', 'test', now64(3) + 1)")
	if rows := query(t, st, "SELECT Value FROM tables_work.obsplane_flags FINAL WHERE Name = 'backend'", nil); len(rows) != 1 || rows[0]["Value"] != "clickhouse" {
		t.Errorf("flags: %v", rows)
	}
}

// snapshot describes everything in db that Apply could change.
func snapshot(t *testing.T, st store.Store, db string) string {
	tables := query(t, st, "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} ORDER BY name", store.Params{"db": db})
	recs := query(t, st, "SELECT Version, Name, Checksum, AppliedAt FROM `"+db+"`.schema_migrations ORDER BY Version, AppliedAt", nil)
	return fmt.Sprint(tables, recs)
}

func TestNewerVersionChangesNothing(t *testing.T) {
	st := engine(t)
	o := Options{Database: "newer"}
	// A database that a newer obsplane created: it got past version 1 and
	// recorded a version this binary does not know. Versions 2.. are
	// pending here, and must stay pending.
	m1 := Migrations()[0]
	sqls, err := m1.Statements(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range sqls {
		exec(t, st, q)
	}
	future := Latest() + 1
	exec(t, st, fmt.Sprintf("INSERT INTO newer.schema_migrations (Version, Name, Checksum) VALUES (1, '%s', '%s'), (%d, 'from_the_future', 'f00d')",
		m1.Name, m1.Checksum, future))
	before := snapshot(t, st, "newer")

	_, err = Apply(ctxT(t), st, o)
	want := fmt.Sprintf("schema version %d is newer than this obsplane (knows up to %d); upgrade obsplane", future, Latest())
	if err == nil || err.Error() != want {
		t.Fatalf("Apply: got error %v, want %q", err, want)
	}
	if after := snapshot(t, st, "newer"); after != before {
		t.Errorf("Apply changed the database:\nbefore %s\nafter  %s", before, after)
	}

	status, err := Status(ctxT(t), st, o)
	if err != nil {
		t.Fatal(err)
	}
	last := status[len(status)-1]
	if last.Version != future || last.State != Unknown || last.Name != "from_the_future" {
		t.Errorf("status of the future version: %+v", last)
	}
	if status[1].State != Pending {
		t.Errorf("status of version 2: %+v, want pending", status[1])
	}
}

func TestChangedChecksumIsRefused(t *testing.T) {
	st := engine(t)
	o := Options{Database: "changed"}
	if _, err := Apply(ctxT(t), st, o); err != nil {
		t.Fatal(err)
	}
	// A later record for version 2 with another checksum, as if the
	// migration had been edited after release.
	exec(t, st, "INSERT INTO changed.schema_migrations (Version, Name, Checksum, AppliedAt) VALUES (2, 'otel_logs', 'edited', now64(3) + 10)")
	_, err := Apply(ctxT(t), st, o)
	if err == nil || !strings.Contains(err.Error(), "migration 2 otel_logs was applied with checksum edited") {
		t.Fatalf("Apply: got %v, want a checksum error for migration 2", err)
	}
	status, err := Status(ctxT(t), st, o)
	if err != nil {
		t.Fatal(err)
	}
	if status[1].State != Modified {
		t.Errorf("status of version 2: %+v, want modified", status[1])
	}
}

// A batch replayed with the same dedup token (the gateway's retry after a
// crash) lands once, in the tables and in what the views derive from them.
func TestReplayedBatchIsWrittenOnce(t *testing.T) {
	st := engine(t)
	o := Options{Database: "dedup", DeleteAfter: DefaultDeleteAfter}
	if _, err := Apply(ctxT(t), st, o); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	batch := &store.Batch{Database: "dedup", Table: "otel_metrics_sum", Rows: 2, DedupToken: "sum-1", Columns: []store.Column{
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: []string{"svc", "svc"}},
		{Name: "MetricName", Type: "String", Values: []string{"requests", "requests"}},
		{Name: "TimeUnix", Type: "DateTime64(9)", Values: []time.Time{now, now}},
		{Name: "Value", Type: "Float64", Values: []float64{1, 2}},
	}}
	traces := &store.Batch{Database: "dedup", Table: "otel_traces", Rows: 1, DedupToken: "tr-1", Columns: []store.Column{
		{Name: "Timestamp", Type: "DateTime64(9)", Values: []time.Time{now}},
		{Name: "TraceId", Type: "String", Values: []string{"t1"}},
		{Name: "SpanId", Type: "String", Values: []string{"s1"}},
	}}
	for i := 0; i < 3; i++ {
		for _, b := range []*store.Batch{batch, traces} {
			if err := st.Insert(ctxT(t), b); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct{ sql, want string }{
		{"SELECT toString(count()) AS v FROM dedup.otel_metrics_sum", "2"},
		{"SELECT toString(sum(Sum)) AS v FROM dedup.metrics_sum_1s_agg", "3"},
		{"SELECT toString(count()) AS v FROM dedup.otel_traces", "1"},
		{"SELECT toString(count()) AS v FROM dedup.otel_traces_trace_id_ts", "1"},
	} {
		rows := query(t, st, c.sql, nil)
		if len(rows) != 1 || rows[0]["v"] != c.want {
			t.Errorf("%s: got %v, want %s", c.sql, rows, c.want)
		}
	}
}
