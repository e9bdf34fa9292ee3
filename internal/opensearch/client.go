// Package opensearch talks to the OpenSearch that OpenChoreo runs today: the
// index templates its setup jobs install, the index names Fluent Bit and the
// OpenTelemetry collector write, and a thin client on opensearch-go. The
// gateway's dual-write exporter and the OpenSearch read backends
// (logsbackend, tracesbackend) build on it; docs/OPENSEARCH.md lists the
// document shapes.
package opensearch

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	opensearchgo "github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
)

// Client is an OpenSearch client bound to one cluster. API is the full typed
// opensearch-go client for calls this package does not wrap.
type Client struct {
	API *opensearchapi.Client
	URL string
}

// Options tune New. The zero value is right for the local test node.
type Options struct {
	Username, Password string
	// InsecureSkipVerify accepts self-signed certificates, as OpenChoreo's own
	// Fluent Bit and setup job do (tls.verify Off).
	InsecureSkipVerify bool
	// Timeout bounds each HTTP request; 0 means 60s.
	Timeout time.Duration
}

// New returns a client for rawURL (e.g. http://127.0.0.1:19200). Credentials
// in the URL's user info are used when Options has none.
func New(rawURL string, opts ...Options) (*Client, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("opensearch: parse url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("opensearch: url %q must be http(s)://host:port", rawURL)
	}
	if u.User != nil && o.Username == "" {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	u.User = nil
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = timeout
	if o.InsecureSkipVerify {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in, mirrors OpenChoreo's tls.verify Off
	}
	api, err := opensearchapi.NewClient(opensearchapi.Config{Client: opensearchgo.Config{
		Addresses: []string{strings.TrimRight(u.String(), "/")},
		Username:  o.Username,
		Password:  o.Password,
		Transport: transport,
		// Retries hide real failures from the migration steps, which have
		// their own checkpointed retry.
		DisableRetry: true,
	}})
	if err != nil {
		return nil, fmt.Errorf("opensearch: new client for %s: %w", u.Redacted(), err)
	}
	return &Client{API: api, URL: u.String()}, nil
}

// Health is the subset of _cluster/health the callers look at.
type Health struct {
	ClusterName         string `json:"cluster_name"`
	Status              string `json:"status"`
	NumberOfNodes       int    `json:"number_of_nodes"`
	ActivePrimaryShards int    `json:"active_primary_shards"`
	UnassignedShards    int    `json:"unassigned_shards"`
}

// Health returns the cluster health without waiting for a status.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/_cluster/health", nil, &h); err != nil {
		return h, fmt.Errorf("opensearch: cluster health at %s: %w", c.URL, err)
	}
	return h, nil
}

// do sends a raw request and decodes a JSON answer into out (when non-nil);
// a non-2xx status becomes an error carrying the body OpenSearch returned.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s %s response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, truncate(data, 2000))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s %s response: %w", method, path, err)
		}
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}
