package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// Metrics are the migrate commands' Prometheus metrics.
type Metrics struct {
	Documents    *prometheus.CounterVec // by command, signal and outcome
	Remaining    *prometheus.GaugeVec   // by command and signal
	PageSeconds  prometheus.Histogram
	WriteSeconds *prometheus.HistogramVec // by command
	PITReopened  prometheus.Counter
	Retries      *prometheus.CounterVec // by command and what (store, opensearch)
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Documents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obsplane_migrate_documents_total",
			Help: "Documents a migrate command handled, by outcome: inserted (a row was written), rejected (could not be converted; kept in obsplane_backfill_rejected), skipped (written by obsplane itself), written and existing (syncback)."},
			[]string{"command", "signal", "outcome"}),
		Remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "obsplane_migrate_remaining_documents",
			Help: "Documents a migrate command still has to read, as far as it knows."}, []string{"command", "signal"}),
		PageSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "obsplane_migrate_opensearch_page_seconds",
			Help: "Time to read one page of a Point-in-Time scan.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		WriteSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "obsplane_migrate_write_seconds",
			Help: "Time to write one batch (store insert for backfill, _bulk for syncback), retries included.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}, []string{"command"}),
		PITReopened: prometheus.NewCounter(prometheus.CounterOpts{Name: "obsplane_migrate_pit_reopened_total",
			Help: "Point-in-Times reopened after they expired mid-scan."}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "obsplane_migrate_retries_total",
			Help: "Writes retried after a retryable failure."}, []string{"command", "target"}),
	}
	reg.MustRegister(m.Documents, m.Remaining, m.PageSeconds, m.WriteSeconds, m.PITReopened, m.Retries)
	return m
}

// ServeMetrics serves reg on addr at /metrics until ctx ends. An empty addr
// serves nothing.
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}

// Progress shows how far a command is, per index (or per signal for
// syncback): live bars on a terminal, slog lines otherwise.
type Progress struct {
	log       *slog.Logger
	every     time.Duration
	bars      *mpb.Progress
	mu        sync.Mutex
	items     map[string]*progressItem
	order     []string
	stopLine  chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type progressItem struct {
	name        string
	done, total int64
	start       time.Time
	startDone   int64
	bar         *mpb.Bar
	finished    bool
}

// NewProgress returns a display on out: bars when out is a terminal (and
// bars is not "off"), otherwise one slog line per item every interval.
func NewProgress(out io.Writer, log *slog.Logger, interval time.Duration, bars bool) *Progress {
	p := &Progress{log: log, every: interval, items: map[string]*progressItem{}, stopLine: make(chan struct{})}
	if f, ok := out.(*os.File); ok && bars && term.IsTerminal(int(f.Fd())) {
		p.bars = mpb.New(mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	} else {
		p.wg.Add(1)
		go p.lines()
	}
	return p
}

// Track adds an item with total documents of which done are done already.
func (p *Progress) Track(name string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.items[name]; ok {
		return
	}
	it := &progressItem{name: name, done: done, total: max(total, done), start: time.Now(), startDone: done}
	if p.bars != nil {
		it.bar = p.bars.AddBar(it.total,
			mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace}), decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)),
			mpb.AppendDecorators(decor.EwmaSpeed(nil, "%.0f docs/s", 30, decor.WCSyncSpace), decor.Name(" ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 30), decor.OnComplete(decor.Name(""), " done")))
		it.bar.SetCurrent(done)
	}
	p.items[name] = it
	p.order = append(p.order, name)
}

// Add records n more documents of item name, handled in d.
func (p *Progress) Add(name string, n int, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.items[name]
	if it == nil {
		return
	}
	it.done += int64(n)
	if it.done > it.total {
		it.total = it.done
		if it.bar != nil {
			it.bar.SetTotal(it.total, false)
		}
	}
	if it.bar != nil {
		it.bar.EwmaIncrBy(n, d)
	}
}

// Finish marks item name complete.
func (p *Progress) Finish(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	it := p.items[name]
	if it == nil || it.finished {
		return
	}
	it.finished = true
	if it.bar != nil {
		it.bar.SetTotal(it.done, true)
	} else {
		p.log.Info("progress", "item", name, "documents", it.done, "state", "done")
	}
}

// Close stops the display (bars are drawn a last time).
func (p *Progress) Close() { p.closeOnce.Do(p.close) }

func (p *Progress) close() {
	if p.bars != nil {
		p.mu.Lock()
		for _, it := range p.items {
			if !it.finished && it.bar != nil {
				it.bar.Abort(false)
			}
		}
		p.mu.Unlock()
		p.bars.Wait()
		return
	}
	close(p.stopLine)
	p.wg.Wait()
}

// lines logs every unfinished item's progress every interval.
func (p *Progress) lines() {
	defer p.wg.Done()
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stopLine:
			return
		case <-t.C:
		}
		p.mu.Lock()
		names := append([]string(nil), p.order...)
		sort.Strings(names)
		for _, n := range names {
			it := p.items[n]
			if it.finished || it.done == it.startDone {
				continue
			}
			el := time.Since(it.start).Seconds()
			rate := float64(it.done-it.startDone) / el
			eta := "unknown"
			if rate > 0 && it.total > it.done {
				eta = time.Duration(float64(it.total-it.done) / rate * float64(time.Second)).Truncate(time.Second).String()
			}
			p.log.Info("progress", "item", n, "documents", it.done, "total", it.total, "docs_per_sec", int64(rate), "eta", eta)
		}
		p.mu.Unlock()
	}
}
