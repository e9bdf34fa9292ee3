// Package storetest is the behaviour every store.Store must have, as tests
// that run against any of them: the embedded engine in its own package, the
// remote store against obsplane's ClickHouse HTTP interface (real engine
// behind, clickhouse-go in front).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Options says what a store supports beyond the common contract.
type Options struct {
	// SkipStored: the store honours Batch.SkipStored (the embedded one).
	SkipStored bool
}

// Run runs every test on st, in database db (created here).
func Run(t *testing.T, st store.Store, db string, o Options) {
	ctx := context.Background()
	if err := st.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+store.QuoteIdent(db), nil); err != nil {
		t.Fatal(err)
	}
	table := func(name string) string {
		sql := `CREATE TABLE ` + store.QuoteIdent(db) + `.` + name + ` (Timestamp DateTime64(9), ServiceName LowCardinality(String), Body String,
			SeverityNumber UInt8, Attrs Map(LowCardinality(String), String), Events Array(DateTime64(9)))
			ENGINE = MergeTree ORDER BY Timestamp SETTINGS non_replicated_deduplication_window = 1000`
		if err := st.Exec(ctx, sql, nil); err != nil {
			t.Fatal(err)
		}
		return name
	}
	count := func(t *testing.T, sql string) uint64 {
		t.Helper()
		rows, err := store.ScanAll[struct {
			N uint64 `json:"n"`
		}](ctx, st, sql, nil)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %v (%d rows)", sql, err, len(rows))
		}
		return rows[0].N
	}

	t.Run("Ping", func(t *testing.T) {
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ParamsAreBoundNotSpliced", func(t *testing.T) {
		evil := "x'); DROP TABLE t; --\\ ' UNION SELECT 1 FORMAT JSON\n\t\\N \\n end"
		rows, err := store.ScanAll[struct {
			S string `json:"s"`
			N uint64 `json:"n"`
		}](ctx, st, "SELECT hex({s:String}) AS s, {n:UInt32} + 1 AS n", store.Params{"s": evil, "n": "41"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].S != fmt.Sprintf("%X", evil) || rows[0].N != 42 {
			t.Fatalf("got %+v", rows)
		}
	})
	t.Run("ArrayParams", func(t *testing.T) {
		rows, err := store.ScanAll[struct {
			N uint64 `json:"n"`
		}](ctx, st, "SELECT length({a:Array(String)}) AS n", store.Params{"a": `['x', 'it\'s']`})
		if err != nil || len(rows) != 1 || rows[0].N != 2 {
			t.Fatalf("got %+v, %v", rows, err)
		}
	})
	t.Run("EngineErrorsCarryCode", func(t *testing.T) {
		err := st.Exec(ctx, "SELECT * FROM no_such_db.no_such_table", nil)
		var e *store.Error
		if !errors.As(err, &e) || e.Code != 81 {
			t.Fatalf("want UNKNOWN_DATABASE (81), got %v", err)
		}
		if store.Retryable(err) {
			t.Fatal("unknown database must not be retryable")
		}
	})
	t.Run("InsertErrorsCarryCode", func(t *testing.T) {
		err := st.Insert(ctx, Sample(db, "no_such_table", 10, 0))
		var e *store.Error
		if !errors.As(err, &e) || e.Code != 60 {
			t.Fatalf("want UNKNOWN_TABLE (60), got %v", err)
		}
		if store.Retryable(err) {
			t.Fatal("an unknown table must not be retryable")
		}
	})
	t.Run("SettingsApplyToOneStatement", func(t *testing.T) {
		_, err := store.ScanAll[map[string]any](ctx, st, "SELECT number FROM numbers(100)", nil, store.Setting{Name: "max_result_rows", Value: "10"}, store.Setting{Name: "result_overflow_mode", Value: "throw"})
		if err == nil {
			t.Fatal("max_result_rows=10 let 100 rows through")
		}
		if n := count(t, "SELECT count() AS n FROM numbers(100)"); n != 100 {
			t.Fatalf("the setting stayed: %d", n)
		}
	})
	t.Run("InsertAndStreamRead", func(t *testing.T) {
		tb := table("logs")
		const n = 100_000
		if err := st.Insert(ctx, Sample(db, tb, n, 0)); err != nil {
			t.Fatal(err)
		}
		i := 0
		err := store.Each(ctx, st, "SELECT Body, Attrs['k'] AS k, toUnixTimestamp64Nano(Timestamp) AS ts, Events FROM "+db+"."+tb+" ORDER BY Timestamp", nil, func(rows store.Rows) error {
			var r struct {
				Body   string   `json:"Body"`
				K      string   `json:"k"`
				TS     int64    `json:"ts"`
				Events []string `json:"Events"`
			}
			if err := rows.Scan(&r); err != nil {
				return err
			}
			want := Base.Add(time.Duration(i) * time.Microsecond)
			if r.Body != fmt.Sprintf("line %d", i) || r.K != fmt.Sprint(i%7) || r.TS != want.UnixNano() ||
				len(r.Events) != 1 || !strings.HasPrefix(r.Events[0], want.Format("2006-01-02 15:04:05")) {
				return fmt.Errorf("row %d: %+v", i, r)
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if i != n {
			t.Fatalf("read %d rows, want %d", i, n)
		}
	})
	t.Run("DedupTokenMakesReplayIdempotent", func(t *testing.T) {
		tb := table("dedup")
		b := Sample(db, tb, 1000, 0)
		b.DedupToken = "batch-1"
		for i := 0; i < 3; i++ {
			if err := st.Insert(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		b2 := Sample(db, tb, 10, 5000)
		b2.DedupToken = "batch-2"
		if err := st.Insert(ctx, b2); err != nil {
			t.Fatal(err)
		}
		if got := count(t, "SELECT count() AS n FROM "+db+"."+tb); got != 1010 {
			t.Fatalf("count = %d, want 1010", got)
		}
	})
	t.Run("SpoolInsertsItsBatchesAsOne", func(t *testing.T) {
		tb := table("spooled")
		insert := func() {
			sp, err := store.NewSpool(st)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			for i := range 3 {
				if err := sp.Add(Sample(db, tb, 1000, 1000*i)); err != nil {
					t.Fatal(err)
				}
			}
			if sp.Rows() != 3000 {
				t.Fatalf("Rows = %d, want 3000", sp.Rows())
			}
			if err := sp.Add(Sample(db, "other", 10, 0)); err == nil {
				t.Fatal("a batch for another table was added")
			}
			// A replay (same token) is dropped whole.
			for range 2 {
				if err := sp.Insert(ctx, "spool-1", false); err != nil {
					t.Fatal(err)
				}
			}
		}
		insert()
		insert()
		if got := count(t, "SELECT count() AS n FROM "+db+"."+tb); got != 3000 {
			t.Fatalf("count = %d, want 3000", got)
		}
		if got := count(t, "SELECT uniqExact(Body) AS n FROM "+db+"."+tb); got != 3000 {
			t.Fatalf("distinct bodies = %d, want 3000", got)
		}
	})
	if o.SkipStored {
		t.Run("SkipStoredMakesARegroupedReplayIdempotent", func(t *testing.T) {
			tb := table("skip")
			for i, first := range []int{0, 100} {
				b := Sample(db, tb, 100, first)
				b.DedupToken = fmt.Sprint("orig-", i)
				if err := st.Insert(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			for i, first := range []int{50, 150} {
				b := Sample(db, tb, 100, first)
				b.DedupToken = fmt.Sprint("replay-", i)
				b.SkipStored = true
				if err := st.Insert(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if got := count(t, "SELECT count() AS n FROM "+db+"."+tb); got != 250 {
				t.Fatalf("count = %d, want 250", got)
			}
		})
	}
	t.Run("BadBatchNamesTheColumn", func(t *testing.T) {
		b := Sample(db, "logs", 10, 0)
		b.Columns[2].Values = []int{1, 2, 3}
		err := st.Insert(ctx, b)
		if err == nil || !strings.Contains(err.Error(), "Body") {
			t.Fatalf("want an error naming column Body, got %v", err)
		}
	})
	t.Run("TimesRenderInUTC", func(t *testing.T) {
		rows, err := store.ScanAll[struct {
			S string `json:"s"`
		}](ctx, st, "SELECT toString(toDateTime64(86400, 9)) AS s", nil)
		if err != nil || len(rows) != 1 || rows[0].S != "1970-01-02 00:00:00.000000000" {
			t.Fatalf("got %+v, %v", rows, err)
		}
	})
	t.Run("QueryHonoursContext", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		rows, err := st.Query(cctx, "SELECT number FROM numbers(100000000)", nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
			if n == 10 {
				cancel()
			}
		}
		if rows.Err() == nil && n == 100000000 {
			t.Fatal("the whole result came despite the cancel")
		}
		rows.Close()
		if err := st.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Base is the first Timestamp of Sample's rows.
var Base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Sample is n otel_logs-like rows, row i at Base + i µs, Body "line i".
func Sample(db, table string, n, offset int) *store.Batch {
	ts := make([]time.Time, n)
	svc := make([]string, n)
	body := make([]string, n)
	sev := make([]uint8, n)
	attrs := make([]map[string]string, n)
	events := make([][]time.Time, n)
	for i := range n {
		ts[i] = Base.Add(time.Duration(i+offset) * time.Microsecond)
		svc[i] = "svc"
		body[i] = fmt.Sprintf("line %d", i+offset)
		sev[i] = 9
		// Several keys: a replay must give the same map, whatever Go's
		// iteration order (SkipStored compares row hashes).
		attrs[i] = map[string]string{"k": fmt.Sprint((i + offset) % 7), "a": fmt.Sprint((i + offset) % 3), "z": "last", "m": "mid", "b": "x"}
		events[i] = []time.Time{ts[i]}
	}
	return &store.Batch{Database: db, Table: table, Rows: n, Columns: []store.Column{
		{Name: "Timestamp", Type: "DateTime64(9)", Values: ts},
		{Name: "ServiceName", Type: "LowCardinality(String)", Values: svc},
		{Name: "Body", Type: "String", Values: body},
		{Name: "SeverityNumber", Type: "UInt8", Values: sev},
		{Name: "Attrs", Type: "Map(LowCardinality(String), String)", Values: attrs},
		{Name: "Events", Type: "Array(DateTime64(9))", Values: events},
	}}
}
