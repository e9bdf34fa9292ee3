package router

import (
	"errors"
	"testing"
	"time"
)

func TestLatencyPerBackendAndSlot(t *testing.T) {
	h := newHarness(t, nil, nil)
	// Slot 1: ClickHouse 10 reads at 2ms, OpenSearch 10 at 20ms and one failure.
	for range 10 {
		h.r.Observe(ClickHouse, "logs", "primary", 2*time.Millisecond, nil)
		h.r.Observe(OpenSearch, "logs", "secondary", 20*time.Millisecond, nil)
	}
	h.r.Observe(OpenSearch, "logs", "secondary", time.Second, errors.New("boom"))
	h.clock.Advance(bucketWidth)
	// Slot 2: ClickHouse slower, 19 at 1ms and one at 50ms: P50 1ms, P95 1ms
	// (19 of 20 is 95%).
	for range 19 {
		h.r.Observe(ClickHouse, "logs", "primary", time.Millisecond, nil)
	}
	h.r.Observe(ClickHouse, "logs", "primary", 50*time.Millisecond, nil)

	l := h.r.Latency()
	if len(l.Series) != 2 {
		t.Fatalf("series has %d points, want 2: %+v", len(l.Series), l.Series)
	}
	if !l.Series[0].At.Before(l.Series[1].At) {
		t.Fatalf("series not oldest first: %+v", l.Series)
	}
	near := func(got, want float64) bool { return got >= want && got <= want*1.1 }
	p := l.Series[0]
	if p.ClickHouse.Requests != 10 || !near(p.ClickHouse.P95Ms, 2) || p.OpenSearch.Requests != 11 || p.OpenSearch.Errors != 1 || !near(p.OpenSearch.P50Ms, 20) {
		t.Fatalf("first slot %+v", p)
	}
	if q := l.Series[1]; q.ClickHouse.Requests != 20 || !near(q.ClickHouse.P95Ms, 1) || q.OpenSearch.Requests != 0 {
		t.Fatalf("second slot %+v", q)
	}
	if l.ClickHouse.Requests != 30 || l.OpenSearch.Requests != 11 || l.OpenSearch.Errors != 1 {
		t.Fatalf("totals %+v / %+v", l.ClickHouse, l.OpenSearch)
	}
	// 30 ClickHouse reads: 19 at 1ms, 10 at 2ms, 1 at 50ms: the 15th is at
	// 1ms, the 29th (95%) at 2ms.
	if !near(l.ClickHouse.P50Ms, 1) || !near(l.ClickHouse.P95Ms, 2) {
		t.Fatalf("ClickHouse totals %+v", l.ClickHouse)
	}

	// Past the retained span nothing is left.
	h.clock.Advance(time.Duration(len(h.r.win.slots)+1) * bucketWidth)
	if l := h.r.Latency(); len(l.Series) != 0 || l.ClickHouse.Requests != 0 {
		t.Fatalf("after the span: %+v", l)
	}
}
