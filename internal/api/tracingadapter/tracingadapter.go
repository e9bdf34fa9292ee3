// Package tracingadapter serves OpenChoreo's tracing adapter API (default
// :9100), the contract in openchoreo/openchoreo
// openapi/observability-tracing-adapter-api.yaml, from the read model:
// handlers parse a request into a readmodel.TracesQuery, call the read
// model with the caller's tenancy, and write the contract's JSON.
//
// As in OpenChoreo's OpenSearch module: a span is in range when it starts
// at or after startTime and ends at or before endTime; the scope's project,
// component and environment match the OpenChoreo uid resource attributes
// (obsplane also accepts the names); a trace is listed only when its root
// span (no parent) is in range; traces are ordered by their first span's
// start, and their duration runs from the first span's start to the last
// span's end. Ties are broken by trace id (traces) and span id (spans), so
// the order is total. Errors carry both "message" and the contract's
// "detail". A span the caller cannot see is a 404 "span not found" (the
// OpenSearch module answers 500 with that text; a missing span is the
// caller's input).
package tracingadapter

import (
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Contract limits.
const (
	DefaultLimit  = 100
	MaxLimit      = 1000
	MaxScopeValue = 253
)

// Handler serves the tracing adapter API.
type Handler struct {
	// Reads answers the queries (the router's read model in serve).
	Reads readmodel.Traces
	// Health is pinged by GET /healthz.
	Health   httpx.Pinger
	Auth     auth.Authenticator
	Log      *slog.Logger
	MaxRange time.Duration
}

// Routes returns the adapter's HTTP handler.
func (h *Handler) Routes() http.Handler {
	httpx.Defaults(&h.MaxRange, &h.Log, &h.Auth)
	wrap := func(f httpx.HandlerFunc) http.HandlerFunc { return httpx.Wrap(h.Log, true, f) }
	api := http.NewServeMux()
	api.HandleFunc("POST /api/v1alpha1/traces/query", wrap(h.queryTraces))
	api.HandleFunc("POST /api/v1alpha1/traces/{traceId}/spans/query", wrap(h.querySpans))
	api.HandleFunc("GET /api/v1alpha1/traces/{traceId}/spans/{spanId}", wrap(h.spanDetails))
	authed := auth.Middleware(h.Auth, api, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, httpx.Unauthorized("%s", msg), true)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", httpx.StoreHealth(h.Health))
	root.Handle("/", authed)
	return httpx.JSONErrors(root, true)
}

// TracesQueryRequest is the contract's TracesQueryRequest.
type TracesQueryRequest struct {
	StartTime   *string `json:"startTime"`
	EndTime     *string `json:"endTime"`
	Limit       *int    `json:"limit"`
	SortOrder   *string `json:"sortOrder"`
	SearchScope *struct {
		Namespace   string  `json:"namespace"`
		Project     *string `json:"project"`
		Component   *string `json:"component"`
		Environment *string `json:"environment"`
	} `json:"searchScope"`
	IncludeAttributes *bool `json:"includeAttributes"`
}

// ParseTracesQuery validates a request as the contract says; errors are
// 400s (*httpx.Error).
func ParseTracesQuery(req TracesQueryRequest, maxRange time.Duration) (readmodel.TracesQuery, error) {
	var missing []string
	if req.StartTime == nil {
		missing = append(missing, "'startTime'")
	}
	if req.EndTime == nil {
		missing = append(missing, "'endTime'")
	}
	if req.SearchScope == nil {
		missing = append(missing, "'searchScope'")
	}
	if len(missing) > 0 {
		return readmodel.TracesQuery{}, httpx.BadRequest("missing required fields %s", strings.Join(missing, " and "))
	}
	q := readmodel.TracesQuery{Limit: DefaultLimit, Desc: true}
	var err error
	if q.Start, err = httpx.ParseDateTime("startTime", *req.StartTime); err != nil {
		return readmodel.TracesQuery{}, err
	}
	if q.End, err = httpx.ParseDateTime("endTime", *req.EndTime); err != nil {
		return readmodel.TracesQuery{}, err
	}
	if err := httpx.CheckRange(q.Start, q.End, maxRange); err != nil {
		return readmodel.TracesQuery{}, err
	}
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > MaxLimit {
			return readmodel.TracesQuery{}, httpx.BadRequest("limit %d is out of range: want 1 to %d", *req.Limit, MaxLimit)
		}
		q.Limit = *req.Limit
	}
	if req.SortOrder != nil {
		switch *req.SortOrder {
		case "asc":
			q.Desc = false
		case "desc":
		default:
			return readmodel.TracesQuery{}, httpx.BadRequest("sortOrder %q is not one of asc, desc", httpx.Truncate(*req.SortOrder, 32))
		}
	}
	if req.IncludeAttributes != nil {
		q.Attributes = *req.IncludeAttributes
	}
	sc := req.SearchScope
	if strings.TrimSpace(sc.Namespace) == "" {
		return readmodel.TracesQuery{}, httpx.BadRequest("namespace is required")
	}
	if len(sc.Namespace) > MaxScopeValue {
		return readmodel.TracesQuery{}, httpx.BadRequest("searchScope.namespace is longer than %d characters", MaxScopeValue)
	}
	q.Namespace = sc.Namespace
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"project", sc.Project, &q.Project}, {"component", sc.Component, &q.Component}, {"environment", sc.Environment, &q.Environment}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		if len(*f.v) > MaxScopeValue {
			return readmodel.TracesQuery{}, httpx.BadRequest("searchScope.%s is longer than %d characters", f.name, MaxScopeValue)
		}
		*f.dst = *f.v
	}
	return q, nil
}

