package opensearch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BulkDoc is one document for Bulk.
type BulkDoc struct {
	Index string
	// ID is the document's _id; empty means DocumentID(Source).
	ID string
	// Source is the document, one JSON object.
	Source []byte
}

// DocumentID is the _id for a document: a hash of its bytes, like Fluent
// Bit's Generate_ID. A re-sent document therefore lands on the same _id
// and is not stored twice. Two lines identical in every field (time to the
// nanosecond included) share an id, as they do with Fluent Bit.
func DocumentID(source []byte) string {
	sum := sha256.Sum256(source)
	// 128 bits: no realistic index sees a collision (64 bits would, near
	// billions of documents, silently drop lines).
	return hex.EncodeToString(sum[:16])
}

// BulkOptions tune Bulk. The zero value is the defaults.
type BulkOptions struct {
	// MaxAttempts bounds the tries of one document (first included);
	// default 6. Only retryable failures (429, 5xx, transport errors) are
	// tried again.
	MaxAttempts int
	// InitialBackoff and MaxBackoff shape the exponential backoff between
	// tries (defaults 100ms and 5s), with up to 50% jitter.
	InitialBackoff, MaxBackoff time.Duration
	// MaxBytes bounds one _bulk request body; default 8 MiB.
	MaxBytes int
	// Refresh is the _bulk refresh parameter ("", "true", "wait_for").
	Refresh string
	// sleep waits between tries (tests replace it).
	sleep func(context.Context, time.Duration) error
}

func (o BulkOptions) withDefaults() BulkOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 20
	}
	if o.sleep == nil {
		o.sleep = sleepCtx
	}
	return o
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// BulkResult counts what Bulk did.
type BulkResult struct {
	// Created documents are new; Existing ones were already there with the
	// same _id (a replay), which is success too.
	Created, Existing int
	// Attempts is the number of _bulk requests sent.
	Attempts int
}

// ItemError is one document OpenSearch did not store.
type ItemError struct {
	// Position is the document's index in the Bulk input.
	Position  int
	Index, ID string
	// Status is the item's HTTP status (0: the request failed as a whole).
	Status       int
	Type, Reason string
	// Retryable failures (429, 5xx, transport) may succeed later with the
	// same document; the others (mapping errors, bad JSON) never will.
	Retryable bool
}

func (e ItemError) String() string {
	return fmt.Sprintf("doc %d (%s/%s): status %d %s: %s", e.Position, e.Index, e.ID, e.Status, e.Type, e.Reason)
}

// BulkError reports the documents a Bulk call could not store, after
// retrying what could be retried. Every document of the input is either
// counted in the BulkResult or listed here.
type BulkError struct {
	Failed []ItemError
}

func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "opensearch: bulk: %d document(s) not stored", len(e.Failed))
	for i, f := range e.Failed {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failed)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(f.String())
	}
	return b.String()
}

// Retryable reports whether any failed document may still be stored by a
// later try.
func (e *BulkError) Retryable() bool {
	for _, f := range e.Failed {
		if f.Retryable {
			return true
		}
	}
	return false
}

// Permanent returns the failures no retry can fix.
func (e *BulkError) Permanent() []ItemError {
	var out []ItemError
	for _, f := range e.Failed {
		if !f.Retryable {
			out = append(out, f)
		}
	}
	return out
}

// BulkIndex stores docs in index through _bulk; see Bulk.
func (c *Client) BulkIndex(ctx context.Context, index string, docs [][]byte, opts ...BulkOptions) (BulkResult, error) {
	bd := make([]BulkDoc, len(docs))
	for i, d := range docs {
		bd[i] = BulkDoc{Index: index, Source: d}
	}
	var o BulkOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	return c.Bulk(ctx, bd, o)
}

