package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/sizing"
	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// Sizing measures what `obsplane sizing` computes from: bytes per log and per
// span as sent (JSON) and as stored (compressed, every table and index a
// signal fills, after merges), and, with an OpenSearch, its store bytes per
// document for the same rows in OpenChoreo's indices. The ingest rate comes
// from the peer run of the same invocation (peer, when it ran first): the
// gateway's logs over OTLP until queryable at its first scale.
func Sizing(ctx context.Context, st *chdb.Store, osc *opensearch.Client, logs, traces int, peer *Results, ins *InsertResult, command string, progress func(string)) (*sizing.Measured, error) {
	m := &sizing.Measured{Date: time.Now().UTC().Format("2006-01-02"), Machine: Machine(), Command: command, Cores: runtime.NumCPU(), Logs: logs}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, t := range []string{"otel_logs", "otel_traces", "otel_traces_trace_id_ts", "otel_traces_edges"} {
		if err := st.Exec(ctx, "TRUNCATE TABLE otel."+t, nil); err != nil {
			return nil, err
		}
	}
	progress(fmt.Sprintf("sizing: %d logs, %d traces", logs, traces))
	lb := LogRows(logs, 7, start)
	js, err := jsonEachRow(lb)
	if err != nil {
		return nil, err
	}
	m.LogBytesSent = float64(len(js)) / float64(logs)
	if err := st.Insert(ctx, lb); err != nil {
		return nil, err
	}
	tb, _ := TraceRows(traces, 7, start)
	m.Spans = tb.Rows
	tjs, err := jsonEachRow(tb)
	if err != nil {
		return nil, err
	}
	m.SpanBytesSent = float64(len(tjs)) / float64(tb.Rows)
	if err := st.Insert(ctx, tb); err != nil {
		return nil, err
	}
	for _, t := range []string{"otel_logs", "otel_traces", "otel_traces_trace_id_ts", "otel_traces_edges"} {
		if err := st.Exec(ctx, "OPTIMIZE TABLE otel."+t+" FINAL", nil); err != nil {
			return nil, err
		}
	}
	type part struct {
		Table string `json:"table"`
		Bytes uint64 `json:"bytes"`
	}
	parts, err := store.ScanAll[part](ctx, st, "SELECT table, sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = 'otel' AND active GROUP BY table", nil)
	if err != nil {
		return nil, err
	}
	var logBytes, spanBytes uint64
	for _, p := range parts {
		switch p.Table {
		case "otel_logs":
			logBytes += p.Bytes
		case "otel_traces", "otel_traces_trace_id_ts", "otel_traces_edges":
			spanBytes += p.Bytes
		}
	}
	m.LogBytesStored = float64(logBytes) / float64(logs)
	m.SpanBytesStored = float64(spanBytes) / float64(m.Spans)
	if peer != nil && len(peer.Scales) > 0 {
		for _, in := range peer.Scales[0].Ingest {
			if in.System == "obsplane gateway" && in.PerSec > 0 {
				m.IngestRowsPerSecond = in.PerSec
				m.IngestSource = fmt.Sprintf("peer benchmark of this run: %d logs over OTLP until queryable", peer.Scales[0].Logs)
				m.PeakRSSBytes = peakRSS()
			}
		}
	}
	if ins != nil && ins.OpenSearchBulkRows > 0 {
		m.OpenSearchDocsPerSecond = rate(ins.OpenSearchBulkRows, ins.OpenSearchBulk)
	}
	if osc != nil {
		progress("sizing: the same rows in OpenSearch")
		if m.OpenSearchLogBytes, err = osStoreBytesPerDoc(ctx, osc, "container-logs-2026-01-01", lb, LogDocuments); err != nil {
			return nil, err
		}
		if m.OpenSearchSpanBytes, err = osStoreBytesPerDoc(ctx, osc, "otel-traces-2026-01-01", tb, SpanDocuments); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// osStoreBytesPerDoc loads b into a fresh index and returns the primary
// store's bytes per document after a force merge to one segment, as a
// settled daily index is.
func osStoreBytesPerDoc(ctx context.Context, c *opensearch.Client, index string, b *store.Batch, docs func(*store.Batch) ([]opensearch.BulkDoc, error)) (float64, error) {
	if err := resetIndex(ctx, c, index); err != nil {
		return 0, err
	}
	ds, err := docs(b)
	if err != nil {
		return 0, err
	}
	if err := bulkLoad(ctx, c, ds, 2); err != nil {
		return 0, err
	}
	if _, err := osDo(ctx, c, http.MethodPost, "/"+index+"/_forcemerge?max_num_segments=1", nil); err != nil {
		return 0, err
	}
	out, err := osDo(ctx, c, http.MethodGet, "/"+index+"/_stats/store,docs", nil)
	if err != nil {
		return 0, err
	}
	var s struct {
		All struct {
			Primaries struct {
				Docs  struct{ Count int }
				Store struct {
					SizeInBytes int64 `json:"size_in_bytes"`
				}
			}
		} `json:"_all"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		return 0, err
	}
	if s.All.Primaries.Docs.Count == 0 {
		return 0, fmt.Errorf("%s: no documents after loading", index)
	}
	return float64(s.All.Primaries.Store.SizeInBytes) / float64(s.All.Primaries.Docs.Count), nil
}

// peakRSS is this process's peak resident set (VmHWM), 0 when unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// SizingMarkdown describes the measurement for docs/BENCHMARKS.md.
func SizingMarkdown(m *sizing.Measured) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Sizing inputs (`obsplane sizing` reads these)\n\nMeasured %s (%s): %d logs and %d spans generated as the other benchmarks do, stored in the embedded engine and merged (`OPTIMIZE ... FINAL`). Reproduce: `%s`; the figures also go to `internal/sizing/measured.json`, which the binary embeds.\n\n", m.Date, m.Machine, m.Logs, m.Spans, m.Command)
	b.WriteString("| signal | bytes sent (JSON) | bytes stored (obsplane) | compression | bytes stored (OpenSearch, primary) |\n|---|---:|---:|---:|---:|\n")
	osCell := func(v float64) string {
		if v == 0 {
			return "not measured"
		}
		return fmt.Sprintf("%.0f", v)
	}
	fmt.Fprintf(&b, "| log | %.0f | %.1f | %.1fx | %s |\n", m.LogBytesSent, m.LogBytesStored, m.LogBytesSent/m.LogBytesStored, osCell(m.OpenSearchLogBytes))
	fmt.Fprintf(&b, "| span | %.0f | %.1f | %.1fx | %s |\n\n", m.SpanBytesSent, m.SpanBytesStored, m.SpanBytesSent/m.SpanBytesStored, osCell(m.OpenSearchSpanBytes))
	if m.OpenSearchDocsPerSecond > 0 {
		fmt.Fprintf(&b, "OpenSearch indexing (insert benchmark of this run, `_bulk` until searchable): %.0f documents/s on %d cores.\n\n", m.OpenSearchDocsPerSecond, m.Cores)
	}
	if m.IngestRowsPerSecond > 0 {
		fmt.Fprintf(&b, "Ingest: %.0f logs/s on %d cores (%s); peak resident memory of the benchmark process %d MiB.\n", m.IngestRowsPerSecond, m.Cores, m.IngestSource, m.PeakRSSBytes>>20)
	} else {
		b.WriteString("Ingest rate: not measured in this run (run `-run gateway,sizing`).\n")
	}
	return b.String()
}
