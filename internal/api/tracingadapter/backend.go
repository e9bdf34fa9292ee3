package tracingadapter

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
)

// This file is the seam between the tracing adapter's HTTP side and the
// store that answers it, so the router can send one validated query to
// ClickHouse or to OpenSearch (internal/opensearch/tracesbackend) and
// compare the answers.

// TracesQuery is a validated traces or spans query, the input every Backend
// answers.
type TracesQuery struct {
	// A span is in range when it starts at or after Start and ends at or
	// before End.
	Start, End time.Time
	// Limit is 1..MaxLimit; Desc sorts newest first.
	Limit int
	Desc  bool
	// Attrs includes span and resource attributes in span lists.
	Attrs bool
	// Namespace is always set; Project, Component and Environment narrow
	// it when not empty (OpenChoreo uids; ClickHouse also accepts names).
	Namespace                       string
	Project, Component, Environment string
	// TraceID, lower-case hex, selects one trace's spans (QuerySpans).
	TraceID string
}

// Backend answers tracing adapter queries from one store. The caller has
// checked that the principal in ctx (auth.FromContext) may read
// q.Namespace; SpanDetails scopes itself to the principal's namespaces.
type Backend interface {
	QueryTraces(ctx context.Context, q TracesQuery) (*TracesListResponse, error)
	QuerySpans(ctx context.Context, q TracesQuery) (*TraceSpansListResponse, error)
	// SpanDetails returns the span, or an error wrapping a 404
	// *httpx.Error when the caller can see no such span.
	SpanDetails(ctx context.Context, traceID, spanID string) (*Span, error)
}

// SpanNotFound is the error for a span the caller cannot see. The OpenSearch module
// answers 500 "span not found"; a missing span is the caller's input, so
// obsplane answers 404 with that text, and the router does not count it
// against the backend.
func SpanNotFound() error { return router.ClientError(httpx.NotFound("span not found")) }

// serve answers one read through the router, from ClickHouse and, when
// configured, OpenSearch.
func serve[T any](h *Handler, w http.ResponseWriter, r *http.Request, op string,
	call func(context.Context, Backend) (T, error), digest func(T) router.Result) error {
	return httpx.Routed(w, r, h.Router, op, Backend(&ClickHouse{Store: h.Store, Limits: h.Limits}), h.OpenSearch, call, digest)
}

func (h *Handler) queryTraces(w http.ResponseWriter, r *http.Request) error {
	q, err := h.parse(r)
	if err != nil {
		return err
	}
	return serve(h, w, r, "traces.query",
		func(ctx context.Context, b Backend) (*TracesListResponse, error) { return b.QueryTraces(ctx, q) },
		func(resp *TracesListResponse) router.Result {
			keys := make([]string, len(resp.Traces))
			for i, t := range resp.Traces {
				// OpenSearch orders traces by their start in milliseconds.
				keys[i] = t.StartTime.Truncate(time.Millisecond).String()
			}
			return router.Result{Total: resp.Total, IDs: router.SortTies(router.DigestJSON(resp.Traces), keys)}
		})
}

func (h *Handler) querySpans(w http.ResponseWriter, r *http.Request) error {
	id, err := ValidTraceID(r.PathValue("traceId"))
	if err != nil {
		return err
	}
	q, err := h.parse(r)
	if err != nil {
		return err
	}
	q.TraceID = id
	return serve(h, w, r, "spans.query",
		func(ctx context.Context, b Backend) (*TraceSpansListResponse, error) { return b.QuerySpans(ctx, q) },
		func(resp *TraceSpansListResponse) router.Result {
			return router.Result{Total: resp.Total, IDs: router.DigestJSON(resp.Spans)}
		})
}

func (h *Handler) spanDetails(w http.ResponseWriter, r *http.Request) error {
	id, err := ValidTraceID(r.PathValue("traceId"))
	if err != nil {
		return err
	}
	spanID := r.PathValue("spanId")
	if !hexID.MatchString(spanID) || len(spanID) > 32 {
		return httpx.BadRequest("spanId %q is not a hex span id", httpx.Truncate(spanID, 80))
	}
	spanID = strings.ToLower(spanID)
	return serve(h, w, r, "span.get",
		func(ctx context.Context, b Backend) (*Span, error) { return b.SpanDetails(ctx, id, spanID) },
		func(s *Span) router.Result { return router.Result{Total: 1, IDs: router.DigestJSON([]*Span{s})} })
}
