package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// BackfillOptions configure one backfill run.
type BackfillOptions struct {
	OpenSearch *opensearch.Client
	Store      store.Store
	Database   string
	// Start and End are UTC days; an index is read when the day in its name
	// is in [Start, End).
	Start, End time.Time
	Signals    []Signal
	// Indices, when set, are comma-separated glob patterns (path.Match) an
	// index name must also match.
	Indices string
	// Slices is how many slices are read at once, and how many slices an
	// index is cut into (at least one per shard). Default 4.
	Slices int
	// Batch is how many documents of a slice one insert, and one
	// checkpoint, covers. Default 100000: the engine's cost per insert
	// does not depend on its size, so large ones cost less per row
	// (docs/MIGRATE.md).
	Batch int
	// PageSize is how many documents one OpenSearch page holds; at most
	// 10000 (OpenSearch's default index.max_result_window). Default 10000.
	PageSize int
	// MaxDocsPerSec bounds the read rate (0: unbounded).
	MaxDocsPerSec float64
	// KeepAlive is the Point-in-Time keep_alive. Default 5m.
	KeepAlive time.Duration
	// IncludeOwn also copies documents obsplane wrote itself (dual write,
	// syncback), whose rows normally reached the store through the gateway.
	IncludeOwn bool
	// Retry bounds OpenSearch retries; StoreRetryFor how long a refused
	// insert is retried (default 10m) before the run stops.
	Retry         opensearch.RetryOptions
	StoreRetryFor time.Duration
	// LockLease is the lease of the run's lock. Default 60s.
	LockLease time.Duration
	// Retention is the store's delete TTL (--retention-delete): rows older
	// than it are deleted as they land, so days older are refused. 0: no
	// check.
	Retention time.Duration

	Log      *slog.Logger
	Metrics  *Metrics
	Progress *Progress
}

func (o *BackfillOptions) defaults() error {
	if o.OpenSearch == nil || o.Store == nil {
		return errors.New("backfill: needs an OpenSearch client and a store")
	}
	if o.Database == "" {
		o.Database = "otel"
	}
	if !o.End.After(o.Start) {
		return fmt.Errorf("--end %s must be after --start %s (the end day is not included)", o.End.Format(time.DateOnly), o.Start.Format(time.DateOnly))
	}
	if len(o.Signals) == 0 {
		o.Signals = AllSignals
	}
	if o.Slices <= 0 {
		o.Slices = 4
	}
	if o.Slices > 1024 {
		return fmt.Errorf("--slices %d: at most 1024", o.Slices)
	}
	if o.Batch <= 0 {
		o.Batch = 100000
	}
	if o.Batch > 1000000 {
		return fmt.Errorf("--batch %d: at most 1000000 documents an insert", o.Batch)
	}
	if o.PageSize <= 0 {
		o.PageSize = 10000
	}
	if o.PageSize > 10000 {
		return fmt.Errorf("--page-size %d: at most 10000 documents, OpenSearch's default index.max_result_window", o.PageSize)
	}
	if o.MaxDocsPerSec < 0 {
		return fmt.Errorf("--max-docs-per-sec %v must not be negative", o.MaxDocsPerSec)
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 5 * time.Minute
	}
	if o.StoreRetryFor <= 0 {
		o.StoreRetryFor = 10 * time.Minute
	}
	if o.LockLease <= 0 {
		o.LockLease = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Indices != "" {
		for _, p := range strings.Split(o.Indices, ",") {
			if _, err := path.Match(strings.TrimSpace(p), ""); err != nil {
				return fmt.Errorf("--indices %q: %w", p, err)
			}
		}
	}
	return nil
}

// ParseDay reads a --start/--end day (YYYY-MM-DD, UTC).
func ParseDay(flag, s string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: want a UTC day as YYYY-MM-DD", flag, s)
	}
	return d, nil
}

// unit is one index to copy.
type unit struct {
	index  string
	signal Signal
	day    time.Time
	docs   int64
	shards int
}

// BackfillResult is what a run did, per index, and the final comparison.
type BackfillResult struct {
	RunID   string
	Indices []IndexResult
	Counts  []DayCount
	// Rejected counts the documents kept in obsplane_backfill_rejected for
	// the run's indices, by reason.
	Rejected map[string]int64
	// PITReopened counts Point-in-Times reopened after they expired.
	PITReopened int
	Elapsed     time.Duration
	// Read counts documents read in this run.
	Read int64
}

