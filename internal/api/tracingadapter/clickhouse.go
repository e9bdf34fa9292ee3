package tracingadapter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/store"
)

// ClickHouse is the Backend on otel.otel_traces.
type ClickHouse struct {
	Store  store.Store
	Limits httpx.Limits
}

var _ Backend = (*ClickHouse)(nil)

func cond(where []string) string { return "(" + strings.Join(where, ") AND (") + ")" }

// where is q as SQL conditions on otel_traces, scoped to the caller's
// namespaces, with their parameters.
func (b *ClickHouse) where(ctx context.Context, q TracesQuery) ([]string, store.Params, error) {
	params := store.Params{
		"ns":    q.Namespace,
		"start": httpx.TimeParam(q.Start),
		"end":   httpx.TimeParam(q.End),
	}
	tenant, err := httpx.TenantClause(auth.FromContext(ctx), "OpenChoreoNamespace", params)
	if err != nil {
		return nil, nil, err
	}
	where := []string{tenant, "OpenChoreoNamespace = {ns:String}",
		"Timestamp >= {start:DateTime64(9, 'UTC')}",
		"addNanoseconds(Timestamp, Duration) <= {end:DateTime64(9, 'UTC')}"}
	for _, f := range []struct{ name, uidCol, nameCol, v string }{
		{"project", "OpenChoreoProjectUID", "OpenChoreoProject", q.Project},
		{"component", "OpenChoreoComponentUID", "OpenChoreoComponent", q.Component},
		{"environment", "OpenChoreoEnvironmentUID", "OpenChoreoEnvironment", q.Environment},
	} {
		if f.v == "" {
			continue
		}
		where = append(where, fmt.Sprintf("%s = {%s:String} OR %s = {%s:String}", f.uidCol, f.name, f.nameCol, f.name))
		params[f.name] = f.v
	}
	if q.TraceID != "" {
		where = append(where, "TraceId = {trace:String}")
		params["trace"] = q.TraceID
	}
	return where, params, nil
}

func direction(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

// QueryTraces lists the traces with a root span in range.
func (b *ClickHouse) QueryTraces(ctx context.Context, q TracesQuery) (*TracesListResponse, error) {
	where, params, err := b.where(ctx, q)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	c := cond(where)
	out := &TracesListResponse{Traces: []TraceSummary{}}
	err = b.each(ctx, TraceListSQL(c, direction(q.Desc), q.Limit), params, func(rows store.Rows) error {
		var t TraceRow
		if err := rows.Scan(&t); err != nil {
			return err
		}
		out.Traces = append(out.Traces, t.Summary())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("traces query: %w", err)
	}
	total, err := b.count(ctx, `SELECT count() AS n FROM (SELECT DISTINCT TraceId FROM otel.otel_traces WHERE `+c+
		` AND ParentSpanId = '' LIMIT `+strconv.Itoa(TotalCap)+`)`, params)
	if err != nil {
		return nil, fmt.Errorf("traces query: %w", err)
	}
	out.Total, out.TookMs = total, time.Since(began).Milliseconds()
	return out, nil
}

// QuerySpans lists one trace's spans in range.
func (b *ClickHouse) QuerySpans(ctx context.Context, q TracesQuery) (*TraceSpansListResponse, error) {
	where, params, err := b.where(ctx, q)
	if err != nil {
		return nil, err
	}
	dir := direction(q.Desc)
	began := time.Now()
	c := cond(where)
	out := &TraceSpansListResponse{Spans: []Span{}}
	err = b.each(ctx, "SELECT "+SpanCols+" FROM otel.otel_traces WHERE "+c+
		" ORDER BY Timestamp "+dir+", SpanId "+dir+" LIMIT "+strconv.Itoa(q.Limit), params, func(rows store.Rows) error {
		var s SpanRow
		if err := rows.Scan(&s); err != nil {
			return err
		}
		out.Spans = append(out.Spans, s.Span(q.Attrs))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spans query: %w", err)
	}
	total, err := b.count(ctx, "SELECT count() AS n FROM (SELECT 1 FROM otel.otel_traces WHERE "+c+" LIMIT "+strconv.Itoa(TotalCap)+")", params)
	if err != nil {
		return nil, fmt.Errorf("spans query: %w", err)
	}
	out.Total, out.TookMs = total, time.Since(began).Milliseconds()
	return out, nil
}

// SpanDetails reads one span within the caller's namespaces.
func (b *ClickHouse) SpanDetails(ctx context.Context, traceID, spanID string) (*Span, error) {
	params := store.Params{"trace": traceID, "span": spanID}
	tenant, err := httpx.TenantClause(auth.FromContext(ctx), "OpenChoreoNamespace", params)
	if err != nil {
		return nil, err
	}
	var found *Span
	err = b.each(ctx, "SELECT "+SpanCols+" FROM otel.otel_traces WHERE ("+tenant+
		") AND TraceId = {trace:String} AND SpanId = {span:String} AND "+TraceWindow+" LIMIT 1", params, func(rows store.Rows) error {
		var s SpanRow
		if err := rows.Scan(&s); err != nil {
			return err
		}
		sp := s.Span(true)
		found = &sp
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("span details: %w", err)
	}
	if found == nil {
		return nil, SpanNotFound()
	}
	return found, nil
}

func (b *ClickHouse) each(ctx context.Context, sql string, params store.Params, f func(store.Rows) error) error {
	return store.Each(ctx, b.Store, sql, params, func(rows store.Rows) error {
		if err := f(rows); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		return nil
	}, b.Limits.Settings()...)
}

func (b *ClickHouse) count(ctx context.Context, sql string, params store.Params) (int, error) {
	var n struct {
		N int `json:"n"`
	}
	err := b.each(ctx, sql, params, func(rows store.Rows) error { return rows.Scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n.N, nil
}
