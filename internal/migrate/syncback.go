package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// SyncbackOptions configure one syncback run: what the store holds in
// [Since, Until) and OpenSearch lacks is written into OpenSearch.
type SyncbackOptions struct {
	OpenSearch   *opensearch.Client
	Store        store.Store
	Database     string
	Since, Until time.Time
	Signals      []Signal
	// Bucket is the time slice compared at once (default 1m).
	Bucket time.Duration
	// CompareAll compares every bucket's documents; by default only the
	// buckets whose counts differ are (equal counts in a bucket where
	// OpenSearch lacks some documents and holds as many others are then
	// not found).
	CompareAll bool
	// Workers is how many _bulk requests are in flight (default 2).
	Workers int
	Retry   opensearch.RetryOptions
	// LockLease is the lease of the run's lock. Default 60s.
	LockLease time.Duration

	Log      *slog.Logger
	Metrics  *Metrics
	Progress *Progress
}

// SyncbackResult counts what a syncback did per signal.
type SyncbackResult struct {
	Signals []SyncbackSignal
	Elapsed time.Duration
}

// SyncbackSignal is one signal's part of a syncback.
type SyncbackSignal struct {
	Signal Signal
	// Buckets compared, of BucketsTotal that have stored rows.
	Buckets, BucketsTotal int
	// Stored rows in the compared buckets; Present already in OpenSearch;
	// Written created now; Existing found by _id during the write (a
	// concurrent dual write or an earlier, interrupted run).
	Stored, Present, Written, Existing int64
}

