package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/store"
)

// The OpenSearch side of the benchmarks: the same generated rows, shaped as
// the documents OpenChoreo's writers put in OpenSearch today (Fluent Bit's
// container-logs documents, the OTel collector's otel-traces spans), in
// indices created from OpenChoreo's own templates.

// ConnectOpenSearch returns a client for url after checking the node answers
// and installing OpenChoreo's index templates.
func ConnectOpenSearch(ctx context.Context, url string) (*opensearch.Client, error) {
	c, err := opensearch.New(url, opensearch.Options{Timeout: 10 * time.Minute})
	if err != nil {
		return nil, err
	}
	if _, err := c.Health(ctx); err != nil {
		return nil, err
	}
	if err := c.EnsureTemplates(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// osDo sends one raw request and returns the body; a non-2xx answer is an
// error carrying what OpenSearch said.
func osDo(ctx context.Context, c *opensearch.Client, method, path string, body []byte) ([]byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.API.Client.Perform(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", method, path, c.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s %s answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return data, fmt.Errorf("%s %s at %s: status %d: %.500s", method, path, c.URL, resp.StatusCode, data)
	}
	return data, nil
}

// resetIndex deletes index (absent is fine) so a run starts empty. Only the
// benchmark's own daily indices are ever named here.
func resetIndex(ctx context.Context, c *opensearch.Client, index string) error {
	_, err := osDo(ctx, c, http.MethodDelete, "/"+index+"?ignore_unavailable=true", nil)
	if err != nil {
		return fmt.Errorf("reset index %s: %w", index, err)
	}
	return nil
}

func column[T any](b *store.Batch, name string) []T {
	for _, c := range b.Columns {
		if c.Name == name {
			return c.Values.([]T)
		}
	}
	panic("bench: batch has no column " + name)
}

// LogDocuments encodes a LogRows batch as the container-logs documents
// Fluent Bit would have written for the same lines, with internal/opensearch's
// mapping (EncodeLogDocument), each bound for its daily index.
func LogDocuments(b *store.Batch) ([]opensearch.BulkDoc, error) {
	ts := column[time.Time](b, "Timestamp")
	tid, sid := column[string](b, "TraceId"), column[string](b, "SpanId")
	sevText, sevNum := column[string](b, "SeverityText"), column[uint8](b, "SeverityNumber")
	svc, body, scope := column[string](b, "ServiceName"), column[string](b, "Body"), column[string](b, "ScopeName")
	res, attrs := column[map[string]string](b, "ResourceAttributes"), column[map[string]string](b, "LogAttributes")
	docs := make([]opensearch.BulkDoc, b.Rows)
	for i := range b.Rows {
		src, err := opensearch.EncodeLogDocument(opensearch.LogRecord{
			Timestamp: ts[i], TraceID: tid[i], SpanID: sid[i], SeverityText: sevText[i], SeverityNumber: sevNum[i],
			ServiceName: svc[i], Body: body[i], ScopeName: scope[i], ResourceAttributes: res[i], LogAttributes: attrs[i],
		})
		if err != nil {
			return nil, fmt.Errorf("log row %d: %w", i, err)
		}
		docs[i] = opensearch.BulkDoc{Index: opensearch.ContainerLogsIndex(ts[i]), Source: src}
	}
	return docs, nil
}

// spanKinds maps the otel_traces SpanKind spelling to the OTel collector
// opensearch exporter's (ptrace.SpanKind.String()).
var spanKinds = map[string]string{"SPAN_KIND_SERVER": "Server", "SPAN_KIND_CLIENT": "Client", "SPAN_KIND_INTERNAL": "Internal"}

// SpanDocuments encodes a TraceRows batch as the span documents the OTel
// collector's opensearch exporter writes into otel-traces-YYYY-MM-DD (its
// ss4o shape: traceId, spanId, parentSpanId, name, kind, startTime, endTime,
// status, resource and attributes as flat-keyed objects), plus
// durationInNanos, which the exporter does not write: see spanMappingExtra.
func SpanDocuments(b *store.Batch) ([]opensearch.BulkDoc, error) {
	ts := column[time.Time](b, "Timestamp")
	tid, sid, pid := column[string](b, "TraceId"), column[string](b, "SpanId"), column[string](b, "ParentSpanId")
	name, kind, dur := column[string](b, "SpanName"), column[string](b, "SpanKind"), column[uint64](b, "Duration")
	status, msg := column[string](b, "StatusCode"), column[string](b, "StatusMessage")
	res, attrs := column[map[string]string](b, "ResourceAttributes"), column[map[string]string](b, "SpanAttributes")
	scope, scopeVer := column[string](b, "ScopeName"), column[string](b, "ScopeVersion")
	docs := make([]opensearch.BulkDoc, b.Rows)
	for i := range b.Rows {
		start := ts[i].UTC()
		doc := map[string]any{
			"@timestamp":           start.Format(time.RFC3339Nano),
			"traceId":              tid[i],
			"spanId":               sid[i],
			"parentSpanId":         pid[i],
			"name":                 name[i],
			"kind":                 spanKinds[kind[i]],
			"startTime":            start.Format(time.RFC3339Nano),
			"endTime":              start.Add(time.Duration(dur[i])).Format(time.RFC3339Nano),
			"durationInNanos":      dur[i],
			"status":               map[string]string{"code": status[i], "message": msg[i]},
			"resource":             res[i],
			"attributes":           attrs[i],
			"instrumentationScope": map[string]string{"name": scope[i], "version": scopeVer[i]},
		}
		src, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("span row %d: %w", i, err)
		}
		docs[i] = opensearch.BulkDoc{Index: opensearch.OtelTracesIndex(start), Source: src}
	}
	return docs, nil
}

// spanMappingExtra is added to each otel-traces index before loading.
// OpenChoreo's otel-traces template indexes neither the span kind nor a
// duration (dynamic: false; only ids, times, status.code and a few resource
// keys), so without them OpenSearch cannot answer "P95 of SERVER spans" at
// all. The benchmark adds the two fields Data Prepper's span template has
// (kind keyword, durationInNanos long): this favours OpenSearch.
const spanMappingExtra = `{"properties":{"kind":{"type":"keyword"},"durationInNanos":{"type":"long"}}}`

// bulkLoad indexes docs with _bulk through Client.Bulk, workers requests at
// a time (OpenSearch's write pool has one thread per core), then refreshes
// the indices so everything is searchable. Index templates apply as the
// daily indices are created.
func bulkLoad(ctx context.Context, c *opensearch.Client, docs []opensearch.BulkDoc, workers int) error {
	indices := map[string]bool{}
	for _, d := range docs {
		indices[d.Index] = true
	}
	if _, err := c.BulkParallel(ctx, docs, workers, opensearch.BulkOptions{}); err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	names := make([]string, 0, len(indices))
	for n := range indices {
		names = append(names, n)
	}
	sort.Strings(names)
	if _, err := osDo(ctx, c, http.MethodPost, "/"+strings.Join(names, ",")+"/_refresh", nil); err != nil {
		return fmt.Errorf("refresh after bulk load: %w", err)
	}
	return nil
}

// osCount returns the number of documents in index (after a refresh).
func osCount(ctx context.Context, c *opensearch.Client, index string) (int, error) {
	b, err := osDo(ctx, c, http.MethodGet, "/"+index+"/_count", nil)
	if err != nil {
		return 0, err
	}
	var r struct{ Count int }
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("decode _count of %s: %w", index, err)
	}
	return r.Count, nil
}
