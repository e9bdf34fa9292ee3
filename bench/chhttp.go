package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/openchoreo/obsplane/internal/chhttp"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/remote"
)

// CHHTTPResult holds the ClickHouse HTTP interface's figures against the
// in-process store, from one run.
type CHHTTPResult struct {
	Rows, BatchRows int
	// Inserts of the same batches: store.Insert in-process, and the remote
	// store through the interface (inserts: one INSERT ... FORMAT Native request per
	// batch, ch-go's encoder, zstd; reads: clickhouse-go, HTTP, Native, lz4).
	InsertInProcess, InsertHTTP time.Duration
	// Reads of every row's scan columns: the engine's Native output
	// in-process (bytes, no decoding), the interface's body of the same
	// query (bytes, no decoding), store.Query rows decoded in-process, and
	// clickhouse-go rows decoded through the interface.
	ScanEngineBytes, ScanHTTPBytes, ScanStoreRows, ScanGoRows time.Duration
	// Per request of a one-row query (POST, plain HTTP, kept-alive), the
	// mean over Requests each: a writing user on a fresh connection, a
	// read-only (readonly=2) user on a fresh connection locked after its
	// settings, the same with a database and HyperDX's settings, each in a
	// session (the writer's keeps its connection; the reader's remembers
	// its settings and opens a fresh one per request); and the engine's own
	// open and close of a connection.
	Requests                                          int
	ReqWriter, ReqReader, ReqReaderSettings           time.Duration
	ReqWriterSession, ReqReaderSession, OpenCloseConn time.Duration
	EngineVersion                                     string
}

// hyperdxSettings are the settings HyperDX sends with every query.
var hyperdxSettings = url.Values{
	"date_time_output_format": {"iso"}, "output_format_json_quote_64bit_integers": {"1"},
	"cancel_http_readonly_queries_on_client_close": {"1"}, "max_execution_time": {"60"}, "database": {"otel"},
}

const scanSQL = "SELECT Timestamp, ServiceName, SeverityText, SeverityNumber, Body, ResourceAttributes FROM otel.otel_logs"

// CHHTTP measures inserts and scans over the ClickHouse HTTP interface
// (served in-process on a loopback port) against the in-process store.
func CHHTTP(ctx context.Context, st *chdb.Store, rows, batchRows int, progress func(string)) (*CHHTTPResult, error) {
	res := &CHHTTPResult{Rows: rows, BatchRows: batchRows, EngineVersion: st.Version}
	cfg := chhttp.DefaultConfig()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg.Addr = ln.Addr().String()
	cfg.Users = []chhttp.User{{Name: "default"}, {Name: "reader", Readonly: 2}}
	h, err := chhttp.New(cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Serve(sctx, ln) }()
	defer func() { stop(); <-done }()
	rs, err := remote.Open(remote.Config{DSN: "http://default@" + cfg.Addr + "/otel?compress=lz4"})
	if err != nil {
		return nil, err
	}
	defer rs.Close()

	batches := NewWorkload(rows, 0).LogBatches(batchRows)
	insert := func(s store.Store) (time.Duration, error) {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel.otel_logs", nil); err != nil {
			return 0, err
		}
		t0 := time.Now()
		for _, b := range batches {
			if err := s.Insert(ctx, b); err != nil {
				return 0, err
			}
		}
		d := time.Since(t0)
		return d, expectCount(ctx, st, "otel_logs", rows)
	}
	progress(fmt.Sprintf("chhttp: insert %d rows in batches of %d, in-process", rows, batchRows))
	if res.InsertInProcess, err = insert(st); err != nil {
		return nil, err
	}
	progress("chhttp: the same through the HTTP interface (the remote store)")
	if res.InsertHTTP, err = insert(rs); err != nil {
		return nil, fmt.Errorf("insert over HTTP: %w", err)
	}

	progress("chhttp: scans")
	if res.ScanEngineBytes, err = timed(func() error {
		c, err := st.OpenConn()
		if err != nil {
			return err
		}
		defer c.Close()
		o, err := c.Stream(ctx, scanSQL, "Native", nil)
		if err != nil {
			return err
		}
		defer o.Close()
		for {
			b, err := o.Next()
			if err != nil || b == nil {
				return err
			}
		}
	}); err != nil {
		return nil, err
	}
	if res.ScanHTTPBytes, err = timed(func() error {
		resp, err := http.Get("http://" + cfg.Addr + "/?" + url.Values{"query": {scanSQL}, "default_format": {"Native"}}.Encode())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%d: %s", resp.StatusCode, b)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}); err != nil {
		return nil, err
	}
	if res.ScanStoreRows, err = timed(func() error {
		n := 0
		err := store.Each(ctx, st, scanSQL, nil, func(r store.Rows) error {
			var v struct {
				Timestamp, ServiceName, SeverityText, Body string
				SeverityNumber                             uint8
				ResourceAttributes                         map[string]string
			}
			n++
			return r.Scan(&v)
		})
		if err == nil && n != rows {
			err = fmt.Errorf("read %d rows, want %d", n, rows)
		}
		return err
	}); err != nil {
		return nil, err
	}
	if res.ScanGoRows, err = timed(func() error {
		conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.HTTP, Addr: []string{cfg.Addr}, Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4}})
		if err != nil {
			return err
		}
		defer conn.Close()
		r, err := conn.Query(ctx, scanSQL)
		if err != nil {
			return err
		}
		defer r.Close()
		n := 0
		for r.Next() {
			var (
				ts                 time.Time
				svc, sevText, body string
				sev                uint8
				res                map[string]string
			)
			if err := r.Scan(&ts, &svc, &sevText, &sev, &body, &res); err != nil {
				return err
			}
			n++
		}
		if err := r.Err(); err != nil {
			return err
		}
		if n != rows {
			return fmt.Errorf("read %d rows, want %d", n, rows)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	progress("chhttp: per-request cost")
	if err := requestCosts(ctx, st, cfg.Addr, res); err != nil {
		return nil, err
	}
	return res, nil
}

