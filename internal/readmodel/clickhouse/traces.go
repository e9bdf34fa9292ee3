package clickhouse

import (
	"context"
	"fmt"
	"time"

	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// QueryTraces lists the traces with a root span in range (the tracing
// adapter).
func (b *Backend) QueryTraces(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.TracesPage, error) {
	s, cond, err := b.begin(t, q.Namespace, true, q, "adapter_traces_cond")
	if err != nil {
		return nil, err
	}
	traces, err := b.traceList(ctx, s, cond, q.Desc, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("traces query: %w", err)
	}
	sql, err := s.set("Cond", cond, "Cap", readmodel.TotalCap).render("adapter_traces_total")
	if err != nil {
		return nil, err
	}
	total, err := b.count(ctx, "traces query", sql, s.Params)
	if err != nil {
		return nil, err
	}
	return &readmodel.TracesPage{Traces: traces, Total: int(total)}, nil
}

// traceList runs the trace_list statement over cond.
func (b *Backend) traceList(ctx context.Context, s *stmt, cond string, desc bool, limit int) ([]readmodel.TraceSummary, error) {
	sql, err := s.set("Cond", cond, "Desc", desc, "Limit", limit).render("trace_list")
	if err != nil {
		return nil, err
	}
	out := []readmodel.TraceSummary{}
	err = b.each(ctx, "trace list", sql, s.Params, 0, func(rows store.Rows) error {
		var r traceRow
		if err := rows.Scan(&r); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		out = append(out, r.summary())
		return nil
	})
	return out, err
}

type traceRow struct {
	TraceID      string `json:"TraceId"`
	SpanCount    int    `json:"spanCount"`
	StartTime    string `json:"startTime"`
	EndTime      string `json:"endTime"`
	RootSpanID   string `json:"rootSpanId"`
	RootSpanName string `json:"rootSpanName"`
	RootSpanKind string `json:"rootSpanKind"`
	HasErrors    any    `json:"hasErrors"`
}

func (r traceRow) summary() readmodel.TraceSummary {
	s := readmodel.TraceSummary{TraceID: r.TraceID, SpanCount: r.SpanCount, RootSpanID: r.RootSpanID,
		RootSpanName: r.RootSpanName, RootSpanKind: r.RootSpanKind,
		Start: store.ParseTime(r.StartTime), End: store.ParseTime(r.EndTime)}
	switch v := r.HasErrors.(type) {
	case bool:
		s.HasErrors = v
	case float64:
		s.HasErrors = v != 0
	}
	return s
}

// QuerySpans lists one trace's spans in range (the tracing adapter).
func (b *Backend) QuerySpans(ctx context.Context, t readmodel.Tenancy, q readmodel.TracesQuery) (*readmodel.SpansPage, error) {
	s, cond, err := b.begin(t, q.Namespace, true, q, "adapter_traces_cond")
	if err != nil {
		return nil, err
	}
	sql, err := s.set("Cond", cond).render("adapter_spans")
	if err != nil {
		return nil, err
	}
	out := &readmodel.SpansPage{Spans: []readmodel.Span{}}
	if err := b.eachSpan(ctx, "spans query", sql, s.Params, q.Attributes, func(sp readmodel.Span) { out.Spans = append(out.Spans, sp) }); err != nil {
		return nil, err
	}
	if out.Total, err = b.countCapped(ctx, s, "otel_traces", cond); err != nil {
		return nil, fmt.Errorf("spans query: %w", err)
	}
	return out, nil
}

// GetSpan reads one span within the tenancy.
func (b *Backend) GetSpan(ctx context.Context, t readmodel.Tenancy, ref readmodel.SpanRef) (*readmodel.Span, error) {
	s := b.stmt(t, ref).set("TraceID", ref.TraceID)
	sql, err := s.render("span_by_id")
	if err != nil {
		return nil, err
	}
	var found *readmodel.Span
	if err := b.eachSpan(ctx, "span details", sql, s.Params, true, func(sp readmodel.Span) { found = &sp }); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, readmodel.NotFound("span not found")
	}
	return found, nil
}

// GetTrace reads every span of one trace within the tenancy.
func (b *Backend) GetTrace(ctx context.Context, t readmodel.Tenancy, traceID string) (*readmodel.Trace, error) {
	s := b.stmt(t, nil).set("TraceID", traceID)
	sql, err := s.render("trace_by_id")
	if err != nil {
		return nil, err
	}
	out := &readmodel.Trace{TraceID: traceID, Spans: []readmodel.Span{}}
	if err := b.eachSpan(ctx, "trace "+traceID, sql, s.Params, true, func(sp readmodel.Span) { out.Spans = append(out.Spans, sp) }); err != nil {
		return nil, err
	}
	if len(out.Spans) == 0 {
		return nil, readmodel.NotFound("trace %s not found", traceID)
	}
	return out, nil
}

// SearchTraces lists the traces with a span matching q, newest first.
func (b *Backend) SearchTraces(ctx context.Context, t readmodel.Tenancy, q readmodel.TraceSearch) ([]readmodel.TraceSummary, error) {
	s, cond, err := b.begin(t, q.Namespace, false, q, "trace_search_cond")
	if err != nil {
		return nil, err
	}
	out, err := b.traceList(ctx, s, cond, true, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("trace search: %w", err)
	}
	return out, nil
}

func (b *Backend) eachSpan(ctx context.Context, what, sql string, params store.Params, attrs bool, f func(readmodel.Span)) error {
	return b.each(ctx, what, sql, params, 0, func(rows store.Rows) error {
		var r spanRow
		if err := rows.Scan(&r); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		f(r.span(attrs))
		return nil
	})
}

type spanRow struct {
	TraceID            string            `json:"TraceId"`
	SpanID             string            `json:"SpanId"`
	SpanName           string            `json:"SpanName"`
	SpanKind           string            `json:"SpanKind"`
	StartTime          string            `json:"startTime"`
	Duration           int64             `json:"Duration"`
	ParentSpanID       string            `json:"ParentSpanId"`
	StatusCode         string            `json:"StatusCode"`
	StatusMessage      string            `json:"StatusMessage"`
	ServiceName        string            `json:"ServiceName"`
	SpanAttributes     map[string]string `json:"SpanAttributes"`
	ResourceAttributes map[string]string `json:"ResourceAttributes"`
}

func (r spanRow) span(attrs bool) readmodel.Span {
	st := store.ParseTime(r.StartTime)
	out := readmodel.Span{TraceID: r.TraceID, SpanID: r.SpanID, ParentSpanID: r.ParentSpanID, Name: r.SpanName, Kind: r.SpanKind,
		Service: r.ServiceName, Start: st, End: st.Add(time.Duration(r.Duration)),
		Status: readmodel.SpanStatus(r.StatusCode), StatusMessage: r.StatusMessage}
	if attrs {
		out.Attributes, out.Resource = nonNil(r.SpanAttributes), nonNil(r.ResourceAttributes)
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
