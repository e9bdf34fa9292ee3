package chdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/storetest"
)

// One engine per process: every test shares st, on distinct databases.
var st *Store

func libPath() string {
	if p := os.Getenv("CHDB_LIB"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache/obsplane/chdb/26.5.3/libchdb.so")
}

func TestMain(m *testing.M) {
	if os.Getenv("CHDB_HELPER_PROCESS") == "1" {
		helperProcess()
		return
	}
	dir, err := os.MkdirTemp("", "chdb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st, err = Open(Config{LibPath: libPath(), DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	st.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestParamsAreBoundNotSpliced(t *testing.T) {
	ctx := context.Background()
	evil := "x'); DROP TABLE t; --\\ \x00 ' UNION SELECT 1 FORMAT JSON\n\t\\N \\n \r end"
	out, err := st.QueryBytes(ctx, "SELECT hex({s:String}) AS s, {n:UInt32} + 1 AS n", "TSVRaw", store.Params{"s": evil, "n": "41"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), fmt.Sprintf("%X\t42\n", evil); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestArrayParamsAreLiterals(t *testing.T) {
	out, err := st.QueryBytes(context.Background(),
		"SELECT length({a:Array(String)}), {a:Array(String)}[2] = {s:String}, {m:Map(String, UInt8)}['k']", "TSVRaw",
		store.Params{"a": `['x', 'it\'s \\ odd']`, "s": `it's \ odd`, "m": `{'k': 7}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "2\t1\t7\n" {
		t.Fatalf("got %q", got)
	}
}

func TestEngineErrorsCarryCode(t *testing.T) {
	_, err := st.QueryBytes(context.Background(), "SELECT * FROM no_such_db.no_such_table", "TSV", nil)
	var e *store.Error
	if err == nil || !asErr(err, &e) || e.Code != 81 {
		t.Fatalf("want UNKNOWN_DATABASE (81), got %v", err)
	}
	if store.Retryable(err) {
		t.Fatal("unknown database must not be retryable")
	}
}

func asErr(err error, target **store.Error) bool {
	e, ok := err.(*store.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestInsertNativeAndStreamRead(t *testing.T) {
	ctx := context.Background()
	mustExec(t, "CREATE DATABASE IF NOT EXISTS t_insert")
	mustExec(t, `CREATE TABLE t_insert.logs (Timestamp DateTime64(9), ServiceName LowCardinality(String), Body String,
		SeverityNumber UInt8, Attrs Map(LowCardinality(String), String), Events Array(DateTime64(9)))
		ENGINE = MergeTree ORDER BY Timestamp SETTINGS non_replicated_deduplication_window = 1000`)
	const n = 100_000
	b := sampleBatch("t_insert", "logs", n, 0)
	if err := st.Insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Query(ctx, "SELECT Body, Attrs['k'] AS k, toUnixTimestamp64Nano(Timestamp) AS ts FROM t_insert.logs ORDER BY Timestamp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var r struct {
			Body string `json:"Body"`
			K    string `json:"k"`
			TS   int64  `json:"ts"`
		}
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("line %d", i); r.Body != want || r.K != fmt.Sprint(i%7) {
			t.Fatalf("row %d: %+v", i, r)
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("read %d rows, want %d", i, n)
	}
}

func TestDedupTokenMakesReplayIdempotent(t *testing.T) {
	ctx := context.Background()
	mustExec(t, "CREATE DATABASE IF NOT EXISTS t_dedup")
	mustExec(t, `CREATE TABLE t_dedup.logs (Timestamp DateTime64(9), ServiceName LowCardinality(String), Body String,
		SeverityNumber UInt8, Attrs Map(LowCardinality(String), String), Events Array(DateTime64(9)))
		ENGINE = MergeTree ORDER BY Timestamp SETTINGS non_replicated_deduplication_window = 1000`)
	b := sampleBatch("t_dedup", "logs", 1000, 0)
	b.DedupToken = "batch-1"
	for i := 0; i < 3; i++ {
		if err := st.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	b2 := sampleBatch("t_dedup", "logs", 10, 5000)
	b2.DedupToken = "batch-2"
	if err := st.Insert(ctx, b2); err != nil {
		t.Fatal(err)
	}
	if got := count(t, "SELECT count() FROM t_dedup.logs"); got != "1010" {
		t.Fatalf("count = %s, want 1010", got)
	}
}

// TestSkipStoredMakesARegroupedReplayIdempotent is the crash the token
// cannot cover: batches 0-99 and 100-199 were stored; the replay groups rows
// 50-149 and 150-249 under new tokens. Only rows 200-249 are new.
func TestSkipStoredMakesARegroupedReplayIdempotent(t *testing.T) {
	ctx := context.Background()
	mustExec(t, "CREATE DATABASE IF NOT EXISTS t_skip")
	mustExec(t, `CREATE TABLE t_skip.logs (Timestamp DateTime64(9), ServiceName LowCardinality(String), Body String,
		SeverityNumber UInt8, Attrs Map(LowCardinality(String), String), Events Array(DateTime64(9)))
		ENGINE = MergeTree ORDER BY Timestamp SETTINGS non_replicated_deduplication_window = 1000`)
	for i, first := range []int{0, 100} {
		b := sampleBatch("t_skip", "logs", 100, first)
		b.DedupToken = fmt.Sprint("orig-", i)
		if err := st.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for i, first := range []int{50, 150} {
		b := sampleBatch("t_skip", "logs", 100, first)
		b.DedupToken = fmt.Sprint("replay-", i)
		b.SkipStored = true
		if err := st.Insert(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if got := count(t, "SELECT count() FROM t_skip.logs"); got != "250" {
		t.Fatalf("count = %s, want 250 (rows 0-249 once)", got)
	}
	if got := count(t, "SELECT count() FROM (SELECT Body FROM t_skip.logs GROUP BY Body HAVING count() > 1)"); got != "0" {
		t.Fatalf("%s rows stored twice", got)
	}
	// Without it, the regrouped replay doubles what was stored.
	b := sampleBatch("t_skip", "logs", 100, 50)
	b.DedupToken = "replay-unguarded"
	if err := st.Insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := count(t, "SELECT count() FROM t_skip.logs"); got != "350" {
		t.Fatalf("count = %s, want 350", got)
	}
}

func TestBadBatchIsAnErrorNamingTheColumn(t *testing.T) {
	b := sampleBatch("t_insert", "logs", 10, 0)
	b.Columns[2].Values = []int{1, 2, 3}
	err := st.Insert(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "Body") {
		t.Fatalf("want an error naming column Body, got %v", err)
	}
}

// TestTimesRenderInUTC: the APIs parse the engine's rendering of a
// zone-less DateTime64 as UTC, so every connection renders in UTC whatever
// the machine's TZ.
func TestTimesRenderInUTC(t *testing.T) {
	for i := 0; i < 4; i++ { // more queries than one pool's connections
		got := count(t, "SELECT concat(getSetting('session_timezone'), ' ', toString(toDateTime64(86400, 9)))")
		if got != "UTC 1970-01-02 00:00:00.000000000" {
			t.Fatalf("session zone and rendering: %q, want UTC", got)
		}
	}
}

func TestConcurrentQueriesRunInParallel(t *testing.T) {
	ctx := context.Background()
	// A slow scan on one read connection must not hold an insert or a
	// second read behind it.
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := st.QueryBytes(ctx, "SELECT count() FROM numbers(100000000) WHERE sipHash64(number) % 7 = 3", "TSV", nil)
		if err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if _, err := st.QueryBytes(ctx, "SELECT 1", "TSV", nil); err != nil {
		t.Fatal(err)
	}
	quick := time.Since(t0)
	wg.Wait()
	slow := time.Since(start)
	if quick > slow/2 {
		t.Fatalf("SELECT 1 took %v while a %v scan ran: queries are serialized", quick, slow)
	}
}

func TestQueryHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := st.Query(ctx, "SELECT number FROM numbers(100000000)", nil)
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
	if rows.Err() == nil {
		t.Fatal("want a context error after cancel")
	}
	rows.Close()
	// The connection went back to the pool in a usable state.
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSecondProcessOnSameDirGetsClearError(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CHDB_HELPER_PROCESS=1", "CHDB_HELPER_DIR="+filepath.Dir(st.Dir()+"/x"))
	out, _ := cmd.CombinedOutput()
	want := fmt.Sprintf("is in use by pid %d", os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Fatalf("second process said %q, want it to contain %q", out, want)
	}
}

func helperProcess() {
	_, err := Open(Config{LibPath: libPath(), DataDir: os.Getenv("CHDB_HELPER_DIR")})
	fmt.Println(err)
}

func TestMissingLibraryIsAClearError(t *testing.T) {
	_, err := loadLib("/nonexistent/libchdb.so")
	if err == nil || !strings.Contains(err.Error(), "install-chdb.sh") {
		t.Fatalf("got %v", err)
	}
	bad := filepath.Join(t.TempDir(), "libchdb.so")
	os.WriteFile(bad, []byte("not a library"), 0o644)
	if _, err := loadLib(bad); err == nil || !strings.Contains(err.Error(), "install-chdb.sh") {
		t.Fatalf("got %v", err)
	}
}

func mustExec(t *testing.T, sql string) {
	t.Helper()
	if err := st.Exec(context.Background(), sql, nil); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, sql string) string {
	t.Helper()
	out, err := st.QueryBytes(context.Background(), sql, "TSV", nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func sampleBatch(db, table string, n, offset int) *store.Batch {
	ts := make([]time.Time, n)
	svc := make([]string, n)
	body := make([]string, n)
	sev := make([]uint8, n)
	attrs := make([]map[string]string, n)
	events := make([][]time.Time, n)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		ts[i] = base.Add(time.Duration(i+offset) * time.Microsecond)
		svc[i] = "svc"
		body[i] = fmt.Sprintf("line %d", i+offset)
		sev[i] = 9
		attrs[i] = map[string]string{"k": fmt.Sprint((i + offset) % 7)}
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

// TestStoreContract runs the behaviour every store must have on the
// embedded one (the remote store runs it against the HTTP interface).
func TestStoreContract(t *testing.T) {
	storetest.Run(t, st, "t_contract", storetest.Options{SkipStored: true})
}
