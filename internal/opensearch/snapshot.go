package opensearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Snapshots and the exact-name index calls the migration's cleanup needs:
// archive indices into a registered repository, check the archive, restore
// a sample under another name, and delete indices one exact name at a time.

// ErrRepositoryMissing is wrapped by the error of a call naming a snapshot
// repository the cluster has not registered.
var ErrRepositoryMissing = errors.New("opensearch: snapshot repository not registered")

// ErrIndexMissing is wrapped by the error of a call naming an index that
// does not exist.
var ErrIndexMissing = errors.New("opensearch: no such index")

// Repository is one registered snapshot repository.
type Repository struct {
	Name     string
	Type     string            // fs, s3, ...
	Settings map[string]string // location (fs), bucket and base_path (s3), ...
}

// SnapshotRepository returns the registered repository name, or an error
// wrapping ErrRepositoryMissing.
func (c *Client) SnapshotRepository(ctx context.Context, name string, o RetryOptions) (Repository, error) {
	if err := plainName("snapshot repository", name); err != nil {
		return Repository{}, err
	}
	data, err := c.send(ctx, http.MethodGet, "/_snapshot/"+url.PathEscape(name), nil, o)
	if err != nil {
		if strings.Contains(err.Error(), "repository_missing_exception") {
			return Repository{}, fmt.Errorf("%w: %q", ErrRepositoryMissing, name)
		}
		return Repository{}, fmt.Errorf("opensearch: get snapshot repository %q: %w", name, err)
	}
	var res map[string]struct {
		Type     string         `json:"type"`
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return Repository{}, fmt.Errorf("opensearch: get snapshot repository %q: decode: %w", name, err)
	}
	r, ok := res[name]
	if !ok {
		return Repository{}, fmt.Errorf("%w: %q", ErrRepositoryMissing, name)
	}
	out := Repository{Name: name, Type: r.Type, Settings: map[string]string{}}
	for k, v := range r.Settings {
		out.Settings[k] = fmt.Sprint(v)
	}
	return out, nil
}

// RegisterRepository registers (or re-registers) a snapshot repository.
// The cleanup never calls it: an operator registers the archive's
// repository; tests and the rehearsal do it here.
func (c *Client) RegisterRepository(ctx context.Context, name, typ string, settings map[string]any) error {
	if err := plainName("snapshot repository", name); err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{"type": typ, "settings": settings})
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPut, "/_snapshot/"+url.PathEscape(name), strings.NewReader(string(body)), nil); err != nil {
		return fmt.Errorf("opensearch: register snapshot repository %q: %w", name, err)
	}
	return nil
}

// SnapshotRequest is what CreateSnapshot archives.
type SnapshotRequest struct {
	Repository, Name string
	// Indices are exact index names (no patterns: the caller resolved them,
	// so the archive holds exactly what it was told).
	Indices []string
	// Partial lets OpenSearch finish a snapshot some shards of which failed,
	// as PARTIAL, rather than refusing at the start: the caller then sees
	// which shards failed in the snapshot's own record.
	Partial bool
}

// CreateSnapshot starts a snapshot without waiting for it; follow it with
// SnapshotProgress and Snapshot.
func (c *Client) CreateSnapshot(ctx context.Context, r SnapshotRequest) error {
	if err := plainName("snapshot repository", r.Repository); err != nil {
		return err
	}
	if err := plainName("snapshot", r.Name); err != nil {
		return err
	}
	if len(r.Indices) == 0 {
		return errors.New("opensearch: a snapshot of no index")
	}
	for _, ix := range r.Indices {
		if err := ExactIndexName(ix); err != nil {
			return err
		}
	}
	body, err := json.Marshal(map[string]any{
		"indices":              strings.Join(r.Indices, ","),
		"ignore_unavailable":   false,
		"include_global_state": false,
		"partial":              r.Partial,
	})
	if err != nil {
		return err
	}
	path := "/_snapshot/" + url.PathEscape(r.Repository) + "/" + url.PathEscape(r.Name) + "?wait_for_completion=false"
	if err := c.do(ctx, http.MethodPut, path, strings.NewReader(string(body)), nil); err != nil {
		if strings.Contains(err.Error(), "repository_missing_exception") {
			return fmt.Errorf("%w: %q", ErrRepositoryMissing, r.Repository)
		}
		return fmt.Errorf("opensearch: create snapshot %s/%s: %w", r.Repository, r.Name, err)
	}
	return nil
}

