package remote

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/openchoreo/obsplane/internal/store"
)

// httpInserter sends a batch over the HTTP protocol as one
// `INSERT ... FORMAT Native` request whose body is store.Batch.EncodeNative,
// zstd-compressed. clickhouse-go's HTTP batch converts every value through
// reflection (its Map columns cost several times ch-go's typed encoder,
// docs/BENCHMARKS.md); this is the encoder the embedded store uses, and the
// request is what ClickHouse's own HTTP interface (and obsplane's) accepts.
type httpInserter struct {
	client   *http.Client
	endpoint string // scheme://host:port/path
	user     string
	password string
	database string
	settings clickhouse.Settings
	enc      *zstd.Encoder
}

func newHTTPInserter(opts *clickhouse.Options) (*httpInserter, error) {
	if opts.Protocol != clickhouse.HTTP || len(opts.Addr) == 0 {
		return nil, nil
	}
	scheme := "http"
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.TLS != nil {
		scheme = "https"
		tr.TLSClientConfig = opts.TLS.Clone()
	}
	tr.MaxIdleConnsPerHost = opts.MaxOpenConns
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	path := "/" + strings.TrimPrefix(opts.HttpUrlPath, "/")
	return &httpInserter{
		client:   &http.Client{Transport: tr},
		endpoint: scheme + "://" + opts.Addr[0] + path,
		user:     opts.Auth.Username, password: opts.Auth.Password, database: opts.Auth.Database,
		settings: opts.Settings, enc: enc,
	}, nil
}

func (h *httpInserter) insert(ctx context.Context, b *store.Batch, settings []store.Setting) error {
	native, err := b.EncodeNative()
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Set("query", "INSERT INTO "+b.TableName()+" "+b.ColumnList()+" FORMAT Native")
	if h.database != "" {
		q.Set("database", h.database)
	}
	for k, v := range h.settings {
		q.Set(k, fmt.Sprint(v))
	}
	for _, s := range settings {
		q.Set(s.Name, s.Value)
	}
	body := h.enc.EncodeAll(native, make([]byte, 0, len(native)/4))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Encoding", "zstd")
	req.Header.Set("Content-Type", "application/octet-stream")
	if h.user != "" {
		req.Header.Set("X-ClickHouse-User", h.user)
	}
	if h.password != "" {
		req.Header.Set("X-ClickHouse-Key", h.password)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// The server names its error in X-ClickHouse-Exception-Code; the
	// same code store.Retryable classifies for the native protocol.
	code, _ := strconv.Atoi(resp.Header.Get("X-ClickHouse-Exception-Code"))
	text := strings.TrimSpace(string(msg))
	if code == 0 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, text)
	}
	return &store.Error{Code: code, Message: text}
}
