package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file is the reading side of the migration toolkit: Point-in-Time
// searches, sliced and paged with search_after on _seq_no.
//
// Why _seq_no: a scan that is stopped (kill -9, an expired PIT) must resume
// where it stopped, in a new PIT, so its position must be a property of the
// document rather than of one PIT's segments (_doc is not; OpenSearch has
// no _shard_doc). _seq_no is the shard's sequence number of the operation
// that wrote the document: unique within a shard, never reused, sortable
// from doc values and indexed as points, so a search_after on it skips
// straight past what was read. Slices are taken on the same field, which
// keeps a document in the same slice in every PIT; with at least as many
// slices as shards every slice lies in one shard, where _seq_no is unique.

// ErrPITExpired is wrapped by the error of a search whose Point-in-Time is
// gone (expired or deleted): the caller opens a new one and repeats the
// search from the same position.
var ErrPITExpired = errors.New("opensearch: point in time expired")

// RetryOptions bound the retries of the scan requests that OpenSearch
// refuses for now (429, 502, 503, 504, a refused or broken connection):
// MaxAttempts tries (default 8) with exponential backoff from Backoff
// (default 250ms) up to MaxBackoff (default 10s), jittered.
type RetryOptions struct {
	MaxAttempts         int
	Backoff, MaxBackoff time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	return o
}

// retryStatus: OpenSearch overloaded (429) or a node on the way down or up.
func retryStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// send performs one request with retries. It returns the 2xx body; any
// other answer is an error naming the status and what OpenSearch said.
// An expired PIT is returned at once, wrapping ErrPITExpired.
func (c *Client) send(ctx context.Context, method, path string, body []byte, o RetryOptions) ([]byte, error) {
	o = o.withDefaults()
	backoff := o.Backoff
	for attempt := 1; ; attempt++ {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, path, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		status, data, err := c.perform(req)
		retryable := false
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s %s at %s: %w", method, redactPIT(path), c.URL, ctx.Err())
			}
			retryable = true
			err = fmt.Errorf("%s %s at %s: %w", method, redactPIT(path), c.URL, err)
		case status/100 == 2:
			return data, nil
		case pitMissing(status, data):
			return nil, fmt.Errorf("%w: %s", ErrPITExpired, truncate(data, 300))
		default:
			retryable = retryStatus(status)
			err = fmt.Errorf("%s %s at %s: status %d: %s", method, redactPIT(path), c.URL, status, truncate(data, 500))
		}
		if !retryable || attempt >= o.MaxAttempts {
			if retryable {
				return nil, fmt.Errorf("%w (gave up after %d tries)", err, attempt)
			}
			return nil, err
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w (while retrying: %v)", ctx.Err(), err)
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

func (c *Client) perform(req *http.Request) (int, []byte, error) {
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 1<<30)); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, buf.Bytes(), nil
}

func pitMissing(status int, data []byte) bool {
	return status == http.StatusNotFound && bytes.Contains(data, []byte("search_context_missing_exception"))
}

// redactPIT keeps PIT ids (long opaque strings) out of error messages.
func redactPIT(path string) string {
	if i := strings.Index(path, "?"); i >= 0 {
		return path[:i]
	}
	return path
}

// shardStats is the _shards part of an answer.
type shardStats struct {
	Total, Failed int
	Failures      []json.RawMessage `json:"failures"`
}

// err is the ErrPartial error of an answer some shards failed, naming what.
func (s shardStats) err(what string) error {
	if s.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %d of %d shards failed: %s", ErrPartial, what, s.Failed, s.Total, firstFailure(s.Failures))
}

// indexPath is the URL path naming indices: "/a,b".
func indexPath(indices []string) string {
	names := make([]string, len(indices))
	for i, n := range indices {
		names[i] = url.PathEscape(n)
	}
	return "/" + strings.Join(names, ",")
}

// IndexInfo is one index as _cat/indices lists it.
type IndexInfo struct {
	Name   string
	Docs   int64
	Shards int
}