// Bulk stores docs with _bulk "create" operations under content-derived
// ids: a document that is already there (409, a replay after a lost answer)
// counts as stored, so retries never duplicate. Items rejected with 429 or
// 5xx, and whole requests that fail that way or in transport, are retried
// with exponential backoff up to MaxAttempts. Whatever is still not stored
// is returned in a *BulkError, item by item; a document is never dropped
// without being listed there.
func (c *Client) Bulk(ctx context.Context, docs []BulkDoc, opts BulkOptions) (BulkResult, error) {
	o := opts.withDefaults()
	var res BulkResult
	var failed []ItemError
	type pending struct {
		pos  int
		doc  BulkDoc
		line []byte // action + source, newline-terminated
	}
	var todo []pending
	for i, d := range docs {
		if d.Index == "" {
			failed = append(failed, ItemError{Position: i, ID: d.ID, Type: "invalid_request", Reason: "no index name"})
			continue
		}
		src, err := oneLineJSON(d.Source)
		if err != nil {
			failed = append(failed, ItemError{Position: i, Index: d.Index, ID: d.ID, Type: "invalid_document", Reason: err.Error()})
			continue
		}
		if d.ID == "" {
			d.ID = DocumentID(src)
		}
		action, _ := json.Marshal(map[string]map[string]string{"create": {"_index": d.Index, "_id": d.ID}})
		line := make([]byte, 0, len(action)+len(src)+2)
		line = append(append(append(append(line, action...), '\n'), src...), '\n')
		todo = append(todo, pending{pos: i, doc: d, line: line})
	}

	backoff := o.InitialBackoff
	for attempt := 1; len(todo) > 0; attempt++ {
		var retry []pending
		var lastRetry []ItemError
		for start := 0; start < len(todo); {
			// One request holds as many documents as fit in MaxBytes (at
			// least one, however big: OpenSearch judges that one).
			end, size := start, 0
			for end < len(todo) && (end == start || size+len(todo[end].line) <= o.MaxBytes) {
				size += len(todo[end].line)
				end++
			}
			chunk := todo[start:end]
			start = end
			var body bytes.Buffer
			body.Grow(size)
			for _, p := range chunk {
				body.Write(p.line)
			}
			res.Attempts++
			items, status, err := c.sendBulk(ctx, body.Bytes(), o.Refresh)
			if err != nil || len(items) != len(chunk) {
				// The request as a whole failed: every document in it shares
				// the outcome.
				retryable, typ, reason := true, "transport", ""
				switch {
				case err != nil && status == 0:
					reason = err.Error()
				case err != nil:
					retryable, typ, reason = retryableStatus(status), "http_"+strconv.Itoa(status), err.Error()
				default:
					typ, reason = "bad_response", fmt.Sprintf("%d items answered for %d documents", len(items), len(chunk))
				}
				for _, p := range chunk {
					ie := ItemError{Position: p.pos, Index: p.doc.Index, ID: p.doc.ID, Status: status, Type: typ, Reason: reason, Retryable: retryable}
					if retryable {
						retry = append(retry, p)
						lastRetry = append(lastRetry, ie)
					} else {
						failed = append(failed, ie)
					}
				}
				continue
			}
			for i, it := range items {
				p := chunk[i]
				switch {
				case it.Status >= 200 && it.Status < 300:
					res.Created++
				case it.Status == http.StatusConflict:
					res.Existing++
				default:
					ie := ItemError{Position: p.pos, Index: p.doc.Index, ID: p.doc.ID, Status: it.Status, Retryable: retryableStatus(it.Status)}
					if it.Error != nil {
						ie.Type, ie.Reason = it.Error.Type, it.Error.Reason
					}
					if ie.Retryable {
						retry = append(retry, p)
						lastRetry = append(lastRetry, ie)
					} else {
						failed = append(failed, ie)
					}
				}
			}
		}
		if len(retry) == 0 {
			break
		}
		if attempt >= o.MaxAttempts || ctx.Err() != nil {
			failed = append(failed, lastRetry...)
			break
		}
		// Jitter spreads the retries of many writers hit by the same 429.
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		if err := o.sleep(ctx, wait); err != nil {
			failed = append(failed, lastRetry...)
			break
		}
		backoff = min(backoff*2, o.MaxBackoff)
		todo = retry
	}
	if len(failed) > 0 {
		return res, &BulkError{Failed: failed}
	}
	return res, nil
}

// retryableStatus: 429 (rejected execution, circuit breakers) and 5xx
// (unavailable shards, a node restarting) pass; everything else is the
// document's or the request's own fault.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// oneLineJSON checks that src is one JSON object and returns it without
// newlines (NDJSON needs one line per document).
func oneLineJSON(src []byte) ([]byte, error) {
	src = bytes.TrimSpace(src)
	if len(src) == 0 || src[0] != '{' {
		return nil, errors.New("document is not a JSON object")
	}
	if !json.Valid(src) {
		return nil, errors.New("document is not valid JSON")
	}
	if bytes.ContainsAny(src, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, src); err != nil {
			return nil, fmt.Errorf("compact document: %w", err)
		}
		return b.Bytes(), nil
	}
	return src, nil
}

type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// sendBulk posts one NDJSON body. status is the HTTP status (0 when no
// answer came); a non-2xx status is an error.
func (c *Client) sendBulk(ctx context.Context, body []byte, refresh string) ([]bulkItem, int, error) {
	path := "/_bulk"
	if refresh != "" {
		path += "?refresh=" + refresh
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return nil, 0, fmt.Errorf("POST /_bulk at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read _bulk response from %s: %w", c.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, resp.StatusCode, fmt.Errorf("POST /_bulk at %s: status %d: %s", c.URL, resp.StatusCode, truncate(data, 500))
	}
	var out struct {
		Errors bool                  `json:"errors"`
		Items  []map[string]bulkItem `json:"items"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("decode _bulk response from %s: %w", c.URL, err)
	}
	items := make([]bulkItem, len(out.Items))
	for i, m := range out.Items {
		// Each item has exactly one key, the operation ("create").
		for _, it := range m {
			items[i] = it
		}
	}
	return items, resp.StatusCode, nil
}

// BulkParallel is Bulk with workers requests in flight: docs are cut into
// chunks of a few thousand that the workers take in turn (OpenSearch's
// write pool has one thread per core, so one request at a time leaves it
// idle). The results add up; the first error is returned.
func (c *Client) BulkParallel(ctx context.Context, docs []BulkDoc, workers int, o BulkOptions) (BulkResult, error) {
	const chunk = 5000
	if workers < 1 {
		workers = 1
	}
	next := make(chan []BulkDoc)
	var mu sync.Mutex
	var total BulkResult
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range next {
				res, err := c.Bulk(ctx, part, o)
				mu.Lock()
				total.Created += res.Created
				total.Existing += res.Existing
				total.Attempts += res.Attempts
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < len(docs); i += chunk {
		next <- docs[i:min(i+chunk, len(docs))]
	}
	close(next)
	wg.Wait()
	return total, firstErr
}