// requestCosts measures the per-request figures of res.
func requestCosts(ctx context.Context, st *chdb.Store, addr string, res *CHHTTPResult) error {
	res.Requests = 2000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	one := func(user string, extra url.Values) error {
		v := url.Values{"query": {"SELECT 1"}, "user": {user}}
		for k, x := range extra {
			v[k] = x
		}
		resp, err := client.Post("http://"+addr+"/?"+v.Encode(), "text/plain", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "1\n" {
			return fmt.Errorf("%s: %d %q", user, resp.StatusCode, b)
		}
		return nil
	}
	mean := func(f func() error) (time.Duration, error) {
		if err := f(); err != nil { // warm up, and check
			return 0, err
		}
		d, err := timed(func() error {
			for i := 0; i < res.Requests; i++ {
				if err := f(); err != nil {
					return err
				}
			}
			return nil
		})
		return d / time.Duration(res.Requests), err
	}
	settings := url.Values{}
	for k, x := range hyperdxSettings {
		settings[k] = x
	}
	session := func(id string) url.Values { return url.Values{"session_id": {id}} }
	for _, c := range []struct {
		dst *time.Duration
		f   func() error
	}{
		{&res.ReqWriter, func() error { return one("default", nil) }},
		{&res.ReqReader, func() error { return one("reader", nil) }},
		{&res.ReqReaderSettings, func() error { return one("reader", settings) }},
		{&res.ReqWriterSession, func() error { return one("default", session("bench-w")) }},
		{&res.ReqReaderSession, func() error { return one("reader", session("bench-r")) }},
		{&res.OpenCloseConn, func() error {
			c, err := st.OpenConn()
			if err == nil {
				c.Close()
			}
			return err
		}},
	} {
		var err error
		if *c.dst, err = mean(c.f); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func timed(f func() error) (time.Duration, error) {
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// Markdown renders the figures as the chhttp section of BENCHMARKS.md.
func (r *CHHTTPResult) Markdown(cmd string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## ClickHouse HTTP interface\n\n%d otel_logs rows (engine %s), %s. In-process: the embedded store itself; HTTP: obsplane's ClickHouse HTTP interface on a loopback port of the same process, the client obsplane's remote store over HTTP (inserts: one `INSERT ... FORMAT Native` request per batch, encoded as the embedded store encodes it, zstd; reads: clickhouse-go, Native, lz4). Ratio = HTTP rate / in-process rate (goal: at least 0.7). Reproduce: `%s`.\n\n", r.Rows, r.EngineVersion, Machine(), cmd)
	b.WriteString("| case | in-process | HTTP | ratio |\n|---|---|---|---|\n")
	row := func(name string, in, over time.Duration) {
		fmt.Fprintf(&b, "| %s | %.0f rows/s | %.0f rows/s | %.2fx |\n", name, rate(r.Rows, in), rate(r.Rows, over), in.Seconds()/over.Seconds())
	}
	row(fmt.Sprintf("insert, batches of %d rows (store.Insert vs the remote store's Insert)", r.BatchRows), r.InsertInProcess, r.InsertHTTP)
	row("scan, bytes only (engine Native output vs the interface's response body)", r.ScanEngineBytes, r.ScanHTTPBytes)
	row("scan, rows decoded (store.Query JSON rows vs clickhouse-go Native rows)", r.ScanStoreRows, r.ScanGoRows)
	fmt.Fprintf(&b, "\nPer request (`SELECT 1`, POST, kept-alive HTTP; mean of %d). A read-only user's request runs on a fresh engine connection locked after its settings (README, ClickHouse HTTP interface); a writing user's on a fresh one too, or on its session's.\n\n| request | time |\n|---|---|\n", r.Requests)
	for _, c := range []struct {
		name string
		d    time.Duration
	}{
		{"writing user", r.ReqWriter},
		{"read-only user (readonly=2)", r.ReqReader},
		{"read-only user, database and HyperDX's settings", r.ReqReaderSettings},
		{"writing user in a session (its connection kept)", r.ReqWriterSession},
		{"read-only user in a session (fresh connection each request)", r.ReqReaderSession},
		{"the engine's open and close of a connection, alone", r.OpenCloseConn},
	} {
		fmt.Fprintf(&b, "| %s | %.0f µs |\n", c.name, float64(c.d.Nanoseconds())/1000)
	}
	return b.String()
}