// IndexResult is one index's totals over every run so far.
type IndexResult struct {
	Index                             string
	Signal                            Signal
	Slices                            int
	Read, Inserted, Rejected, Skipped uint64
}

// ErrCountMismatch is wrapped by Backfill's error when the store's counts
// differ from OpenSearch's at the end.
var ErrCountMismatch = errors.New("the store's counts differ from OpenSearch's")

// Backfill copies the OpenSearch indices of the range into the store. It
// can be stopped at any moment (kill -9 included) and run again: every
// slice resumes from its checkpoint and nothing is written twice
// (docs/MIGRATE.md). At the end it compares OpenSearch's _count with the
// store per signal and day; a difference returns an error wrapping
// ErrCountMismatch along with the result.
func Backfill(ctx context.Context, o BackfillOptions) (*BackfillResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	units, err := selectUnits(ctx, o)
	if err != nil {
		return nil, err
	}
	lk, err := acquireLock(ctx, o.Store, o.Database, "backfill", o.LockLease)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	res := &BackfillResult{RunID: uuid.NewString()}
	o.Log.Info("backfill starting", "run", res.RunID, "indices", len(units), "start", o.Start.Format(time.DateOnly), "end", o.End.Format(time.DateOnly), "slices", o.Slices, "batch", o.Batch, "page_size", o.PageSize)

	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.index
	}
	cks, err := loadCheckpoints(ctx, o.Store, o.Database, names)
	if err != nil {
		return nil, err
	}
	r := &run{o: o, runID: res.RunID, cks: cks}
	if o.MaxDocsPerSec > 0 {
		r.limiter = rate.NewLimiter(rate.Limit(o.MaxDocsPerSec), max(o.PageSize, int(o.MaxDocsPerSec)))
	}
	err = r.copy(ctx, units)
	res.Read = r.read.Load()
	res.PITReopened = int(r.reopened.Load())
	if err != nil {
		return res, err
	}
	final, err := loadCheckpoints(ctx, o.Store, o.Database, names)
	if err != nil {
		return res, err
	}
	for _, u := range units {
		ir := IndexResult{Index: u.index, Signal: u.signal}
		for _, c := range final[u.index] {
			ir.Slices = c.Slices
			ir.Read += c.Read
			ir.Inserted += c.Inserted
			ir.Rejected += c.Rejected
			ir.Skipped += c.Skipped
		}
		res.Indices = append(res.Indices, ir)
	}
	res.Counts, res.Rejected, err = compareCounts(ctx, o.OpenSearch, o.Store, o.Database, units, o.Retry)
	res.Elapsed = time.Since(t0)
	if err != nil {
		return res, err
	}
	for _, c := range res.Counts {
		if c.Difference() != 0 {
			return res, fmt.Errorf("%w (see the table)", ErrCountMismatch)
		}
	}
	return res, nil
}