func (o *SyncbackOptions) defaults() error {
	if o.OpenSearch == nil || o.Store == nil {
		return errors.New("syncback: needs an OpenSearch client and a store")
	}
	if o.Database == "" {
		o.Database = "otel"
	}
	if o.Until.IsZero() {
		o.Until = time.Now().UTC()
	}
	if !o.Until.After(o.Since) {
		return fmt.Errorf("--until %s must be after --since %s", o.Until.Format(time.RFC3339), o.Since.Format(time.RFC3339))
	}
	if o.Until.Sub(o.Since) > 3660*24*time.Hour {
		return fmt.Errorf("--since %s..--until %s spans more than ten years", o.Since.Format(time.RFC3339), o.Until.Format(time.RFC3339))
	}
	if len(o.Signals) == 0 {
		o.Signals = AllSignals
	}
	if o.Bucket <= 0 {
		o.Bucket = time.Minute
	}
	if o.Bucket < time.Second || o.Bucket%time.Second != 0 {
		return fmt.Errorf("--bucket %s: want whole seconds", o.Bucket)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.LockLease <= 0 {
		o.LockLease = 60 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// ParseTime reads a --since/--until time: RFC 3339, a UTC day
// (YYYY-MM-DD), or a duration before now (24h).
func ParseTime(flag, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, time.UTC); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().UTC().Add(-d).Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time (2025-08-01T10:00:00Z), a UTC day (2025-08-01) or a duration before now (24h)", flag, s)
}

// Syncback writes into OpenSearch, in OpenChoreo's layout and under the
// _ids dual write gives them, the rows of [Since, Until) that OpenSearch
// lacks: the rollback path after cutover. Buckets whose counts agree are
// skipped; in the others every OpenSearch document is mapped to the row it
// would become and the stored rows whose document is neither there nor
// under its dual-write _id are written. Writes are _bulk creates with
// those _ids, so running it again, or after an interruption, adds nothing
// twice.
func Syncback(ctx context.Context, o SyncbackOptions) (*SyncbackResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	t0 := time.Now()
	lk, err := acquireLock(ctx, o.Store, o.Database, "syncback", o.LockLease)
	if err != nil {
		return nil, err
	}
	defer lk.release()
	if err := o.OpenSearch.EnsureTemplates(ctx); err != nil {
		return nil, err
	}
	res := &SyncbackResult{}
	for _, s := range o.Signals {
		sr, err := syncSignal(ctx, o, s)
		if sr != nil {
			res.Signals = append(res.Signals, *sr)
		}
		if err != nil {
			return res, err
		}
	}
	res.Elapsed = time.Since(t0)
	return res, nil
}

func syncSignal(ctx context.Context, o SyncbackOptions, s Signal) (*SyncbackSignal, error) {
	pats := patterns(s)
	// What earlier writes left unrefreshed must count.
	if err := o.OpenSearch.Refresh(ctx, pats, o.Retry); err != nil {
		return nil, err
	}
	stored, err := storeBuckets(ctx, o, s)
	if err != nil {
		return nil, err
	}
	searched, err := openSearchBuckets(ctx, o, s)
	if err != nil {
		return nil, err
	}
	indices, err := o.OpenSearch.ListIndices(ctx, strings.Join(pats, ","), o.Retry)
	if err != nil {
		return nil, err
	}
	sr := &SyncbackSignal{Signal: s, BucketsTotal: len(stored)}
	var todo []time.Time
	var total int64
	for b, n := range stored {
		if o.CompareAll || searched[b] != n {
			todo = append(todo, b)
			total += n
		}
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Before(todo[j]) })
	item := "syncback " + string(s)
	if o.Progress != nil {
		o.Progress.Track(item, 0, total)
	}
	o.Log.Info("syncback comparing", "signal", s, "buckets", len(todo), "of", len(stored), "rows", total)
	written := map[string]bool{}
	for _, b := range todo {
		t0 := time.Now()
		n, err := syncBucket(ctx, o, s, indices, b, sr, written)
		if err != nil {
			return sr, err
		}
		sr.Buckets++
		if o.Progress != nil {
			o.Progress.Add(item, int(n), time.Since(t0))
		}
	}
	if o.Progress != nil {
		o.Progress.Finish(item)
	}
	if len(written) > 0 {
		names := make([]string, 0, len(written))
		for n := range written {
			names = append(names, n)
		}
		if err := o.OpenSearch.Refresh(ctx, names, o.Retry); err != nil {
			return sr, err
		}
	}
	return sr, nil
}

// storeBuckets counts the signal's stored rows per bucket.
func storeBuckets(ctx context.Context, o SyncbackOptions, s Signal) (map[time.Time]int64, error) {
	type row struct {
		B string `json:"b"`
		N int64  `json:"n"`
	}
	secs := strconv.FormatInt(int64(o.Bucket/time.Second), 10)
	rows, err := store.ScanAll[row](ctx, o.Store, "SELECT toString(toStartOfInterval(Timestamp, toIntervalSecond("+secs+"))) AS b, count() AS n FROM "+
		store.QuoteIdent(o.Database)+"."+table(s)+" WHERE Timestamp >= {start:DateTime64(9)} AND Timestamp < {end:DateTime64(9)} AND "+rowFilter(s)+" GROUP BY b",
		store.Params{"start": chTime(o.Since), "end": chTime(o.Until)})
	if err != nil {
		return nil, fmt.Errorf("syncback: count stored %s: %w", s, err)
	}
	out := make(map[time.Time]int64, len(rows))
	for _, r := range rows {
		t, err := time.ParseInLocation(time.DateTime, r.B, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("syncback: bucket %q: %w", r.B, err)
		}
		out[t] = r.N
	}
	return out, nil
}

// rangeQuery selects a signal's documents with time in [from, to).
func rangeQuery(s Signal, from, to time.Time) any {
	return map[string]any{"range": map[string]any{timeField(s): map[string]any{
		"gte": from.UTC().Format(time.RFC3339Nano), "lt": to.UTC().Format(time.RFC3339Nano), "format": "strict_date_optional_time_nanos"}}}
}

// openSearchBuckets counts the signal's documents per bucket.
func openSearchBuckets(ctx context.Context, o SyncbackOptions, s Signal) (map[time.Time]int64, error) {
	body := map[string]any{
		"size":  0,
		"query": rangeQuery(s, o.Since, o.Until),
		"aggs": map[string]any{"b": map[string]any{"date_histogram": map[string]any{
			"field": timeField(s), "fixed_interval": strconv.FormatInt(int64(o.Bucket/time.Second), 10) + "s", "min_doc_count": 1}}},
	}
	res, err := o.OpenSearch.Search(ctx, patterns(s), body, opensearch.SearchOptions{MaxAttempts: o.Retry.MaxAttempts})
	if err != nil {
		return nil, fmt.Errorf("syncback: count %s in OpenSearch: %w", s, err)
	}
	var aggs struct {
		B struct {
			Buckets []struct {
				Key   int64 `json:"key"`
				Count int64 `json:"doc_count"`
			} `json:"buckets"`
		} `json:"b"`
	}
	out := map[time.Time]int64{}
	if len(res.Aggregations) == 0 {
		return out, nil
	}
	if err := json.Unmarshal(res.Aggregations, &aggs); err != nil {
		return nil, fmt.Errorf("syncback: decode %s buckets: %w", s, err)
	}
	for _, b := range aggs.B.Buckets {
		out[time.UnixMilli(b.Key).UTC()] = b.Count
	}
	return out, nil
}

// canonicalID is the _id dual write gives the row a document maps to.
func canonicalID(s Signal, h *opensearch.PageHit) (string, bool) {
	switch s {
	case Traces:
		rec, err := opensearch.DecodeSpanDocument(h.Source)
		if err != nil {
			return "", false
		}
		return opensearch.SpanDocumentID(rec.TraceID, rec.SpanID), true
	case Events:
		rec, err := opensearch.DecodeEventDocument(h.Source)
		if err != nil {
			return "", false
		}
		src, err := opensearch.EncodeEventDocument(rec)
		if err != nil {
			return "", false
		}
		return opensearch.DocumentID(src), true
	}
	rec, err := opensearch.DecodeLogDocument(h.Source)
	if err != nil {
		return "", false
	}
	src, err := opensearch.EncodeLogDocument(rec)
	if err != nil {
		return "", false
	}
	return opensearch.DocumentID(src), true
}

// storedDocument is the document, index and _id dual write gives a row.
func storedDocument(s Signal, r Stored) (opensearch.BulkDoc, error) {
	switch s {
	case Traces:
		src, err := opensearch.EncodeSpanRecord(r.Span)
		return opensearch.BulkDoc{Index: opensearch.OtelTracesIndex(r.Span.Start), ID: opensearch.SpanDocumentID(r.Span.TraceID, r.Span.SpanID), Source: src}, err
	case Events:
		src, err := opensearch.EncodeEventDocument(r.Log)
		return opensearch.BulkDoc{Index: opensearch.K8sEventsIndex(r.Log.Timestamp), ID: opensearch.DocumentID(src), Source: src}, err
	}
	src, err := opensearch.EncodeLogDocument(r.Log)
	return opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(r.Log.Timestamp), ID: opensearch.DocumentID(src), Source: src}, err
}