// ListIndices returns the open indices matching the comma-separated
// patterns (wildcards allowed), sorted by name. A pattern matching nothing
// is not an error here; the caller decides.
func (c *Client) ListIndices(ctx context.Context, patterns string, o RetryOptions) ([]IndexInfo, error) {
	path := "/_cat/indices/" + url.PathEscape(patterns) + "?format=json&h=index,docs.count,pri,status&expand_wildcards=open&s=index"
	data, err := c.send(ctx, http.MethodGet, path, nil, o)
	if err != nil {
		if strings.Contains(err.Error(), "index_not_found_exception") {
			return nil, nil
		}
		return nil, fmt.Errorf("opensearch: list indices %q: %w", patterns, err)
	}
	var rows []struct {
		Index  string `json:"index"`
		Docs   string `json:"docs.count"`
		Pri    string `json:"pri"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(data, &rows); err != nil {
		return nil, fmt.Errorf("opensearch: list indices %q: decode: %w", patterns, err)
	}
	out := make([]IndexInfo, 0, len(rows))
	for _, r := range rows {
		docs, _ := strconv.ParseInt(r.Docs, 10, 64)
		pri, _ := strconv.Atoi(r.Pri)
		out = append(out, IndexInfo{Name: r.Index, Docs: docs, Shards: max(pri, 1)})
	}
	return out, nil
}

// Count is _count over indices (missing ones ignored) for query (nil: all
// documents). Shard failures are errors: a partial count would look like
// missing data.
func (c *Client) Count(ctx context.Context, indices []string, query any, o RetryOptions) (int64, error) {
	var body []byte
	if query != nil {
		b, err := json.Marshal(map[string]any{"query": query})
		if err != nil {
			return 0, fmt.Errorf("opensearch count: encode: %w", err)
		}
		body = b
	}
	method := http.MethodGet
	if body != nil {
		method = http.MethodPost
	}
	data, err := c.send(ctx, method, indexPath(indices)+"/_count?ignore_unavailable=true&allow_no_indices=true", body, o)
	if err != nil {
		return 0, fmt.Errorf("opensearch count: %w", err)
	}
	var res struct {
		Count  int64      `json:"count"`
		Shards shardStats `json:"_shards"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return 0, fmt.Errorf("opensearch count: decode: %w", err)
	}
	if err := res.Shards.err("count"); err != nil {
		return 0, err
	}
	return res.Count, nil
}

// Refresh makes everything written to indices searchable.
func (c *Client) Refresh(ctx context.Context, indices []string, o RetryOptions) error {
	_, err := c.send(ctx, http.MethodPost, indexPath(indices)+"/_refresh?ignore_unavailable=true&allow_no_indices=true", nil, o)
	return err
}

// PIT is a Point-in-Time over a fixed list of indices that can be reopened
// when it expires. It is safe for concurrent use by the slices scanning it.
type PIT struct {
	c         *Client
	indices   []string
	keepAlive time.Duration
	retry     RetryOptions

	mu       sync.Mutex
	id       string
	reopened int
}

// OpenPIT creates a Point-in-Time over indices with
// allow_partial_pit_creation=false: a PIT missing a shard would read as an
// index with fewer documents, so it is an error instead.
func (c *Client) OpenPIT(ctx context.Context, indices []string, keepAlive time.Duration, o RetryOptions) (*PIT, error) {
	p := &PIT{c: c, indices: indices, keepAlive: keepAlive, retry: o}
	id, err := p.create(ctx)
	if err != nil {
		return nil, err
	}
	p.id = id
	return p, nil
}

