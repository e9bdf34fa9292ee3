package migrate_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/migrate"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// The backfill test data: 3 days from 10 days ago, over 200,000 documents
// (logs in daily container-logs-* and a legacy kubernetes-* index, spans in
// otel-traces-*, events in k8s-events-*), loaded once for the tests below.
var (
	bfOnce  sync.Once
	bfData  *dataset
	bfFirst = day(10)
	bfEnd   = day(7)
)

func backfillData(t *testing.T, c *opensearch.Client) *dataset {
	t.Helper()
	bfOnce.Do(func() {
		t0 := time.Now()
		bfData = loadDataset(t, c, bfFirst, 3, 50_000, 10_000, 4_000, 12_000, 30, 6)
		t.Logf("loaded %d documents into %d indices in %s", bfData.docs, len(bfData.indices), time.Since(t0))
	})
	if bfData == nil {
		t.Fatal("test data did not load")
	}
	return bfData
}

// TestBackfillKilledAndResumed runs the real binary, kills it with SIGKILL
// at three random points, and runs it again until it finishes: the store
// then holds exactly the rows OpenSearch's documents map to, each once.
func TestBackfillKilledAndResumed(t *testing.T) {
	c := needOpenSearch(t)
	ds := backfillData(t, c)
	if ds.docs < 200_000 {
		t.Fatalf("only %d documents loaded; the test wants at least 200,000", ds.docs)
	}
	dir := t.TempDir()
	func() {
		st := openStore(t, dir)
		defer st.Close()
		insertOwn(t, st, ds.own)
	}()
	args := []string{"migrate", "backfill", "--data", dir, "--opensearch", osURL,
		"--start", bfFirst.Format(time.DateOnly), "--end", bfEnd.Format(time.DateOnly),
		"--slices", "4", "--batch", "2000", "--lock-lease", "5s", "--progress-interval", "1s", "--log-format", "json"}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	kills := 0
	for kills < 3 {
		cmd := exec.Command(binary, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A random point after the first batches, before the end.
		wait := time.Duration(1500+rng.IntN(3000)) * time.Millisecond
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("backfill ended before the kill at %s (%v):\n%s", wait, err, out.String())
		case <-time.After(wait):
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-done
		kills++
		t.Logf("killed with SIGKILL after %s (progress lines: %d)", wait, strings.Count(out.String(), `"msg":"progress"`))
	}
	cmd := exec.Command(binary, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("final backfill run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "DIFFERENCE") || strings.Contains(string(out), "<-- differs") {
		t.Fatalf("final report has no table or a difference:\n%s", out)
	}
	t.Logf("final run:\n%s", tail(string(out), 30))

	st := openStore(t, dir)
	defer st.Close()
	sameKeys(t, openSearchKeys(t, c, ds.indices), storeKeys(t, st, bfFirst, bfEnd))
	n := countRows(t, st, "SELECT count() AS n FROM otel.obsplane_backfill_rejected FINAL WHERE Reason IN ('wrong-field-type', 'timestamp-out-of-range')")
	if n != int64(ds.rejected) {
		t.Errorf("rejected-records table holds %d documents, want %d", n, ds.rejected)
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func countRows(t *testing.T, st store.Store, q string) int64 {
	t.Helper()
	rows, err := store.ScanAll[struct {
		N int64 `json:"n"`
	}](context.Background(), st, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rows[0].N
}

// TestBackfillPITExpires deletes every Point-in-Time while a backfill runs
// (as their expiry does): the scans reopen them and resume from their
// position, and the store ends up with exactly the documents.
func TestBackfillPITExpires(t *testing.T) {
	c := needOpenSearch(t)
	ds := backfillData(t, c)
	st := openStore(t, t.TempDir())
	defer st.Close()
	insertOwn(t, st, ds.own)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(700 * time.Millisecond)
			req, _ := newRequest("DELETE", "/_search/point_in_time/_all")
			if resp, err := c.API.Client.Perform(req); err == nil {
				resp.Body.Close()
			}
		}
	}()
	idx := opensearch.ContainerLogsIndex(bfFirst.AddDate(0, 0, 2))
	res, err := migrate.Backfill(context.Background(), migrate.BackfillOptions{OpenSearch: c, Store: st, Indices: idx,
		Start: bfFirst, End: bfEnd, Slices: 3, Batch: 2500, KeepAlive: time.Second, Log: quietLog()})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if res.PITReopened == 0 {
		t.Fatal("no Point-in-Time was reopened; the test did not exercise expiry")
	}
	t.Logf("%d Point-in-Times reopened", res.PITReopened)
	sameKeys(t, openSearchKeys(t, c, []string{idx}), storeKeys(t, st, bfFirst.AddDate(0, 0, 2), bfEnd))
}

// TestBackfillOverlappingRanges: a second backfill over a range that
// overlaps the first converges on the same rows (an index is a unit of
// work with its own checkpoints, so the overlap is read again and nothing
// is inserted twice).
func TestBackfillOverlappingRanges(t *testing.T) {
	c := needOpenSearch(t)
	ds := backfillData(t, c)
	st := openStore(t, t.TempDir())
	defer st.Close()
	insertOwn(t, st, ds.own)
	o := migrate.BackfillOptions{OpenSearch: c, Store: st, Log: quietLog(), Signals: []migrate.Signal{migrate.Events}, Batch: 1000}
	o.Start, o.End = bfFirst, bfFirst.AddDate(0, 0, 2)
	res, err := migrate.Backfill(context.Background(), o)
	if err != nil {
		t.Fatalf("first range: %v", err)
	}
	first := res.Read
	o.Start, o.End = bfFirst.AddDate(0, 0, 1), bfEnd
	res, err = migrate.Backfill(context.Background(), o)
	if err != nil {
		t.Fatalf("overlapping range: %v", err)
	}
	t.Logf("first run read %d documents, the overlapping one %d", first, res.Read)
	// The second run resumes the index it shares with the first from its
	// finished checkpoints (nothing new to read) and reads only its new day.
	if first != 8000 || res.Read != 4000 {
		t.Errorf("the runs read %d and %d documents, want 8000 (two days) and 4000 (the one new day)", first, res.Read)
	}
	var events []string
	for _, idx := range ds.indices {
		if strings.HasPrefix(idx, opensearch.K8sEventsPrefix) {
			events = append(events, idx)
		}
	}
	want := openSearchKeys(t, c, events)
	got := storeKeys(t, st, bfFirst, bfEnd)
	got[migrate.Logs] = nil // the dual-written rows
	sameKeys(t, want, got)
}

// TestBackfillTwoRunsAtOnce: the second of two concurrent runs on one store
// is refused with an error naming the first.
func TestBackfillTwoRunsAtOnce(t *testing.T) {
	c := needOpenSearch(t)
	backfillData(t, c)
	st := openStore(t, t.TempDir())
	defer st.Close()
	o := migrate.BackfillOptions{OpenSearch: c, Store: st, Log: quietLog(), Start: bfFirst, End: bfEnd, MaxDocsPerSec: 3000, Batch: 1000, Signals: []migrate.Signal{migrate.Events}}
	first := make(chan error, 1)
	go func() { _, err := migrate.Backfill(context.Background(), o); first <- err }()
	time.Sleep(1500 * time.Millisecond)
	_, err := migrate.Backfill(context.Background(), o)
	if !errors.Is(err, migrate.ErrLocked) || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second run: want ErrLocked naming the first run, got %v", err)
	}
	t.Logf("second run refused: %v", err)
	if err := <-first; err != nil {
		t.Fatalf("first run: %v", err)
	}
	// Once the first is done the lock is free again.
	if _, err := migrate.Backfill(context.Background(), o); err != nil {
		t.Fatalf("a run after the first finished: %v", err)
	}
}

// flakyStore refuses inserts into the telemetry tables while failing is
// set, with the error a full spool disk gives, then lets them through.
type flakyStore struct {
	store.Store
	mu      sync.Mutex
	failing bool
	refused int
}

func (f *flakyStore) Insert(ctx context.Context, b *store.Batch) error {
	f.mu.Lock()
	fail := f.failing && strings.HasPrefix(b.Table, "otel_")
	if fail {
		f.refused++
	}
	f.mu.Unlock()
	if fail {
		return &spoolFull{}
	}
	return f.Store.Insert(ctx, b)
}

type spoolFull struct{}

func (*spoolFull) Error() string {
	return "insert into otel.otel_logs: spool: write /data/spool/insert-1.native: no space left on device"
}

// TestBackfillStoreRefusesForAWhile: inserts fail (a full spool disk) for
// a few seconds; the backfill retries and ends with every row once.
func TestBackfillStoreRefusesForAWhile(t *testing.T) {
	c := needOpenSearch(t)
	ds := backfillData(t, c)
	base := openStore(t, t.TempDir())
	defer base.Close()
	insertOwn(t, base, ds.own)
	st := &flakyStore{Store: base, failing: true}
	go func() {
		time.Sleep(3 * time.Second)
		st.mu.Lock()
		st.failing = false
		st.mu.Unlock()
	}()
	idx := opensearch.K8sEventsIndex(bfFirst.AddDate(0, 0, 1))
	_, err := migrate.Backfill(context.Background(), migrate.BackfillOptions{OpenSearch: c, Store: st, Log: quietLog(),
		Start: bfFirst, End: bfEnd, Indices: idx, Batch: 500})
	if err != nil {
		t.Fatal(err)
	}
	if st.refused == 0 {
		t.Fatal("no insert was refused; the test did not exercise the fault")
	}
	want := openSearchKeys(t, c, []string{idx})
	got := storeKeys(t, base, bfFirst.AddDate(0, 0, 1), bfFirst.AddDate(0, 0, 2))
	got[migrate.Logs] = nil // the dual-written rows
	sameKeys(t, want, got)
}

// TestBackfillBadInput: dates that do not parse or are reversed, patterns
// that match nothing and an OpenSearch that is not there are clear errors.
func TestBackfillBadInput(t *testing.T) {
	for _, s := range []string{"2025-13-01", "yesterday", "2025/01/01", ""} {
		if _, err := migrate.ParseDay("start", s); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ParseDay(%q): want an error naming the format, got %v", s, err)
		}
	}
	c := needOpenSearch(t)
	st := openStore(t, t.TempDir())
	defer st.Close()
	o := migrate.BackfillOptions{OpenSearch: c, Store: st, Log: quietLog(), Start: day(3), End: day(5)}
	if _, err := migrate.Backfill(context.Background(), o); err == nil || !strings.Contains(err.Error(), "must be after --start") {
		t.Errorf("reversed range: got %v", err)
	}
	o.Start, o.End, o.Indices = day(5), day(3), "no-such-index-*"
	if _, err := migrate.Backfill(context.Background(), o); err == nil || !strings.Contains(err.Error(), "matches no index") {
		t.Errorf("pattern matching nothing: got %v", err)
	}
	o.Indices = ""
	o.Start, o.End = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2001, 2, 1, 0, 0, 0, 0, time.UTC)
	if _, err := migrate.Backfill(context.Background(), o); err == nil || !strings.Contains(err.Error(), "nothing to backfill") {
		t.Errorf("range without indices: got %v", err)
	}
	o.Retention = 395 * 24 * time.Hour
	if _, err := migrate.Backfill(context.Background(), o); err == nil || !strings.Contains(err.Error(), "retention") {
		t.Errorf("range older than the retention: got %v", err)
	}
	down, _ := opensearch.New("http://127.0.0.1:1")
	o = migrate.BackfillOptions{OpenSearch: down, Store: st, Log: quietLog(), Start: day(5), End: day(3), Retry: opensearch.RetryOptions{MaxAttempts: 2}}
	if _, err := migrate.Backfill(context.Background(), o); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("OpenSearch not there: got %v", err)
	}
}
