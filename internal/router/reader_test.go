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
