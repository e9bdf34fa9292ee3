// Package tracingadapter serves OpenChoreo's tracing adapter API (default
// :9100), the contract in openchoreo/openchoreo
// openapi/observability-tracing-adapter-api.yaml, from otel.otel_traces.
//
// As in OpenChoreo's OpenSearch module: a span is in range when it starts
// at or after startTime and ends at or before endTime; the scope's project,
// component and environment match the OpenChoreo uid resource attributes
// (obsplane also accepts the names); a trace is listed only when its root
// span (no parent) is in range; traces are ordered by their first span's
// start, and their duration runs from the first span's start to the last
// span's end. Ties are broken by trace id (traces) and span id (spans), so
// the order is total. Errors carry both "message" and the contract's
// "detail".
package tracingadapter

import (
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/store"
)

// Contract limits.
const (
	DefaultLimit  = 100
	MaxLimit      = 1000
	TotalCap      = 1000
	MaxScopeValue = 253
)

// Handler serves the tracing adapter API.
type Handler struct {
	Store    store.Store
	Auth     auth.Authenticator
	Log      *slog.Logger
	Limits   httpx.Limits
	MaxRange time.Duration
	// OpenSearch answers the same queries from OpenChoreo's otel-traces-*
	// indices during a migration; nil when there is none. Router picks the
	// backend per caller; nil answers from ClickHouse alone.
	OpenSearch Backend
	Router     *router.Router
}

// Routes returns the adapter's HTTP handler.
func (h *Handler) Routes() http.Handler {
	httpx.Defaults(&h.Limits, &h.MaxRange, &h.Log, &h.Auth)
	wrap := func(f httpx.HandlerFunc) http.HandlerFunc { return httpx.Wrap(h.Log, true, f) }
	api := http.NewServeMux()
	api.HandleFunc("POST /api/v1alpha1/traces/query", wrap(h.queryTraces))
	api.HandleFunc("POST /api/v1alpha1/traces/{traceId}/spans/query", wrap(h.querySpans))
	api.HandleFunc("GET /api/v1alpha1/traces/{traceId}/spans/{spanId}", wrap(h.spanDetails))
	authed := auth.Middleware(h.Auth, api, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, httpx.Unauthorized("%s", msg), true)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", httpx.StoreHealth(h.Store))
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
func ParseTracesQuery(req TracesQueryRequest, maxRange time.Duration) (TracesQuery, error) {
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
		return TracesQuery{}, httpx.BadRequest("missing required fields %s", strings.Join(missing, " and "))
	}
	q := TracesQuery{Limit: DefaultLimit, Desc: true}
	var err error
	if q.Start, err = parseDateTime("startTime", *req.StartTime); err != nil {
		return TracesQuery{}, err
	}
	if q.End, err = parseDateTime("endTime", *req.EndTime); err != nil {
		return TracesQuery{}, err
	}
	if err := httpx.CheckRange(q.Start, q.End, maxRange); err != nil {
		return TracesQuery{}, err
	}
	if req.Limit != nil {
		if *req.Limit < 1 || *req.Limit > MaxLimit {
			return TracesQuery{}, httpx.BadRequest("limit %d is out of range: want 1 to %d", *req.Limit, MaxLimit)
		}
		q.Limit = *req.Limit
	}
	if req.SortOrder != nil {
		switch *req.SortOrder {
		case "asc":
			q.Desc = false
		case "desc":
		default:
			return TracesQuery{}, httpx.BadRequest("sortOrder %q is not one of asc, desc", httpx.Truncate(*req.SortOrder, 32))
		}
	}
	if req.IncludeAttributes != nil {
		q.Attrs = *req.IncludeAttributes
	}
	sc := req.SearchScope
	if strings.TrimSpace(sc.Namespace) == "" {
		return TracesQuery{}, httpx.BadRequest("namespace is required")
	}
	if len(sc.Namespace) > MaxScopeValue {
		return TracesQuery{}, httpx.BadRequest("searchScope.namespace is longer than %d characters", MaxScopeValue)
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
			return TracesQuery{}, httpx.BadRequest("searchScope.%s is longer than %d characters", f.name, MaxScopeValue)
		}
		*f.dst = *f.v
	}
	return q, nil
}

// parse reads and validates the request body and checks that the caller may
// read its namespace.
func (h *Handler) parse(r *http.Request) (TracesQuery, error) {
	var req TracesQueryRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return TracesQuery{}, err
	}
	q, err := ParseTracesQuery(req, h.MaxRange)
	if err != nil {
		return TracesQuery{}, err
	}
	if err := httpx.RequireNamespace(auth.FromContext(r.Context()), q.Namespace); err != nil {
		return TracesQuery{}, err
	}
	return q, nil
}

func parseDateTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, httpx.BadRequest("%s %q is not an RFC 3339 date-time (e.g. 2026-01-02T15:04:05Z)", name, httpx.Truncate(v, 64))
	}
	return t.UTC(), nil
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