// syncBucket compares one bucket and writes what OpenSearch lacks. It
// returns the number of stored rows compared.
func syncBucket(ctx context.Context, o SyncbackOptions, s Signal, indices []opensearch.IndexInfo, b time.Time, sr *SyncbackSignal, written map[string]bool) (int64, error) {
	end := b.Add(o.Bucket)
	present := map[string]bool{}
	for _, in := range indices {
		_, day, ok := familyOf(in.Name)
		// Spans and events are named by the day they were exported, which
		// can follow the day they happened.
		if !ok || day.Before(b.Truncate(24*time.Hour).AddDate(0, 0, -1)) || day.After(end.AddDate(0, 0, 1)) {
			continue
		}
		err := o.OpenSearch.ScanIndex(ctx, in, rangeQuery(s, b, end), 10000, o.Retry, func(p *opensearch.Page) error {
			for i := range p.Hits {
				h := &p.Hits[i]
				present[h.ID] = true
				if id, ok := canonicalID(s, h); ok {
					present[id] = true
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	var missing []opensearch.BulkDoc
	var n int64
	err := EachStored(ctx, o.Store, o.Database, s, b, end, func(r Stored) error {
		n++
		d, err := storedDocument(s, r)
		if err != nil {
			return err
		}
		if present[d.ID] {
			sr.Present++
			return nil
		}
		present[d.ID] = true // identical rows share a document, as in dual write
		missing = append(missing, d)
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("syncback: read stored %s of %s: %w", s, b.Format(time.RFC3339), err)
	}
	sr.Stored += n
	if len(missing) == 0 {
		return n, nil
	}
	t0 := time.Now()
	res, err := o.OpenSearch.BulkParallel(ctx, missing, o.Workers, opensearch.BulkOptions{})
	if o.Metrics != nil {
		o.Metrics.WriteSeconds.WithLabelValues("syncback").Observe(time.Since(t0).Seconds())
		o.Metrics.Documents.WithLabelValues("syncback", string(s), "written").Add(float64(res.Created))
		o.Metrics.Documents.WithLabelValues("syncback", string(s), "existing").Add(float64(res.Existing))
	}
	sr.Written += int64(res.Created)
	sr.Existing += int64(res.Existing)
	for _, d := range missing {
		written[d.Index] = true
	}
	if err != nil {
		return n, fmt.Errorf("syncback: write %d %s documents of %s: %w", len(missing), s, b.Format(time.RFC3339), err)
	}
	return n, nil
}

// WriteReport prints what the syncback did per signal.
func (r *SyncbackResult) WriteReport(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nsyncback in %s\n\nSIGNAL\tBUCKETS COMPARED\tOF\tSTORED ROWS\tALREADY IN OPENSEARCH\tWRITTEN\tFOUND BY _id\n", r.Elapsed.Truncate(time.Millisecond))
	for _, s := range r.Signals {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", s.Signal, s.Buckets, s.BucketsTotal, s.Stored, s.Present, s.Written, s.Existing)
	}
	_ = tw.Flush()
}