func keepAliveParam(d time.Duration) string {
	if d < time.Second {
		d = time.Second
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func (p *PIT) create(ctx context.Context) (string, error) {
	path := indexPath(p.indices) + "/_search/point_in_time?keep_alive=" + keepAliveParam(p.keepAlive) + "&allow_partial_pit_creation=false"
	data, err := p.c.send(ctx, http.MethodPost, path, nil, p.retry)
	if err != nil {
		return "", fmt.Errorf("opensearch: create point in time on %s: %w", strings.Join(p.indices, ","), err)
	}
	var res struct {
		ID     string     `json:"pit_id"`
		Shards shardStats `json:"_shards"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return "", fmt.Errorf("opensearch: create point in time: decode: %w", err)
	}
	if err := res.Shards.err("point in time on " + strings.Join(p.indices, ",")); err != nil {
		return "", err
	}
	if res.ID == "" {
		return "", fmt.Errorf("opensearch: create point in time on %s: no pit_id in the answer", strings.Join(p.indices, ","))
	}
	return res.ID, nil
}

// ID is the PIT's current id.
func (p *PIT) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// Reopened counts how often the PIT was recreated after expiring.
func (p *PIT) Reopened() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reopened
}

// reopen replaces the PIT whose id was stale, once however many slices
// found it expired at the same time.
func (p *PIT) reopen(ctx context.Context, stale string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.id != stale {
		return nil
	}
	id, err := p.create(ctx)
	if err != nil {
		return err
	}
	p.id = id
	p.reopened++
	return nil
}

// Close deletes the PIT (best effort: an expired one is already gone).
func (p *PIT) Close(ctx context.Context) error {
	body, _ := json.Marshal(map[string][]string{"pit_id": {p.ID()}})
	_, err := p.c.send(ctx, http.MethodDelete, "/_search/point_in_time", body, RetryOptions{MaxAttempts: 2})
	if err != nil && !errors.Is(err, ErrPITExpired) && !strings.Contains(err.Error(), "status 404") {
		return fmt.Errorf("opensearch: delete point in time: %w", err)
	}
	return nil
}

// PageHit is one document of a scan page.
type PageHit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	Sort   []int64         `json:"sort"`
}

// SeqNo is the hit's _seq_no, its position in the scan.
func (h *PageHit) SeqNo() int64 {
	if len(h.Sort) == 0 {
		return -1
	}
	return h.Sort[0]
}

// Page is one page of a slice scan. Bytes is the size of the answer.
type Page struct {
	Hits  []PageHit
	Bytes int
}

// SliceQuery names one slice of a scan: Slice of Slices (Slices <= 1 means
// the whole PIT), pages of Size documents after the document with _seq_no
// After (-1: from the start), optionally filtered by Query.
type SliceQuery struct {
	Slice, Slices int
	Size          int
	After         int64
	Query         any
}

// Page reads the next page of a slice. An expired PIT is reopened and the
// same page read again from the same position, so the caller only sees
// ErrPITExpired when reopening fails. Partial results (a shard failed, the
// search timed out) are errors wrapping ErrPartial: a page with documents
// missing would be taken for the end of the data.
func (p *PIT) Page(ctx context.Context, q SliceQuery) (*Page, error) {
	for tries := 0; ; tries++ {
		id := p.ID()
		page, err := p.page(ctx, id, q)
		if err == nil || !errors.Is(err, ErrPITExpired) || tries >= 3 {
			return page, err
		}
		if rerr := p.reopen(ctx, id); rerr != nil {
			return nil, fmt.Errorf("%w; reopening it failed: %v", err, rerr)
		}
	}
}

func (p *PIT) page(ctx context.Context, id string, q SliceQuery) (*Page, error) {
	body := map[string]any{
		"pit":              map[string]any{"id": id, "keep_alive": keepAliveParam(p.keepAlive)},
		"size":             q.Size,
		"sort":             []any{map[string]any{"_seq_no": "asc"}},
		"track_total_hits": false,
	}
	if q.Slices > 1 {
		body["slice"] = map[string]any{"field": "_seq_no", "id": q.Slice, "max": q.Slices}
	}
	if q.After >= 0 {
		body["search_after"] = []int64{q.After}
	}
	if q.Query != nil {
		body["query"] = q.Query
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("opensearch scan: encode: %w", err)
	}
	data, err := p.c.send(ctx, http.MethodPost, "/_search", payload, p.retry)
	if err != nil {
		return nil, fmt.Errorf("opensearch scan of %s slice %d/%d after %d: %w", strings.Join(p.indices, ","), q.Slice, q.Slices, q.After, err)
	}
	var res struct {
		TimedOut bool       `json:"timed_out"`
		Shards   shardStats `json:"_shards"`
		Hits     struct {
			Hits []PageHit `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("opensearch scan: decode: %w", err)
	}
	if res.Shards.Failed > 0 {
		f := firstFailure(res.Shards.Failures)
		if strings.Contains(f, "search_context_missing_exception") {
			return nil, fmt.Errorf("%w: %d of %d shards lost their context: %s", ErrPITExpired, res.Shards.Failed, res.Shards.Total, f)
		}
		return nil, fmt.Errorf("%w: scan of %s: %d of %d shards failed: %s", ErrPartial, strings.Join(p.indices, ","), res.Shards.Failed, res.Shards.Total, f)
	}
	if res.TimedOut {
		return nil, fmt.Errorf("%w: scan of %s timed out", ErrPartial, strings.Join(p.indices, ","))
	}
	for i := range res.Hits.Hits {
		if len(res.Hits.Hits[i].Sort) != 1 {
			return nil, fmt.Errorf("opensearch scan: hit %s has sort values %v, want its _seq_no", res.Hits.Hits[i].ID, res.Hits.Hits[i].Sort)
		}
	}
	return &Page{Hits: res.Hits.Hits, Bytes: len(data)}, nil
}

// ScanIndex reads every document of one index matching query (nil: all) in
// a Point-in-Time, one slice per shard so _seq_no is unique within each,
// and hands each page to fn.
func (c *Client) ScanIndex(ctx context.Context, index IndexInfo, query any, pageSize int, o RetryOptions, fn func(*Page) error) error {
	pit, err := c.OpenPIT(ctx, []string{index.Name}, time.Minute, o)
	if err != nil {
		return err
	}
	defer func() { _ = pit.Close(context.Background()) }()
	slices := max(index.Shards, 1)
	for s := 0; s < slices; s++ {
		after := int64(-1)
		for {
			p, err := pit.Page(ctx, SliceQuery{Slice: s, Slices: slices, Size: pageSize, After: after, Query: query})
			if err != nil {
				return err
			}
			if err := fn(p); err != nil {
				return err
			}
			if len(p.Hits) < pageSize {
				break
			}
			after = p.Hits[len(p.Hits)-1].SeqNo()
		}
	}
	return nil
}