// parse reads and validates the request body.
func (h *Handler) parse(r *http.Request) (readmodel.TracesQuery, error) {
	var req TracesQueryRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return readmodel.TracesQuery{}, err
	}
	return ParseTracesQuery(req, h.MaxRange)
}

func (h *Handler) queryTraces(w http.ResponseWriter, r *http.Request) error {
	q, err := h.parse(r)
	if err != nil {
		return err
	}
	began := time.Now()
	page, err := h.Reads.QueryTraces(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := &TracesListResponse{Traces: make([]TraceSummary, 0, len(page.Traces)), Total: page.Total}
	for _, t := range page.Traces {
		out.Traces = append(out.Traces, Summary(t))
	}
	out.TookMs = time.Since(began).Milliseconds()
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
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
	began := time.Now()
	page, err := h.Reads.QuerySpans(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := &TraceSpansListResponse{Spans: make([]Span, 0, len(page.Spans)), Total: page.Total}
	for _, s := range page.Spans {
		out.Spans = append(out.Spans, SpanOf(s))
	}
	out.TookMs = time.Since(began).Milliseconds()
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
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
	s, err := h.Reads.GetSpan(r.Context(), httpx.Tenancy(r), readmodel.SpanRef{TraceID: id, SpanID: strings.ToLower(spanID)})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, SpanOf(*s))
	return nil
}

// TraceSummary is one item of TracesListResponse.traces.
type TraceSummary struct {
	TraceID      string    `json:"traceId"`
	TraceName    string    `json:"traceName"`
	SpanCount    int       `json:"spanCount"`
	RootSpanID   string    `json:"rootSpanId"`
	RootSpanName string    `json:"rootSpanName"`
	RootSpanKind string    `json:"rootSpanKind"`
	StartTime    time.Time `json:"startTime"`
	EndTime      time.Time `json:"endTime"`
	DurationNs   int64     `json:"durationNs"`
	HasErrors    bool      `json:"hasErrors"`
}

// TracesListResponse is the contract's TracesListResponse.
type TracesListResponse struct {
	Traces []TraceSummary `json:"traces"`
	Total  int            `json:"total"`
	TookMs int64          `json:"tookMs"`
}

// Summary is the contract's form of a trace summary: its name is the root
// span's, its duration runs from the first span's start to the last span's
// end.
func Summary(t readmodel.TraceSummary) TraceSummary {
	return TraceSummary{TraceID: t.TraceID, TraceName: t.RootSpanName, SpanCount: t.SpanCount, RootSpanID: t.RootSpanID,
		RootSpanName: t.RootSpanName, RootSpanKind: t.RootSpanKind, StartTime: t.Start, EndTime: t.End,
		DurationNs: t.End.Sub(t.Start).Nanoseconds(), HasErrors: t.HasErrors}
}

var hexID = regexp.MustCompile(`^[0-9a-fA-F]{1,64}$`)

// ValidTraceID checks a trace id (hex, as the exporter writes it).
func ValidTraceID(id string) (string, error) {
	if !hexID.MatchString(id) {
		return "", httpx.BadRequest("traceId %q is not a hex trace id", httpx.Truncate(id, 80))
	}
	return strings.ToLower(id), nil
}

// SpanStatus is the contract's SpanStatus.
type SpanStatus struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Span is an item of TraceSpansListResponse.spans and the body of
// TraceSpanDetailsResponse.
type Span struct {
	SpanID             string            `json:"spanId"`
	SpanName           string            `json:"spanName"`
	SpanKind           string            `json:"spanKind"`
	StartTime          time.Time         `json:"startTime"`
	EndTime            time.Time         `json:"endTime"`
	DurationNs         int64             `json:"durationNs"`
	ParentSpanID       string            `json:"parentSpanId"`
	Status             SpanStatus        `json:"status"`
	Attributes         map[string]string `json:"attributes,omitempty"`
	ResourceAttributes map[string]string `json:"resourceAttributes,omitempty"`
}

// SpanOf is the contract's form of a span; attributes appear when the read
// asked for them.
func SpanOf(s readmodel.Span) Span {
	return Span{SpanID: s.SpanID, SpanName: s.Name, SpanKind: s.Kind, StartTime: s.Start, EndTime: s.End,
		DurationNs: s.End.Sub(s.Start).Nanoseconds(), ParentSpanID: s.ParentSpanID,
		Status:     SpanStatus{Code: s.Status, Message: s.StatusMessage},
		Attributes: s.Attributes, ResourceAttributes: s.Resource}
}

// TraceSpansListResponse is the contract's TraceSpansListResponse.
type TraceSpansListResponse struct {
	Spans  []Span `json:"spans"`
	Total  int    `json:"total"`
	TookMs int64  `json:"tookMs"`
}
