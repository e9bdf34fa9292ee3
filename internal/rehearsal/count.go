package rehearsal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// Tally is what one store holds of one source's records: rows (documents)
// and distinct record ids among them.
type Tally struct {
	Rows, Distinct int
}

// storeQuery is the count of a source's rows and of its distinct record
// ids in the store: every rehearsal record carries its source's tag as the
// pod name, and its own id (telemetrygen's log timestamp, the forward
// line's number in its body, a span's trace and span id).
func storeQuery(db string, src Source, tag string) string {
	q := func(table, distinct string) string {
		return fmt.Sprintf("SELECT count(), uniqExact(%s) FROM %s.%s WHERE K8sPodName = '%s' FORMAT TSV", distinct, db, table, tag)
	}
	switch src {
	case OTLPLogs:
		return q("otel_logs", "Timestamp")
	case ForwardLogs, HistoryLogs:
		return q("otel_logs", "Body")
	default:
		return q("otel_traces", "TraceId, SpanId")
	}
}

// countStore asks the store, through serve's ClickHouse HTTP interface.
func countStore(ctx context.Context, chAddr, db string, src Source, tag string) (Tally, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	q := storeQuery(db, src, tag)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+chAddr+"/", strings.NewReader(q))
	if err != nil {
		return Tally{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Tally{}, fmt.Errorf("store count %s: %w", src, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return Tally{}, fmt.Errorf("store count %s: %s: %s", src, resp.Status, strings.TrimSpace(string(b)))
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return Tally{}, fmt.Errorf("store count %s: unexpected answer %q", src, b)
	}
	rows, err1 := strconv.Atoi(f[0])
	dist, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return Tally{}, fmt.Errorf("store count %s: unexpected answer %q", src, b)
	}
	return Tally{Rows: rows, Distinct: dist}, nil
}

// maxOSDocs bounds what countOpenSearch reads per source; the rehearsal's
// loads stay far below (one search page, no scroll).
const maxOSDocs = 10000

// countOpenSearch counts a source's documents in OpenChoreo's indices and
// their distinct record ids, read from the documents themselves: _count
// alone cannot tell a syncback's second copy of a line from a new line.
func countOpenSearch(ctx context.Context, c *opensearch.Client, src Source, tag string) (Tally, error) {
	index, field, fields := "container-logs-*", "kubernetes.pod_name", []string{"time", "log"}
	if src == OTLPTraces || src == HistoryTraces {
		index, field, fields = "otel-traces-*", "resource.k8s.pod.name", []string{"traceId", "spanId"}
	}
	if err := c.Refresh(ctx, []string{index}, opensearch.RetryOptions{}); err != nil {
		return Tally{}, fmt.Errorf("opensearch refresh %s: %w", index, err)
	}
	res, err := c.Search(ctx, []string{index}, map[string]any{
		"size": maxOSDocs, "track_total_hits": true, "_source": fields,
		"query": map[string]any{"term": map[string]any{field: tag}},
	}, opensearch.SearchOptions{})
	if err != nil {
		return Tally{}, fmt.Errorf("opensearch count %s: %w", src, err)
	}
	if res.Hits.Total.Value > maxOSDocs {
		return Tally{}, fmt.Errorf("opensearch count %s: %d documents, more than the %d the rehearsal reads; lower the load", src, res.Hits.Total.Value, maxOSDocs)
	}
	seen := map[string]bool{}
	for _, h := range res.Hits.Hits {
		var d map[string]any
		if err := json.Unmarshal(h.Source, &d); err != nil {
			return Tally{}, fmt.Errorf("opensearch count %s: %s: %w", src, h.ID, err)
		}
		seen[recordKey(src, d)] = true
	}
	return Tally{Rows: res.Hits.Total.Value, Distinct: len(seen)}, nil
}

// recordKey is a document's record id, the same one the store is counted
// by.
func recordKey(src Source, d map[string]any) string {
	s := func(k string) string { v, _ := d[k].(string); return v }
	switch src {
	case OTLPLogs:
		// Nanoseconds, as the store's Timestamp.
		if t, err := time.Parse(time.RFC3339Nano, s("time")); err == nil {
			return strconv.FormatInt(t.UnixNano(), 10)
		}
		return s("time")
	case ForwardLogs, HistoryLogs:
		return s("log")
	default:
		return s("traceId") + "/" + s("spanId")
	}
}

// accepted sums the gateway's otelcol_receiver_accepted_* counters from
// serve's /metrics, per signal and receiver ("logs/otlp", "logs/fluentforward",
// "traces/otlp").
func accepted(ctx context.Context, httpAddr string) (map[string]float64, error) {
	code, body := httpGet(ctx, "http://"+httpAddr+"/metrics")
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d: %s", code, tail(string(body), 3))
	}
	return parseAccepted(string(body))
}

func parseAccepted(text string) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		var signal string
		switch strings.TrimSuffix(name, "_total") {
		case "otelcol_receiver_accepted_log_records":
			signal = "logs"
		case "otelcol_receiver_accepted_spans":
			signal = "traces"
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			recv := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "receiver" {
					recv = l.GetValue()
				}
			}
			// A receiver id may carry a name ("otlp/grpc"): its type counts.
			if i := strings.IndexByte(recv, '/'); i > 0 {
				recv = recv[:i]
			}
			v := m.GetCounter().GetValue()
			if m.GetCounter() == nil {
				v = m.GetUntyped().GetValue()
			}
			out[signal+"/"+recv] += v
		}
	}
	return out, nil
}

// acceptedKey is the counter a source's records are accepted under.
func acceptedKey(src Source) string {
	switch src {
	case ForwardLogs:
		return "logs/fluentforward"
	case OTLPTraces:
		return "traces/otlp"
	default:
		return "logs/otlp"
	}
}

// osDo is a plain OpenSearch request for what the client has no method
// for (index deletion, snapshot repositories and snapshots).
func osDo(ctx context.Context, base, method, path string, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return resp.StatusCode, b, err
}

func escapePath(s string) string { return url.PathEscape(s) }