// Snapshot states as OpenSearch reports them.
const (
	SnapshotInProgress = "IN_PROGRESS"
	SnapshotSuccess    = "SUCCESS"
	SnapshotPartial    = "PARTIAL"
	SnapshotFailed     = "FAILED"
)

// SnapshotInfo is a snapshot's record in its repository.
type SnapshotInfo struct {
	Name     string   `json:"snapshot"`
	State    string   `json:"state"`
	Indices  []string `json:"indices"`
	Reason   string   `json:"reason"`
	Failures []struct {
		Index   string `json:"index"`
		ShardID int    `json:"shard_id"`
		Reason  string `json:"reason"`
		Status  string `json:"status"`
	} `json:"failures"`
	Shards struct {
		Total      int `json:"total"`
		Failed     int `json:"failed"`
		Successful int `json:"successful"`
	} `json:"shards"`
}

// FirstFailure is the first shard failure, for messages.
func (s SnapshotInfo) FirstFailure() string {
	if len(s.Failures) == 0 {
		return s.Reason
	}
	f := s.Failures[0]
	return fmt.Sprintf("%s shard %d: %s", f.Index, f.ShardID, f.Reason)
}

// Snapshot returns the record of snapshot name in repository repo.
func (c *Client) Snapshot(ctx context.Context, repo, name string, o RetryOptions) (SnapshotInfo, error) {
	data, err := c.send(ctx, http.MethodGet, "/_snapshot/"+url.PathEscape(repo)+"/"+url.PathEscape(name), nil, o)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("opensearch: get snapshot %s/%s: %w", repo, name, err)
	}
	var res struct {
		Snapshots []SnapshotInfo `json:"snapshots"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return SnapshotInfo{}, fmt.Errorf("opensearch: get snapshot %s/%s: decode: %w", repo, name, err)
	}
	if len(res.Snapshots) != 1 {
		return SnapshotInfo{}, fmt.Errorf("opensearch: get snapshot %s/%s: %d records", repo, name, len(res.Snapshots))
	}
	return res.Snapshots[0], nil
}

// SnapshotShards is how far a running snapshot is, in shards.
type SnapshotShards struct {
	State       string // STARTED, SUCCESS, ...
	Done, Total int
	Failed      int
}

// SnapshotProgress returns the shard counts of snapshot name (_status).
func (c *Client) SnapshotProgress(ctx context.Context, repo, name string, o RetryOptions) (SnapshotShards, error) {
	data, err := c.send(ctx, http.MethodGet, "/_snapshot/"+url.PathEscape(repo)+"/"+url.PathEscape(name)+"/_status", nil, o)
	if err != nil {
		return SnapshotShards{}, fmt.Errorf("opensearch: snapshot status %s/%s: %w", repo, name, err)
	}
	var res struct {
		Snapshots []struct {
			State string `json:"state"`
			Stats struct {
				Done   int `json:"done"`
				Total  int `json:"total"`
				Failed int `json:"failed"`
			} `json:"shards_stats"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return SnapshotShards{}, fmt.Errorf("opensearch: snapshot status %s/%s: decode: %w", repo, name, err)
	}
	if len(res.Snapshots) != 1 {
		return SnapshotShards{}, fmt.Errorf("opensearch: snapshot status %s/%s: %d records", repo, name, len(res.Snapshots))
	}
	s := res.Snapshots[0]
	return SnapshotShards{State: s.State, Done: s.Stats.Done, Total: s.Stats.Total, Failed: s.Stats.Failed}, nil
}

// RestoreRequest restores one index of a snapshot under another name.
type RestoreRequest struct {
	Repository, Snapshot string
	Index, As            string
	// Settings override the restored index's settings (e.g.
	// index.number_of_replicas 0, so a check copy never waits for replicas).
	Settings map[string]any
}

