package router

import (
	"sync"
	"time"
)

// latBounds are the upper bounds of the latency histogram the rollback
// triggers read P95 from: geometric, 10% apart, from 100µs to about two
// minutes, then +Inf. A P95 read from it is at most 10% high, which is
// plenty for a "3x the baseline" comparison, and the memory per time slot is
// fixed however many requests arrive.
var latBounds = func() []time.Duration {
	var b []time.Duration
	for d := float64(100 * time.Microsecond); d < float64(2*time.Minute); d *= 1.1 {
		b = append(b, time.Duration(d))
	}
	return append(b, time.Duration(1<<63-1))
}()

func latIndex(d time.Duration) int {
	lo, hi := 0, len(latBounds)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if d <= latBounds[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func backendIndex(b Backend) int {
	if b == ClickHouse {
		return 0
	}
	return 1
}

// slot holds what happened in one bucketWidth of time.
type slot struct {
	idx      int64 // which bucketWidth since the epoch this slot holds
	requests [2]uint64
	errors   [2]uint64
	lat      [2][]uint32
	compared uint64
	differed uint64
}

// windows is a ring of slots covering the longest window any trigger reads.
type windows struct {
	mu    sync.Mutex
	slots []slot
}

func newWindows(span time.Duration) *windows {
	n := int(span/bucketWidth) + 2
	w := &windows{slots: make([]slot, n)}
	for i := range w.slots {
		w.slots[i].idx = -1
		for b := range 2 {
			w.slots[i].lat[b] = make([]uint32, len(latBounds))
		}
	}
	return w
}

func slotIndex(t time.Time) int64 { return t.UnixNano() / int64(bucketWidth) }

// at returns the slot for t, recycling it if it held older time. The caller
// holds mu.
func (w *windows) at(t time.Time) *slot {
	i := slotIndex(t)
	s := &w.slots[int(uint64(i)%uint64(len(w.slots)))]
	if s.idx != i {
		s.idx = i
		s.requests, s.errors = [2]uint64{}, [2]uint64{}
		s.compared, s.differed = 0, 0
		for b := range 2 {
			clear(s.lat[b])
		}
	}
	return s
}

func (w *windows) request(t time.Time, b Backend, d time.Duration, failed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.at(t)
	bi := backendIndex(b)
	s.requests[bi]++
	if failed {
		s.errors[bi]++
		return // a failure's latency says nothing about the backend's speed
	}
	s.lat[bi][latIndex(d)]++
}

func (w *windows) comparison(t time.Time, differed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.at(t)
	s.compared++
	if differed {
		s.differed++
	}
}

// summary is the sum of the slots in a window.
type summary struct {
	requests, errors [2]uint64
	lat              [2][]uint64
	compared         uint64
	differed         uint64
}

// sum adds up the slots whose time lies in (now-d, now] and not before
// since (observations from before the last rollback are not held against
// the next rollout).
func (w *windows) sum(now time.Time, d time.Duration, since time.Time) summary {
	w.mu.Lock()
	defer w.mu.Unlock()
	from := slotIndex(now.Add(-d)) + 1
	if !since.IsZero() {
		// The slot holding since also holds what came just before it.
		if s := slotIndex(since) + 1; s > from {
			from = s
		}
	}
	to := slotIndex(now)
	var out summary
	for b := range 2 {
		out.lat[b] = make([]uint64, len(latBounds))
	}
	for _, s := range w.slots {
		if s.idx < from || s.idx > to {
			continue
		}
		for b := range 2 {
			out.requests[b] += s.requests[b]
			out.errors[b] += s.errors[b]
			for i, n := range s.lat[b] {
				out.lat[b][i] += uint64(n)
			}
		}
		out.compared += s.compared
		out.differed += s.differed
	}
	return out
}

// p95 returns the 95th percentile of backend b's successful requests and
// how many there were.
func (s summary) p95(b Backend) (time.Duration, uint64) {
	h := s.lat[backendIndex(b)]
	var total uint64
	for _, n := range h {
		total += n
	}
	if total == 0 {
		return 0, 0
	}
	// The smallest bound below which at least 95% of requests fall.
	need := (total*95 + 99) / 100
	var cum uint64
	for i, n := range h {
		cum += n
		if cum >= need {
			return latBounds[i], total
		}
	}
	return latBounds[len(latBounds)-1], total
}
