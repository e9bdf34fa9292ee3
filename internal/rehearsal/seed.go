package rehearsal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/opensearch"
)

// History is the OpenSearch history seeded for the backfill: Days whole
// UTC days before today, each with Logs container lines and Spans spans.
type History struct {
	Days, Logs, Spans int
}

// Range is the seeded days: [Start, End) as UTC days.
func (h History) Range(now time.Time) (start, end time.Time) {
	end = now.UTC().Truncate(24 * time.Hour)
	return end.AddDate(0, 0, -h.Days), end
}

// seedHistory writes the history into container-logs-YYYY-MM-DD and
// otel-traces-YYYY-MM-DD as OpenChoreo's Fluent Bit and collector write
// them (their random _ids, not obsplane's, so the backfill copies them),
// every record tagged with the pod name tag and unique (a numbered line, a
// fresh span id).
func seedHistory(ctx context.Context, c *opensearch.Client, h History, tag string, now time.Time) (logs, spans int, err error) {
	start, _ := h.Range(now)
	var docs []opensearch.BulkDoc
	var indices []string
	for d := 0; d < h.Days; d++ {
		day := start.AddDate(0, 0, d)
		indices = append(indices, opensearch.ContainerLogsIndex(day), opensearch.OtelTracesIndex(day))
		for i := 0; i < h.Logs; i++ {
			// Spread over the day, away from its edges.
			ts := day.Add(time.Hour + time.Duration(i)*(22*time.Hour)/time.Duration(max(h.Logs, 1)))
			src, err := fluentBitDoc(tag, fmt.Sprintf("%s day %d line %06d", tag, d, i), ts)
			if err != nil {
				return 0, 0, err
			}
			docs = append(docs, opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(ts), ID: uuid.NewString(), Source: src})
			logs++
		}
		for i := 0; i < h.Spans; i++ {
			ts := day.Add(time.Hour + time.Duration(i)*(22*time.Hour)/time.Duration(max(h.Spans, 1)))
			rec := opensearch.SpanRecord{
				TraceID: hexID(16), SpanID: hexID(8), Name: "GET /seed", Kind: "Server",
				Start: ts, End: ts.Add(12 * time.Millisecond), StatusCode: "Ok", ServiceName: "rehearsal",
				Resource: map[string]string{"service.name": "rehearsal", "k8s.pod.name": tag,
					"k8s.namespace.name": rehearsalNamespace, "openchoreo.dev/namespace": "default-org"},
				Attributes: map[string]string{"http.method": "GET"},
				ScopeName:  "rehearsal",
			}
			src, err := opensearch.EncodeSpanRecord(rec)
			if err != nil {
				return 0, 0, err
			}
			docs = append(docs, opensearch.BulkDoc{Index: opensearch.OtelTracesIndex(ts), ID: uuid.NewString(), Source: src})
			spans++
		}
	}
	if _, err := c.BulkParallel(ctx, docs, 2, opensearch.BulkOptions{}); err != nil {
		return 0, 0, fmt.Errorf("seed history: %w", err)
	}
	if err := c.Refresh(ctx, indices, opensearch.RetryOptions{}); err != nil {
		return 0, 0, fmt.Errorf("seed history: refresh: %w", err)
	}
	return logs, spans, nil
}

// fluentBitDoc is one container line as Fluent Bit's kubernetes filter
// writes it (Replace_Dots on).
func fluentBitDoc(pod, line string, ts time.Time) ([]byte, error) {
	ts = ts.UTC()
	doc := map[string]any{
		"@timestamp": ts.Format("2006-01-02T15:04:05.000Z"),
		"log":        line,
		"stream":     "stdout",
		"time":       ts.Format(time.RFC3339Nano),
		"kubernetes": map[string]any{
			"pod_name":       pod,
			"namespace_name": rehearsalNamespace,
			"host":           "rehearsal-node",
			"container_name": "main",
			"labels": map[string]string{
				"openchoreo_dev/component":   "rehearsal",
				"openchoreo_dev/project":     "default-project",
				"openchoreo_dev/environment": "development",
				"openchoreo_dev/namespace":   "default-org",
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// hexID is n random bytes in hex (trace ids 16, span ids 8).
func hexID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
