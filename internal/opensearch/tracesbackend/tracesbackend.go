// Package tracesbackend is the read model's tracing adapter reads
// (readmodel.Traces: traces, spans, span by id) on the otel-traces-* indices
// OpenChoreo's OpenSearch tracing module reads today, with the typed results
// the ClickHouse backend returns, so the router can serve a read from either
// store and compare the two answers. Trace by id and trace search are
// Unsupported (obsplane's own API reads them from ClickHouse).
//
// The queries are the module's (docs/OPENSEARCH.md): a span is in range
// when startTime >= start and endTime <= end; the scope is term filters on
// the resource.openchoreo.dev/* uid fields; traces come from a terms
// aggregation on traceId ordered by the earliest start, with the earliest
// span, the latest end, the root span and an error count per bucket; the
// trace total is the cardinality of traceIds with an in-range root span,
// capped like the contract's total. It differs from the module where the
// module is loose, to agree with the ClickHouse backend: a trace without a
// root span in range is not listed (the module fills a list, then drops
// them); ties are broken by traceId and spanId; a span the caller cannot see
// is a 404, and span details are scoped to the caller's namespaces.
//
// Where the two stores can still differ by design: the terms aggregation
// orders traces by their earliest start at millisecond resolution (a
// date_nanos min is a double of milliseconds), ClickHouse at nanoseconds;
// it fetches 2*limit+50 candidate traces, so a page could miss a trace if
// more than limit+50 of the candidates have no root span in range; the
// scope matches OpenChoreo uids only (names are not indexed in OpenSearch).
package tracesbackend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Backend is readmodel.Traces on OpenSearch.
type Backend struct {
	readmodel.Unsupported
	Client *opensearch.Client
	// Search bounds the retries of searches OpenSearch rejects with 429 or
	// 503.
	Search opensearch.SearchOptions
}

var _ readmodel.Traces = (*Backend)(nil)

// Field paths of the otel-traces template.
const (
	fieldNamespace      = "resource.openchoreo.dev/namespace"
	fieldProjectUID     = "resource.openchoreo.dev/project-uid"
	fieldComponentUID   = "resource.openchoreo.dev/component-uid"
	fieldEnvironmentUID = "resource.openchoreo.dev/environment-uid"
)

// indices are every day's traces index: the collector's exporter names the
// index by the time it writes, not by the span's start, so a day's spans can
// sit in the next day's index.
var indices = []string{opensearch.OtelTracesPrefix + "*"}

type obj = map[string]any

func (b *Backend) filters(q readmodel.TracesQuery) []any {
	f := []any{
		obj{"range": obj{"startTime": obj{"gte": rangeTime(q.Start), "format": "strict_date_optional_time_nanos"}}},
		obj{"range": obj{"endTime": obj{"lte": rangeTime(q.End), "format": "strict_date_optional_time_nanos"}}},
		obj{"term": obj{fieldNamespace: q.Namespace}},
	}
	for _, s := range []struct{ field, v string }{
		{fieldProjectUID, q.Project}, {fieldComponentUID, q.Component}, {fieldEnvironmentUID, q.Environment},
	} {
		if s.v != "" {
			f = append(f, obj{"term": obj{s.field: s.v}})
		}
	}
	if q.TraceID != "" {
		f = append(f, obj{"term": obj{"traceId": q.TraceID}})
	}
	return f
}

// tenant restricts a search to the tenancy's namespaces.
func tenant(t readmodel.Tenancy) (any, error) {
	if t.All {
		return obj{"match_all": obj{}}, nil
	}
	if err := t.Guard(); err != nil {
		return nil, err
	}
	return obj{"terms": obj{fieldNamespace: t.Namespaces}}, nil
}

func (b *Backend) search(ctx context.Context, what string, body any) (*opensearch.SearchResult, error) {
	res, err := b.Client.Search(ctx, indices, body, b.Search)
	if err != nil {
		return nil, fmt.Errorf("opensearch %s: %w", what, err)
	}
	return res, nil
}

