package router

import (
	"sort"
	"time"
)

// BackendLatency is what one backend's reads took over a span: how many
// there were, how many failed, and the P50 and P95 of the successful ones
// in milliseconds (read from the trigger histogram, so at most 10% high).
type BackendLatency struct {
	Requests uint64  `json:"requests"`
	Errors   uint64  `json:"errors"`
	P50Ms    float64 `json:"p50Ms"`
	P95Ms    float64 `json:"p95Ms"`
}

// LatencyPoint is one slot of the router's windows (bucketWidth long).
type LatencyPoint struct {
	At         time.Time      `json:"at"`
	ClickHouse BackendLatency `json:"clickhouse"`
	OpenSearch BackendLatency `json:"opensearch"`
}

// Latency compares the two backends over the router's retained windows:
// with dual reads on, every read is answered by both, so the two columns
// measure the same queries.
type Latency struct {
	DualRead   bool           `json:"dualRead"`
	Window     string         `json:"window"`
	ClickHouse BackendLatency `json:"clickhouse"`
	OpenSearch BackendLatency `json:"opensearch"`
	// Series is per slot, oldest first; slots without a read are left out.
	Series []LatencyPoint `json:"series"`
}

// Latency returns the backends' latencies over the time the router keeps
// (the longest rollback window), as a total and per slot. The migration
// console charts it.
func (r *Router) Latency() Latency {
	now := r.clock.Now()
	r.win.mu.Lock()
	defer r.win.mu.Unlock()
	to := slotIndex(now)
	from := to - int64(len(r.win.slots)) + 1
	var total [2][]uint64
	var req, errs [2]uint64
	for b := range 2 {
		total[b] = make([]uint64, len(latBounds))
	}
	var series []LatencyPoint
	for _, s := range r.win.slots {
		if s.idx < from || s.idx > to || s.requests[0]+s.requests[1] == 0 {
			continue
		}
		p := LatencyPoint{At: time.Unix(0, s.idx*int64(bucketWidth)).UTC()}
		for b := range 2 {
			h := make([]uint64, len(latBounds))
			for i, n := range s.lat[b] {
				h[i] = uint64(n)
				total[b][i] += uint64(n)
			}
			req[b] += s.requests[b]
			errs[b] += s.errors[b]
			bl := backendLatency(s.requests[b], s.errors[b], h)
			if b == 0 {
				p.ClickHouse = bl
			} else {
				p.OpenSearch = bl
			}
		}
		series = append(series, p)
	}
	sort.Slice(series, func(i, j int) bool { return series[i].At.Before(series[j].At) })
	if series == nil {
		series = []LatencyPoint{}
	}
	return Latency{
		DualRead: r.cfg.DualRead, Window: (time.Duration(len(r.win.slots)) * bucketWidth).String(),
		ClickHouse: backendLatency(req[0], errs[0], total[0]),
		OpenSearch: backendLatency(req[1], errs[1], total[1]),
		Series:     series,
	}
}

func backendLatency(req, errs uint64, h []uint64) BackendLatency {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return BackendLatency{Requests: req, Errors: errs, P50Ms: ms(quantile(h, 50)), P95Ms: ms(quantile(h, 95))}
}

// quantile returns the smallest histogram bound below which at least pct%
// of the observations fall (0 without observations).
func quantile(h []uint64, pct uint64) time.Duration {
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0
	}
	need := (total*pct + 99) / 100
	var cum uint64
	for i, n := range h {
		cum += n
		if cum >= need {
			return latBounds[i]
		}
	}
	return latBounds[len(latBounds)-1]
}