// selectUnits lists the indices of the range, and says clearly when there
// is nothing to do.
func selectUnits(ctx context.Context, o BackfillOptions) ([]unit, error) {
	var pats []string
	for _, s := range o.Signals {
		pats = append(pats, patterns(s)...)
	}
	infos, err := o.OpenSearch.ListIndices(ctx, strings.Join(pats, ","), o.Retry)
	if err != nil {
		return nil, err
	}
	var userPats []string
	if o.Indices != "" {
		for _, p := range strings.Split(o.Indices, ",") {
			userPats = append(userPats, strings.TrimSpace(p))
		}
	}
	var units []unit
	matchedUser := 0
	for _, in := range infos {
		f, day, ok := familyOf(in.Name)
		if !ok {
			continue // e.g. container-logs-archive: not a daily index of the layout
		}
		if len(userPats) > 0 {
			hit := false
			for _, p := range userPats {
				if m, _ := path.Match(p, in.Name); m {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
			matchedUser++
		}
		if day.Before(o.Start) || !day.Before(o.End) {
			continue
		}
		units = append(units, unit{index: in.Name, signal: f.signal, day: day, docs: in.Docs, shards: in.Shards})
	}
	if len(userPats) > 0 && matchedUser == 0 {
		return nil, fmt.Errorf("--indices %q matches no index of %s in OpenSearch at %s", o.Indices, strings.Join(pats, ","), o.OpenSearch.URL)
	}
	if o.Retention > 0 {
		limit := time.Now().Add(-o.Retention)
		if o.Start.AddDate(0, 0, 1).Before(limit) {
			return nil, fmt.Errorf("--start %s is older than the store keeps rows (--retention-delete %s: rows before %s are deleted as they land); start later or raise the retention",
				o.Start.Format(time.DateOnly), o.Retention, limit.UTC().Format(time.DateOnly))
		}
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("no index of %s in OpenSearch at %s is named for a day in %s..%s (the end day excluded); nothing to backfill",
			strings.Join(pats, ","), o.OpenSearch.URL, o.Start.Format(time.DateOnly), o.End.Format(time.DateOnly))
	}
	// Oldest day first; within a day logs, traces, events.
	sort.SliceStable(units, func(i, j int) bool {
		if !units[i].day.Equal(units[j].day) {
			return units[i].day.Before(units[j].day)
		}
		return units[i].index < units[j].index
	})
	return units, nil
}

// run is one backfill's shared state.
type run struct {
	o        BackfillOptions
	runID    string
	cks      map[string]map[int]checkpoint
	limiter  *rate.Limiter
	read     atomic.Int64
	reopened atomic.Int64
}

// sliceTask is one slice of one index.
type sliceTask struct {
	u      unit
	slice  int
	slices int
	// batch is the documents per insert and checkpoint (the checkpoint's
	// PageSize): the first batch documents after the checkpoint are one
	// insert in every run, so a resumed run repeats the token.
	batch int
	ck    checkpoint
	// resumed slices may have had one batch in flight when the last run
	// stopped; that batch is inserted with SkipStored as well as its token.
	resumed bool
	pit     *pitRef
}

// pitRef shares one index's PIT between its slices and closes it after
// the last one.
type pitRef struct {
	mu   sync.Mutex
	pit  *opensearch.PIT
	left int
	err  error
}

func (r *run) copy(ctx context.Context, units []unit) error {
	var tasks []*sliceTask
	for _, u := range units {
		prev := r.cks[u.index]
		slices, batch := max(r.o.Slices, u.shards), r.o.Batch
		var done int64
		for _, c := range prev {
			// A slicing or batch size once used stays, or the slices and
			// tokens of this run would not be those of the checkpoints.
			slices, batch = c.Slices, c.PageSize
			done += int64(c.Read)
		}
		if len(prev) > 0 && (slices != max(r.o.Slices, u.shards) || batch != r.o.Batch) {
			r.o.Log.Info("resuming with the slicing of the first run", "index", u.index, "slices", slices, "batch", batch)
		}
		if r.o.Progress != nil {
			r.o.Progress.Track(u.index, done, u.docs)
		}
		ref := &pitRef{left: slices}
		for s := 0; s < slices; s++ {
			ck, ok := prev[s]
			if !ok {
				ck = checkpoint{Unit: u.index, Signal: string(u.signal), Slice: s, Slices: slices, PageSize: batch, After: -1}
			}
			ck.Docs = uint64(max(u.docs, 0))
			tasks = append(tasks, &sliceTask{u: u, slice: s, slices: slices, batch: batch, ck: ck, resumed: ok && ck.Done == 0, pit: ref})
		}
		if r.o.Metrics != nil {
			r.o.Metrics.Remaining.WithLabelValues("backfill", string(u.signal)).Add(float64(max(u.docs-done, 0)))
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan *sliceTask)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < min(r.o.Slices, len(tasks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				if err := r.slice(ctx, t); err != nil {
					errOnce.Do(func() { firstErr = err; cancel(err) })
				}
			}
		}()
	}
feed:
	for _, t := range tasks {
		select {
		case work <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return context.Cause(ctx)
}

func (r *run) openPIT(ctx context.Context, t *sliceTask) (*opensearch.PIT, error) {
	t.pit.mu.Lock()
	defer t.pit.mu.Unlock()
	if t.pit.pit == nil && t.pit.err == nil {
		t.pit.pit, t.pit.err = r.o.OpenSearch.OpenPIT(ctx, []string{t.u.index}, r.o.KeepAlive, r.o.Retry)
	}
	return t.pit.pit, t.pit.err
}

func (r *run) closePIT(t *sliceTask) {
	t.pit.mu.Lock()
	defer t.pit.mu.Unlock()
	t.pit.left--
	if t.pit.left == 0 && t.pit.pit != nil {
		r.reopened.Add(int64(t.pit.pit.Reopened()))
		if r.o.Metrics != nil {
			r.o.Metrics.PITReopened.Add(float64(t.pit.pit.Reopened()))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = t.pit.pit.Close(ctx)
		cancel()
	}
}

// fetched is one page of a slice, read for a batch.
type fetched struct {
	page *opensearch.Page
	// asked is the page size asked for: a page with fewer documents is
	// the slice's last.
	asked int
	took  time.Duration
	err   error
}

// batch is what a slice's batch became: its rows in a spool, its rejected
// documents, and the checkpoint it ends at.
type batch struct {
	spool    store.Spool
	rejected []rejectedDoc
	read     int
	skipped  int
	last     int64 // _seq_no of its last document (-1: none)
	done     bool  // the slice's last
}

// slice copies one slice in three stages that run at once: a reader
// fetches the next page, a converter maps each page to rows and appends
// them to the batch's spool, and a writer inserts the batch before, and
// checkpoints it. A batch is the first t.batch documents after the
// checkpoint, read in pages of at most PageSize.
func (r *run) slice(ctx context.Context, t *sliceTask) error {
	defer r.closePIT(t)
	pit, err := r.openPIT(ctx, t)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pages := make(chan fetched, 1)
	go r.fetch(ctx, pit, t, pages)
	batches := make(chan *batch, 1)
	written := make(chan error, 1)
	go func() {
		err := r.writeBatches(ctx, t, batches)
		if err != nil {
			cancel(err)
		}
		written <- err
	}()
	err = r.convertPages(ctx, t, pages, batches)
	close(batches)
	if err != nil {
		cancel(err)
	}
	if werr := <-written; werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	return nil
}

// fetch reads the slice's pages from its checkpoint on, sizing each so
// that batches end where they ended in every run.
func (r *run) fetch(ctx context.Context, pit *opensearch.PIT, t *sliceTask, pages chan<- fetched) {
	defer close(pages)
	after, inBatch := t.ck.After, 0
	for {
		size := min(r.o.PageSize, t.batch-inBatch)
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, min(size, r.limiter.Burst())); err != nil {
				select {
				case pages <- fetched{err: err}:
				case <-ctx.Done():
				}
				return
			}
		}
		t0 := time.Now()
		p, err := pit.Page(ctx, opensearch.SliceQuery{Slice: t.slice, Slices: t.slices, Size: size, After: after})
		if r.o.Metrics != nil && err == nil {
			r.o.Metrics.PageSeconds.Observe(time.Since(t0).Seconds())
		}
		select {
		case pages <- fetched{page: p, asked: size, took: time.Since(t0), err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil || len(p.Hits) < size {
			return
		}
		after = p.Hits[len(p.Hits)-1].SeqNo()
		if inBatch += len(p.Hits); inBatch == t.batch {
			inBatch = 0
		}
	}
}

// convertPages maps the pages to rows, batch by batch, and hands each
// complete batch to the writer.
func (r *run) convertPages(ctx context.Context, t *sliceTask, pages <-chan fetched, batches chan<- *batch) error {
	var cur *batch
	defer func() {
		if cur != nil {
			_ = cur.spool.Close()
		}
	}()
	for f := range pages {
		if f.err != nil {
			return f.err
		}
		if cur == nil {
			sp, err := store.NewSpool(r.o.Store)
			if err != nil {
				return err
			}
			cur = &batch{spool: sp, last: -1}
		}
		t0 := time.Now()
		hits := f.page.Hits
		conv := convert(t.u.signal, hits, r.o.IncludeOwn)
		if conv.rows() > 0 {
			b := conv.batch(r.o.Database, t.u.signal)
			if err := r.retryStore(ctx, "spool", func(context.Context) error { return cur.spool.Add(b) }); err != nil {
				return fmt.Errorf("backfill %s slice %d/%d: %w", t.u.index, t.slice, t.slices, err)
			}
		}
		cur.rejected = append(cur.rejected, conv.rejected...)
		cur.skipped += conv.skipped
		cur.read += len(hits)
		if len(hits) > 0 {
			cur.last = hits[len(hits)-1].SeqNo()
		}
		if r.o.Progress != nil && len(hits) > 0 {
			r.o.Progress.Add(t.u.index, len(hits), f.took+time.Since(t0))
		}
		cur.done = len(hits) < f.asked
		if !cur.done && cur.read < t.batch {
			continue
		}
		select {
		case batches <- cur:
			cur = nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return context.Cause(ctx)
}

// writeBatches stores the slice's batches in order: each batch's rows with
// the deduplication token backfill/<index>/<slice>-<slices>/<checkpoint
// before>-<checkpoint after>, its rejected documents, then the
// checkpoint. Only after both inserts were acknowledged does the
// checkpoint move. After an error it only discards what is left.
func (r *run) writeBatches(ctx context.Context, t *sliceTask, batches <-chan *batch) error {
	var err error
	recovering := t.resumed
	ck := t.ck
	for b := range batches {
		if err == nil {
			err = r.write(ctx, t, &ck, b, recovering)
			recovering = false
		}
		_ = b.spool.Close()
		if err == nil && b.done {
			if r.finishIndex(t) && r.o.Progress != nil {
				r.o.Progress.Finish(t.u.index)
			}
			return nil
		}
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	return err
}

// finishIndex reports whether t was the index's last slice to finish.
func (r *run) finishIndex(t *sliceTask) bool {
	t.pit.mu.Lock()
	defer t.pit.mu.Unlock()
	return t.pit.left == 1
}

// write stores one batch and moves the checkpoint past it. A batch after
// a resume is inserted with SkipStored as well as its token: the dedup
// window may have passed since the stopped run inserted it.
func (r *run) write(ctx context.Context, t *sliceTask, ck *checkpoint, b *batch, recovering bool) error {
	next := *ck
	next.Read += uint64(b.read)
	next.Skipped += uint64(b.skipped)
	next.Rejected += uint64(len(b.rejected))
	if b.done {
		next.Done = 1
	}
	if b.read > 0 {
		t0 := time.Now()
		next.After = b.last
		token := fmt.Sprintf("backfill/%s/%d-%d/%d-%d", t.u.index, t.slice, t.slices, ck.After, b.last)
		rows := b.spool.Rows()
		if rows > 0 {
			if err := r.retryStore(ctx, "insert", func(ctx context.Context) error { return b.spool.Insert(ctx, token, recovering) }); err != nil {
				return fmt.Errorf("backfill %s slice %d/%d: %w", t.u.index, t.slice, t.slices, err)
			}
		}
		if len(b.rejected) > 0 {
			rb := rejectedBatch(r.o.Database, t.u.signal, r.runID, b.rejected)
			rb.DedupToken = token + "/rejected"
			if err := r.retryStore(ctx, "insert", func(ctx context.Context) error { return r.o.Store.Insert(ctx, rb) }); err != nil {
				return fmt.Errorf("backfill %s slice %d/%d: keep rejected documents: %w", t.u.index, t.slice, t.slices, err)
			}
		}
		next.Inserted += uint64(rows)
		if r.o.Metrics != nil {
			r.o.Metrics.WriteSeconds.WithLabelValues("backfill").Observe(time.Since(t0).Seconds())
			sig := string(t.u.signal)
			r.o.Metrics.Documents.WithLabelValues("backfill", sig, "inserted").Add(float64(rows))
			r.o.Metrics.Documents.WithLabelValues("backfill", sig, "rejected").Add(float64(len(b.rejected)))
			r.o.Metrics.Documents.WithLabelValues("backfill", sig, "skipped").Add(float64(b.skipped))
			r.o.Metrics.Remaining.WithLabelValues("backfill", sig).Sub(float64(b.read))
		}
	}
	if err := r.retryStore(ctx, "checkpoint", func(ctx context.Context) error {
		return saveCheckpoint(ctx, r.o.Store, r.o.Database, r.runID, next)
	}); err != nil {
		return fmt.Errorf("backfill %s slice %d/%d: %w", t.u.index, t.slice, t.slices, err)
	}
	r.read.Add(int64(b.read))
	*ck = next
	return nil
}

// retryStore runs op until it succeeds, fails for good, or keeps failing
// for StoreRetryFor. Retrying is safe: every insert carries its token.
func (r *run) retryStore(ctx context.Context, what string, op func(context.Context) error) error {
	deadline := time.Now().Add(r.o.StoreRetryFor)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !store.Retryable(err) {
			return fmt.Errorf("%s refused by the store: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: the store kept failing for %s (%d tries); the next run continues from the last checkpoint: %w", what, r.o.StoreRetryFor, attempt, err)
		}
		if attempt == 1 || attempt%10 == 0 {
			r.o.Log.Warn("store write failed; retrying", "what", what, "attempt", attempt, "err", err)
		}
		if r.o.Metrics != nil {
			r.o.Metrics.Retries.WithLabelValues("backfill", "store").Inc()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}