// TraceListSQL groups the spans matching cond by trace. It is shared with
// the obsplane API's trace search.
func TraceListSQL(cond, dir string, limit int) string {
	return `SELECT TraceId, toUInt64(count()) AS spanCount,
		toString(min(Timestamp)) AS startTime,
		toString(max(addNanoseconds(Timestamp, Duration))) AS endTime,
		argMinIf(SpanId, Timestamp, ParentSpanId = '') AS rootSpanId,
		argMinIf(SpanName, Timestamp, ParentSpanId = '') AS rootSpanName,
		argMinIf(SpanKind, Timestamp, ParentSpanId = '') AS rootSpanKind,
		countIf(StatusCode = 'Error') > 0 AS hasErrors
		FROM otel.otel_traces WHERE ` + cond + `
		GROUP BY TraceId HAVING countIf(ParentSpanId = '') > 0
		ORDER BY min(Timestamp) ` + dir + `, TraceId ` + dir + `
		LIMIT ` + strconv.Itoa(limit)
}

// TraceRow is a row of TraceListSQL.
type TraceRow struct {
	TraceID      string `json:"TraceId"`
	SpanCount    int    `json:"spanCount"`
	StartTime    string `json:"startTime"`
	EndTime      string `json:"endTime"`
	RootSpanID   string `json:"rootSpanId"`
	RootSpanName string `json:"rootSpanName"`
	RootSpanKind string `json:"rootSpanKind"`
	HasErrors    any    `json:"hasErrors"`
}

// Summary converts the row.
func (t TraceRow) Summary() TraceSummary {
	s := TraceSummary{TraceID: t.TraceID, TraceName: t.RootSpanName, SpanCount: t.SpanCount, RootSpanID: t.RootSpanID,
		RootSpanName: t.RootSpanName, RootSpanKind: t.RootSpanKind,
		StartTime: httpx.ParseCHTime(t.StartTime), EndTime: httpx.ParseCHTime(t.EndTime)}
	s.DurationNs = s.EndTime.Sub(s.StartTime).Nanoseconds()
	switch v := t.HasErrors.(type) {
	case bool:
		s.HasErrors = v
	case float64:
		s.HasErrors = v != 0
	}
	return s
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

// SpanCols are the columns SpanRow reads.
const SpanCols = `TraceId, SpanId, SpanName, SpanKind, toString(Timestamp) AS startTime, Duration, ParentSpanId,
	StatusCode, StatusMessage, ServiceName, SpanAttributes, ResourceAttributes`

// SpanRow is a row of SpanCols.
type SpanRow struct {
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

// Span converts the row; attributes only when attrs.
func (s SpanRow) Span(attrs bool) Span {
	st := httpx.ParseCHTime(s.StartTime)
	out := Span{SpanID: s.SpanID, SpanName: s.SpanName, SpanKind: s.SpanKind, StartTime: st,
		EndTime: st.Add(time.Duration(s.Duration)), DurationNs: s.Duration, ParentSpanID: s.ParentSpanID,
		Status: SpanStatus{Code: StatusCode(s.StatusCode), Message: s.StatusMessage}}
	if attrs {
		out.Attributes = nonNil(s.SpanAttributes)
		out.ResourceAttributes = nonNil(s.ResourceAttributes)
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// StatusCode maps the exporter's status names (Unset, Ok, Error, or the
// STATUS_CODE_* forms) to the contract's ok, error, unset.
func StatusCode(c string) string {
	switch strings.ToLower(strings.TrimPrefix(strings.ToUpper(c), "STATUS_CODE_")) {
	case "error":
		return "error"
	case "ok":
		return "ok"
	}
	return "unset"
}

// TraceSpansListResponse is the contract's TraceSpansListResponse.
type TraceSpansListResponse struct {
	Spans  []Span `json:"spans"`
	Total  int    `json:"total"`
	TookMs int64  `json:"tookMs"`
}

// TraceWindow narrows a trace-id lookup to the days the trace spans, using
// the otel_traces_trace_id_ts table, so only those days' partitions are
// read.
//
// Whole days, not the trace's exact span: the exact bounds made the lookup
// slower, not faster (9 spans at 900k spans: 60 ms against 39 ms, the same
// granules read), while partitions are days anyway. Both bounds come from
// one lookup: the same scalar subquery text appears twice and the engine
// evaluates it once.
const TraceWindow = `toDate(Timestamp) >= tupleElement((SELECT (toDate(min(Start)), toDate(max(End))) FROM otel.otel_traces_trace_id_ts WHERE TraceId = {trace:String}), 1)
	AND toDate(Timestamp) <= tupleElement((SELECT (toDate(min(Start)), toDate(max(End))) FROM otel.otel_traces_trace_id_ts WHERE TraceId = {trace:String}), 2)`