// RestoreAs starts restoring r.Index as r.As (rename_pattern anchored to the
// whole name) without waiting; follow it with IndexGreen.
func (c *Client) RestoreAs(ctx context.Context, r RestoreRequest) error {
	if err := ExactIndexName(r.Index); err != nil {
		return err
	}
	if err := ExactIndexName(r.As); err != nil {
		return err
	}
	body := map[string]any{
		"indices":              r.Index,
		"ignore_unavailable":   false,
		"include_global_state": false,
		"include_aliases":      false,
		"rename_pattern":       "^" + javaQuote(r.Index) + "$",
		"rename_replacement":   r.As,
	}
	if len(r.Settings) > 0 {
		body["index_settings"] = r.Settings
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	path := "/_snapshot/" + url.PathEscape(r.Repository) + "/" + url.PathEscape(r.Snapshot) + "/_restore?wait_for_completion=false"
	if err := c.do(ctx, http.MethodPost, path, strings.NewReader(string(b)), nil); err != nil {
		return fmt.Errorf("opensearch: restore %s from %s/%s as %s: %w", r.Index, r.Repository, r.Snapshot, r.As, err)
	}
	return nil
}

// IndexGreen reports whether index exists and every one of its shards is
// active (a restore is complete once its index is green). It asks with a
// wait of at most waitSeconds, so a poll loop does not spin.
func (c *Client) IndexGreen(ctx context.Context, index string, waitSeconds int, o RetryOptions) (status string, green bool, err error) {
	if err := ExactIndexName(index); err != nil {
		return "", false, err
	}
	path := fmt.Sprintf("/_cluster/health/%s?wait_for_status=green&timeout=%ds", url.PathEscape(index), max(waitSeconds, 0))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, path, nil)
	if err != nil {
		return "", false, err
	}
	// A timed-out wait answers 408 with the health in the body.
	st, data, err := c.perform(req)
	if err != nil {
		return "", false, fmt.Errorf("opensearch: health of %s: %w", index, err)
	}
	if st != http.StatusOK && st != http.StatusRequestTimeout {
		return "", false, fmt.Errorf("opensearch: health of %s: status %d: %s", index, st, truncate(data, 500))
	}
	var h struct {
		Status   string `json:"status"`
		TimedOut bool   `json:"timed_out"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return "", false, fmt.Errorf("opensearch: health of %s: decode: %w", index, err)
	}
	return h.Status, h.Status == "green" && !h.TimedOut, nil
}

// IndexExists reports whether the index named exactly index exists (open or
// closed).
func (c *Client) IndexExists(ctx context.Context, index string) (bool, error) {
	if err := ExactIndexName(index); err != nil {
		return false, err
	}
	// No expand_wildcards=none here: on HEAD OpenSearch 2.19 answers 200
	// with it for any name. The name check keeps the name exact.
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "/"+url.PathEscape(index), nil)
	if err != nil {
		return false, err
	}
	st, data, err := c.perform(req)
	if err != nil {
		return false, fmt.Errorf("opensearch: does %s exist: %w", index, err)
	}
	switch st {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("opensearch: does %s exist: status %d: %s", index, st, truncate(data, 300))
}

// DeleteIndex deletes the one index named exactly index: no pattern, no
// list, no alias (expand_wildcards=none and a name check), so a typo cannot
// widen it. A missing index is an error wrapping ErrIndexMissing.
func (c *Client) DeleteIndex(ctx context.Context, index string) error {
	if err := ExactIndexName(index); err != nil {
		return err
	}
	err := c.do(ctx, http.MethodDelete, "/"+url.PathEscape(index)+"?expand_wildcards=none&allow_no_indices=false&ignore_unavailable=false", nil, nil)
	if err != nil {
		if strings.Contains(err.Error(), "index_not_found_exception") {
			return fmt.Errorf("%w: %s", ErrIndexMissing, index)
		}
		return fmt.Errorf("opensearch: delete index %s: %w", index, err)
	}
	return nil
}

// ExactIndexName refuses a name that OpenSearch would expand to more than
// one index: wildcards, lists, exclusions, _all and date math.
func ExactIndexName(name string) error {
	switch {
	case name == "", name == "_all", name == ".", name == "..":
		return fmt.Errorf("opensearch: %q is not one index name", name)
	case strings.ContainsAny(name, "*?,<>|\\/\" #:"):
		return fmt.Errorf("opensearch: %q is not one exact index name (wildcards, lists and date math are refused)", name)
	case strings.HasPrefix(name, "-"), strings.HasPrefix(name, "_"), strings.HasPrefix(name, "+"):
		return fmt.Errorf("opensearch: %q is not one exact index name", name)
	case name != strings.ToLower(name):
		return fmt.Errorf("opensearch: %q is not an index name (index names are lowercase)", name)
	}
	return nil
}

// plainName checks a repository or snapshot name: one path segment, no
// wildcard.
func plainName(what, name string) error {
	if name == "" || strings.ContainsAny(name, "*?,/\\ #\"<>|") || strings.HasPrefix(name, "_") || name != strings.ToLower(name) {
		return fmt.Errorf("opensearch: %s name %q: want one lowercase name without wildcards or separators", what, name)
	}
	return nil
}

// javaQuote quotes name for a Java regular expression (rename_pattern);
// ExactIndexName has ruled out the backslash that could end the quote.
func javaQuote(name string) string { return `\Q` + name + `\E` }