func order(desc bool) string {
	if desc {
		return "desc"
	}
	return "asc"
}

// topHit is a top_hits aggregation's single hit.
type topHit struct {
	Hits struct {
		Hits []opensearch.Hit `json:"hits"`
	} `json:"hits"`
}

func (t topHit) source() (map[string]any, bool) {
	if len(t.Hits.Hits) == 0 {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(t.Hits.Hits[0].Source, &m) != nil {
		return nil, false
	}
	return m, true
}

type traceBucket struct {
	Key      string `json:"key"`
	DocCount int    `json:"doc_count"`
	Earliest topHit `json:"earliest_span"`
	Latest   topHit `json:"latest_span"`
	Root     struct {
		DocCount int    `json:"doc_count"`
		Hit      topHit `json:"hit"`
	} `json:"root_span"`
	Errors struct {
		DocCount int `json:"doc_count"`
	} `json:"error_span_count"`
}

// QueryTraces lists the traces with a root span in range.
func (b *Backend) QueryTraces(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.TracesPage, error) {
	if err := t.Require(q.Namespace); err != nil {
		return nil, err
	}
	dir := order(q.Desc)
	candidates := min(2*q.Limit+50, 10000)
	isRoot := obj{"term": obj{"parentSpanId": ""}}
	body := obj{
		"size":  0,
		"query": obj{"bool": obj{"filter": b.filters(q)}},
		"aggs": obj{
			"trace_count": obj{"filter": isRoot, "aggs": obj{
				// Exact below the threshold, which is above the cap.
				"distinct_traces": obj{"cardinality": obj{"field": "traceId", "precision_threshold": 2 * readmodel.TotalCap}},
			}},
			"traces": obj{
				"terms": obj{
					"field": "traceId", "size": candidates, "shard_size": min(3*candidates, 30000),
					"order": []any{obj{"min_start_time": dir}, obj{"_key": dir}},
				},
				"aggs": obj{
					"min_start_time": obj{"min": obj{"field": "startTime"}},
					"earliest_span": obj{"top_hits": obj{"size": 1, "sort": []any{obj{"startTime": obj{"order": "asc"}}},
						"_source": []string{"startTime"}}},
					"latest_span": obj{"top_hits": obj{"size": 1, "sort": []any{obj{"endTime": obj{"order": "desc"}}},
						"_source": []string{"endTime"}}},
					"root_span": obj{"filter": isRoot, "aggs": obj{
						"hit": obj{"top_hits": obj{"size": 1, "sort": []any{obj{"startTime": obj{"order": "asc"}}, obj{"spanId": obj{"order": "asc"}}},
							"_source": []string{"spanId", "name", "kind"}}},
					}},
					"error_span_count": obj{"filter": obj{"term": obj{"status.code": obj{"value": "error", "case_insensitive": true}}}},
				},
			},
		},
	}
	res, err := b.search(ctx, "traces query", body)
	if err != nil {
		return nil, err
	}
	var aggs struct {
		TraceCount struct {
			Distinct struct {
				Value int `json:"value"`
			} `json:"distinct_traces"`
		} `json:"trace_count"`
		Traces struct {
			Buckets []traceBucket `json:"buckets"`
		} `json:"traces"`
	}
	if len(res.Aggregations) > 0 {
		if err := json.Unmarshal(res.Aggregations, &aggs); err != nil {
			return nil, fmt.Errorf("opensearch traces query: decode aggregations: %w", err)
		}
	}
	out := &readmodel.TracesPage{Traces: []readmodel.TraceSummary{}}
	for _, bk := range aggs.Traces.Buckets {
		if bk.Root.DocCount == 0 {
			continue
		}
		if len(out.Traces) == q.Limit {
			break
		}
		ts := readmodel.TraceSummary{TraceID: bk.Key, SpanCount: bk.DocCount, HasErrors: bk.Errors.DocCount > 0}
		if src, ok := bk.Earliest.source(); ok {
			ts.Start = docTime(src["startTime"])
		}
		if src, ok := bk.Latest.source(); ok {
			ts.End = docTime(src["endTime"])
		}
		if src, ok := bk.Root.Hit.source(); ok {
			ts.RootSpanID, _ = src["spanId"].(string)
			ts.RootSpanName, _ = src["name"].(string)
			ts.RootSpanKind, _ = src["kind"].(string)
		}
		out.Traces = append(out.Traces, ts)
	}
	out.Total = min(aggs.TraceCount.Distinct.Value, readmodel.TotalCap)
	return out, nil
}

func docTime(v any) time.Time {
	s, _ := v.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// QuerySpans lists one trace's spans in range.
func (b *Backend) QuerySpans(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.SpansPage, error) {
	if err := t.Require(q.Namespace); err != nil {
		return nil, err
	}
	dir := order(q.Desc)
	res, err := b.search(ctx, "spans query", obj{
		"size":             q.Limit,
		"query":            obj{"bool": obj{"filter": b.filters(q)}},
		"track_total_hits": readmodel.TotalCap,
		"sort":             []any{obj{"startTime": obj{"order": dir}}, obj{"spanId": obj{"order": dir}}},
	})
	if err != nil {
		return nil, err
	}
	out := &readmodel.SpansPage{Spans: []readmodel.Span{}}
	for _, h := range res.Hits.Hits {
		rec, err := opensearch.DecodeSpanDocument(h.Source)
		if err != nil {
			return nil, fmt.Errorf("opensearch spans query: document %s/%s: %w", h.Index, h.ID, err)
		}
		out.Spans = append(out.Spans, span(rec, q.Attributes))
	}
	out.Total = min(res.Hits.Total.Value, readmodel.TotalCap)
	return out, nil
}

// GetSpan reads one span within the tenancy.
func (b *Backend) GetSpan(ctx context.Context, t readmodel.Tenancy, ref readmodel.SpanRef) (*readmodel.Span, error) {
	traceID, spanID := ref.TraceID, ref.SpanID
	scope, err := tenant(t)
	if err != nil {
		return nil, err
	}
	res, err := b.search(ctx, "span details", obj{
		"size": 1,
		"query": obj{"bool": obj{"filter": []any{
			obj{"term": obj{"traceId": traceID}}, obj{"term": obj{"spanId": spanID}}, scope,
		}}},
	})
	if err != nil {
		return nil, err
	}
	if len(res.Hits.Hits) == 0 {
		return nil, readmodel.NotFound("span not found")
	}
	h := res.Hits.Hits[0]
	rec, err := opensearch.DecodeSpanDocument(h.Source)
	if err != nil {
		return nil, fmt.Errorf("opensearch span details: document %s/%s: %w", h.Index, h.ID, err)
	}
	s := span(rec, true)
	return &s, nil
}

// span is a document as the ClickHouse backend reports the row: a span that
// ends before it starts has duration 0 there (the exporter's deviation from
// a wrapped-around UInt64), so it has here.
func span(rec opensearch.SpanRecord, attrs bool) readmodel.Span {
	start, end := rec.Start.UTC(), rec.End.UTC()
	if end.Before(start) {
		end = start
	}
	s := readmodel.Span{
		TraceID: rec.TraceID, SpanID: rec.SpanID, ParentSpanID: rec.ParentSpanID, Name: rec.Name, Kind: rec.Kind,
		Service: rec.ServiceName, Start: start, End: end,
		Status: readmodel.SpanStatus(rec.StatusCode), StatusMessage: rec.StatusMessage,
	}
	if attrs {
		s.Attributes, s.Resource = nonNil(rec.Attributes), nonNil(rec.Resource)
	}
	return s
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// rangeTime formats a range bound with all nine fraction digits: OpenSearch
// fills a date's missing parts with the end of the unit for gt and lte, so
// "…:04Z" as an lte bound would take in the whole second :04 where
// ClickHouse stops at :04.000000000.
func rangeTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }
