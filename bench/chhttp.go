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
	// store (clickhouse-go, HTTP, Native, lz4) through the interface.
	InsertInProcess, InsertHTTP time.Duration
	// Reads of every row's scan columns: the engine's Native output
	// in-process (bytes, no decoding), the interface's body of the same
	// query (bytes, no decoding), store.Query rows decoded in-process, and
	// clickhouse-go rows decoded through the interface.
	ScanEngineBytes, ScanHTTPBytes, ScanStoreRows, ScanGoRows time.Duration
	EngineVersion                                             string
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

	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var batches []*store.Batch
	for done := 0; done < rows; done += batchRows {
		batches = append(batches, LogRows(min(batchRows, rows-done), uint64(done), start.Add(time.Duration(done)*time.Millisecond)))
	}
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
	progress("chhttp: the same through the HTTP interface (clickhouse-go)")
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
	return res, nil
}

func timed(f func() error) (time.Duration, error) {
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// Markdown renders the figures as the chhttp section of BENCHMARKS.md.
func (r *CHHTTPResult) Markdown(cmd string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## ClickHouse HTTP interface\n\n%d otel_logs rows (engine %s), %s. In-process: the embedded store itself; HTTP: obsplane's ClickHouse HTTP interface on a loopback port of the same process, the client clickhouse-go (HTTP, Native, lz4). Ratio = HTTP rate / in-process rate (goal: at least 0.7). Reproduce: `%s`.\n\n", r.Rows, r.EngineVersion, Machine(), cmd)
	b.WriteString("| case | in-process | HTTP | ratio |\n|---|---|---|---|\n")
	row := func(name string, in, over time.Duration) {
		fmt.Fprintf(&b, "| %s | %.0f rows/s | %.0f rows/s | %.2fx |\n", name, rate(r.Rows, in), rate(r.Rows, over), in.Seconds()/over.Seconds())
	}
	row(fmt.Sprintf("insert, batches of %d rows (store.Insert vs the remote store's Insert)", r.BatchRows), r.InsertInProcess, r.InsertHTTP)
	row("scan, bytes only (engine Native output vs the interface's response body)", r.ScanEngineBytes, r.ScanHTTPBytes)
	row("scan, rows decoded (store.Query JSON rows vs clickhouse-go Native rows)", r.ScanStoreRows, r.ScanGoRows)
	return b.String()
}
