package opensearch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func countDocs(t *testing.T, c *Client, index string) int {
	t.Helper()
	var out struct {
		Count int `json:"count"`
	}
	if err := c.do(ctxT(t), http.MethodGet, "/"+index+"/_count", nil, &out); err != nil {
		t.Fatalf("count %s: %v", index, err)
	}
	return out.Count
}

func TestBulkIndexIsIdempotentAndReportsItemFailures(t *testing.T) {
	c := newTestClient(t)
	ctx := ctxT(t)
	if err := c.EnsureTemplates(ctx); err != nil {
		t.Fatal(err)
	}
	ts := testDay().Add(10 * time.Hour)
	index := ContainerLogsIndex(ts)
	deleteIndexAfter(t, c, index)

	var docs [][]byte
	for i := 0; i < 50; i++ {
		doc, err := EncodeLogDocument(LogRecord{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), Body: fmt.Sprintf("line %d", i),
			ResourceAttributes: map[string]string{"openchoreo.namespace": "acme"}})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	// Small requests, so the chunking is exercised too.
	res, err := c.BulkIndex(ctx, index, docs, BulkOptions{Refresh: "true", MaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 50 || res.Existing != 0 || res.Attempts < 2 {
		t.Errorf("first write: %+v, want 50 created over several requests", res)
	}
	// A replay (the exporter retrying a batch whose answer was lost) stores
	// nothing twice.
	res, err = c.BulkIndex(ctx, index, docs, BulkOptions{Refresh: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 0 || res.Existing != 50 {
		t.Errorf("replay: %+v, want 50 existing", res)
	}
	if n := countDocs(t, c, index); n != 50 {
		t.Errorf("index holds %d documents, want 50", n)
	}

	// One document the template rejects (a date field that is not a date),
	// one that is not JSON, among good ones: the good ones are stored, the
	// bad ones are reported with their positions, none silently dropped.
	good, _ := EncodeLogDocument(LogRecord{Timestamp: ts.Add(time.Hour), Body: "good"})
	mixed := [][]byte{good, []byte(`{"@timestamp": "not a date", "log": "bad"}`), []byte(`{"log": `), []byte("{\n\"@timestamp\": \"" + ts.Format(time.RFC3339) + "\",\n\"log\": \"multi-line source\"}")}
	res, err = c.BulkIndex(ctx, index, mixed, BulkOptions{Refresh: "true"})
	var be *BulkError
	if !errors.As(err, &be) {
		t.Fatalf("mixed batch: err = %v, want a *BulkError", err)
	}
	if res.Created != 2 {
		t.Errorf("mixed batch: %+v, want 2 created", res)
	}
	if len(be.Failed) != 2 || be.Retryable() {
		t.Fatalf("mixed batch failures: %v (retryable %v), want 2 permanent", be.Failed, be.Retryable())
	}
	byPos := map[int]ItemError{}
	for _, f := range be.Failed {
		byPos[f.Position] = f
	}
	if f := byPos[1]; f.Status != http.StatusBadRequest || !strings.Contains(f.Type, "parsing") {
		t.Errorf("doc 1: %+v, want a 400 mapper parsing error", f)
	}
	if f := byPos[2]; f.Type != "invalid_document" {
		t.Errorf("doc 2: %+v, want invalid_document", f)
	}
	if n := countDocs(t, c, index); n != 52 {
		t.Errorf("index holds %d documents, want 52", n)
	}
}

// fakeBulk answers _bulk by a script: for the n-th request, a whole-request
// status, or per-document statuses decided by want(docLine, attempt). The
// real node cannot be made to answer 429 on demand, so the retry paths are
// driven here; everything else runs against the real node above.
type fakeBulk struct {
	mu       sync.Mutex
	requests int
	whole    map[int]int // request number (1-based) -> HTTP status
	item     func(id string, attempt int) int
	attempts map[string]int
	stored   map[string]bool
}

func (f *fakeBulk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	body, _ := io.ReadAll(r.Body)
	if st, ok := f.whole[f.requests]; ok {
		w.WriteHeader(st)
		fmt.Fprintf(w, `{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":%d}`, st)
		return
	}
	var items []map[string]any
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var action map[string]map[string]string
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			http.Error(w, "bad action line", 400)
			return
		}
		sc.Scan() // the source
		id := action["create"]["_id"]
		f.attempts[id]++
		st := f.item(id, f.attempts[id])
		if st == 201 && f.stored[id] {
			st = 409
		}
		if st == 201 {
			f.stored[id] = true
		}
		it := map[string]any{"_index": action["create"]["_index"], "_id": id, "status": st}
		if st >= 300 {
			it["error"] = map[string]any{"type": fmt.Sprintf("status_%d", st), "reason": "scripted"}
		}
		items = append(items, map[string]any{"create": it})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": true, "items": items})
}

func newFake(t *testing.T, f *fakeBulk) *Client {
	f.attempts, f.stored = map[string]int{}, map[string]bool{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBulkRetries(t *testing.T) {
	docs := [][]byte{[]byte(`{"log":"a"}`), []byte(`{"log":"b"}`), []byte(`{"log":"c"}`)}
	idB := DocumentID(docs[1])
	var slept []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }

	t.Run("item 429 and 503 are retried until stored", func(t *testing.T) {
		slept = nil
		f := &fakeBulk{item: func(id string, attempt int) int {
			if id == idB && attempt < 3 {
				return []int{429, 503}[attempt-1]
			}
			return 201
		}}
		res, err := newFake(t, f).BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep, InitialBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != 3 || res.Attempts != 3 || f.attempts[idB] != 3 || f.attempts[DocumentID(docs[0])] != 1 {
			t.Errorf("result %+v, attempts %v: want 3 created, only b re-sent", res, f.attempts)
		}
		// Exponential: the second wait is drawn from a range twice as high.
		if len(slept) != 2 || slept[0] > 100*time.Millisecond || slept[1] < 100*time.Millisecond || slept[1] > 200*time.Millisecond {
			t.Errorf("backoff waits %v, want ~[50-100ms, 100-200ms]", slept)
		}
	})
	t.Run("whole-request 429 then a lost answer: replay counts as existing", func(t *testing.T) {
		f := &fakeBulk{whole: map[int]int{1: 429}, item: func(string, int) int { return 201 }}
		c := newFake(t, f)
		res, err := c.BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep})
		if err != nil || res.Created != 3 || res.Attempts != 2 {
			t.Fatalf("res %+v err %v, want 3 created on the second request", res, err)
		}
		res, err = c.BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep})
		if err != nil || res.Existing != 3 || res.Created != 0 {
			t.Errorf("replay: res %+v err %v, want 3 existing", res, err)
		}
	})
	t.Run("retries exhausted: every unstored document is reported retryable", func(t *testing.T) {
		f := &fakeBulk{item: func(id string, _ int) int {
			if id == idB {
				return 429
			}
			return 201
		}}
		res, err := newFake(t, f).BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep, MaxAttempts: 4})
		var be *BulkError
		if !errors.As(err, &be) || len(be.Failed) != 1 || !be.Retryable() || be.Failed[0].Position != 1 || be.Failed[0].Status != 429 {
			t.Fatalf("err %v, want one retryable failure for doc 1", err)
		}
		if res.Created != 2 || f.attempts[idB] != 4 {
			t.Errorf("res %+v attempts %d, want 2 created and 4 tries of b", res, f.attempts[idB])
		}
	})
	t.Run("whole-request 400 is permanent for every document", func(t *testing.T) {
		f := &fakeBulk{whole: map[int]int{1: 400}, item: func(string, int) int { return 201 }}
		_, err := newFake(t, f).BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep})
		var be *BulkError
		if !errors.As(err, &be) || len(be.Failed) != 3 || be.Retryable() || f.requests != 1 {
			t.Fatalf("err %v after %d requests, want 3 permanent failures and no retry", err, f.requests)
		}
	})
	t.Run("unreachable server is retryable", func(t *testing.T) {
		c, _ := New("http://127.0.0.1:1")
		_, err := c.BulkIndex(context.Background(), "i", docs, BulkOptions{sleep: sleep, MaxAttempts: 2})
		var be *BulkError
		if !errors.As(err, &be) || len(be.Failed) != 3 || !be.Retryable() {
			t.Fatalf("err %v, want 3 retryable failures", err)
		}
	})
	t.Run("cancelled context stops retrying", func(t *testing.T) {
		f := &fakeBulk{item: func(string, int) int { return 429 }}
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		_, err := newFake(t, f).BulkIndex(ctx, "i", docs, BulkOptions{sleep: func(context.Context, time.Duration) error {
			n++
			cancel()
			return context.Canceled
		}})
		var be *BulkError
		if !errors.As(err, &be) || len(be.Failed) != 3 || n != 1 {
			t.Fatalf("err %v after %d sleeps, want 3 failures after one", err, n)
		}
	})
}

func TestDocumentIDIsContentHash(t *testing.T) {
	a, b := DocumentID([]byte(`{"log":"a"}`)), DocumentID([]byte(`{"log":"b"}`))
	if a == b || len(a) != 32 || a != DocumentID([]byte(`{"log":"a"}`)) {
		t.Errorf("ids %s %s: want distinct, stable, 32 hex digits", a, b)
	}
}
