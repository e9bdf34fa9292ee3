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
	"time"
)

// ReadTimeout is the client time-out of the read backends (Options.Timeout
// for the client they use): a read whose primary is OpenSearch fails within
// it with a clear error rather than hold the caller while a node hangs.
const ReadTimeout = 15 * time.Second

// SearchResult is the part of a _search response the read backends use.
type SearchResult struct {
	Took     int  `json:"took"`
	TimedOut bool `json:"timed_out"`
	Shards   struct {
		Total, Successful, Skipped, Failed int
		Failures                           []json.RawMessage `json:"failures"`
	} `json:"_shards"`
	Hits struct {
		Total struct {
			Value    int    `json:"value"`
			Relation string `json:"relation"`
		} `json:"total"`
		Hits []Hit `json:"hits"`
	} `json:"hits"`
	Aggregations json.RawMessage `json:"aggregations"`
}

// Hit is one search hit.
type Hit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
}

// ErrPartial is wrapped by the error of a search that some shards failed or
// that timed out: a partial answer would look like missing data, so the read
// backends treat it as a failure rather than answer with it.
var ErrPartial = errors.New("opensearch: partial search result")

// SearchOptions bound the retries of a search OpenSearch rejects with 429 or
// 503: MaxAttempts tries (default 4) with exponential backoff from Backoff
// (default 100ms), jittered.
type SearchOptions struct {
	MaxAttempts int
	Backoff     time.Duration
}

// Search posts body to indices (missing indices are ignored, as a time range
// may name days nobody wrote), retrying 429 and 503 with backoff. Partial
// results (shard failures, time-outs) are errors wrapping ErrPartial.
func (c *Client) Search(ctx context.Context, indices []string, body any, o SearchOptions) (*SearchResult, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("opensearch search: encode: %w", err)
	}
	path := indexPath(indices) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	attempts, backoff := o.MaxAttempts, o.Backoff
	if attempts <= 0 {
		attempts = 4
	}
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		status, data, err := c.post(ctx, path, payload)
		retryable := err == nil && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable)
		if err == nil && status/100 == 2 {
			var res SearchResult
			if err := json.Unmarshal(data, &res); err != nil {
				return nil, fmt.Errorf("opensearch search: decode response: %w", err)
			}
			if res.Shards.Failed > 0 {
				return nil, fmt.Errorf("%w: %d of %d shards failed: %s", ErrPartial, res.Shards.Failed, res.Shards.Total, firstFailure(res.Shards.Failures))
			}
			if res.TimedOut {
				return nil, fmt.Errorf("%w: the search timed out", ErrPartial)
			}
			return &res, nil
		}
		if err == nil {
			err = fmt.Errorf("opensearch search at %s: status %d: %s", c.URL, status, truncate(data, 500))
		}
		if !retryable || attempt >= attempts {
			return nil, err
		}
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("opensearch search: %w (after: %v)", ctx.Err(), err)
		case <-t.C:
		}
		backoff *= 2
	}
}

func (c *Client) post(ctx context.Context, path string, payload []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return 0, nil, fmt.Errorf("opensearch search at %s: %w", c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("opensearch search at %s: read response: %w", c.URL, err)
	}
	return resp.StatusCode, data, nil
}

func firstFailure(f []json.RawMessage) string {
	if len(f) == 0 {
		return "no reason given"
	}
	return truncate(f[0], 500)
}
