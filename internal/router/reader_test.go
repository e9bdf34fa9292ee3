package router

import (
	"context"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/readmodel"
)

// pageReader answers QueryLogs with one fixed line, after gate is closed
// (nil: at once); it fails the read if its context ends first, as a store
// query does. The other reads are not used here.
type pageReader struct {
	readmodel.Reader
	gate    chan struct{}
	started chan struct{}
	entries []readmodel.LogEntry // nil: one fixed line
}

func (p pageReader) QueryLogs(ctx context.Context, _ readmodel.Tenancy, _ readmodel.LogsQuery) (*readmodel.LogsPage, error) {
	if p.started != nil {
		close(p.started)
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p.entries != nil {
		return &readmodel.LogsPage{Total: len(p.entries), Entries: p.entries}, nil
	}
	at := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	return &readmodel.LogsPage{Total: 1, Entries: []readmodel.LogEntry{{Timestamp: at, Body: "one line"}}}, nil
}

// The dual read through Reader outlives the request: the HTTP handler's
// context ends once the primary's answer is written, and the background
// read (here ClickHouse, slower) must still finish and be compared, not be
// cut off and counted as a ClickHouse error (which feeds the error-rate
// rollback trigger).
func TestReaderDualReadOutlivesTheRequest(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true; c.DualReadTimeout = time.Minute }, nil)
	ch := pageReader{gate: make(chan struct{}), started: make(chan struct{})}
	rd := h.r.Reader(ch, pageReader{})
	reqCtx, endRequest := context.WithCancel(ctxT(t))
	page, err := rd.QueryLogs(reqCtx, readmodel.Tenancy{Subject: "dev"}, readmodel.LogsQuery{})
	if err != nil || page.Total != 1 {
		t.Fatalf("QueryLogs = %v, %v", page, err)
	}
	<-ch.started
	endRequest() // the response is written: the request's context ends
	time.Sleep(20 * time.Millisecond)
	close(ch.gate)
	h.r.Wait()
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "match"}); n != 1 {
		t.Errorf("dual read match = %v, want 1", n)
	}
	if n := h.metric(t, "obsplane_router_requests_total", map[string]string{"backend": "clickhouse", "role": "secondary", "outcome": "error"}); n != 0 {
		t.Errorf("the background read was cut off with the request and counted as a ClickHouse error (%v)", n)
	}
}

// Lines within one millisecond are ties for OpenSearch, which sorts on
// @timestamp in milliseconds (then by _id), while ClickHouse orders them by
// nanosecond: the same lines in those two orders agree.
func TestReaderLogsTiesWithinAMillisecond(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DualRead = true }, nil)
	at := time.Date(2026, 3, 1, 11, 0, 5, 0, time.UTC)
	a := readmodel.LogEntry{Timestamp: at, Body: "forward line, whole second"}
	b := readmodel.LogEntry{Timestamp: at.Add(400 * time.Microsecond), Body: "otlp line, same millisecond"}
	c := readmodel.LogEntry{Timestamp: at.Add(-time.Second), Body: "older"}
	ch := pageReader{entries: []readmodel.LogEntry{b, a, c}} // nanosecond order, newest first
	os := pageReader{entries: []readmodel.LogEntry{a, b, c}} // a millisecond tie, by _id
	if _, err := h.r.Reader(ch, os).QueryLogs(ctxT(t), readmodel.Tenancy{Subject: "dev"}, readmodel.LogsQuery{}); err != nil {
		t.Fatal(err)
	}
	h.r.Wait()
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "match"}); n != 1 {
		t.Errorf("match = %v, want 1 (mismatches: %+v)", n, h.r.Mismatches("", 5))
	}
	// A real difference in order (lines a second apart) still counts.
	os2 := pageReader{entries: []readmodel.LogEntry{c, b, a}}
	if _, err := h.r.Reader(ch, os2).QueryLogs(ctxT(t), readmodel.Tenancy{Subject: "dev"}, readmodel.LogsQuery{}); err != nil {
		t.Fatal(err)
	}
	h.r.Wait()
	if n := h.metric(t, "obsplane_router_dualread_total", map[string]string{"op": "logs.query", "outcome": "mismatch"}); n != 1 {
		t.Errorf("mismatch = %v, want 1", n)
	}
}
