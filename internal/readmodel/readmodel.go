// Package readmodel is every read obsplane serves, as typed requests and
// results: the logs adapter's logs and events, /api/logs (newest N, cursor
// pages, streams), traces by id, trace search, the tracing adapter's traces,
// spans and span by id, service topology, latency percentiles, error
// groups, trace-to-log correlation, full-text search (LogFilter.Search) and
// PPL. The methods are grouped by signal into three small interfaces — Logs,
// Traces, Analytics — which Reader joins; a store's backend implements them
// (internal/readmodel/clickhouse, the OpenSearch backends under
// internal/opensearch), the router implements them again by choosing a
// backend per caller, and the HTTP handlers call them.
//
// Every method takes the caller's Tenancy as an explicit argument, the way
// VictoriaLogs passes tenant IDs into its one query entry point, rather
// than finding it in a context: a backend cannot forget to scope a read it
// was never given the scope of, and a test can call any read for any
// tenant. A backend scopes every read to Tenancy itself; the HTTP layer's own
// checks are for early, well-worded errors only.
//
// Decisions taken where the issue was silent:
//   - Results are domain values with no JSON tags; each HTTP contract maps
//     them to its own JSON. Values are already normalized the way every
//     backend must report them (levels by package loglevel, span status as
//     ok/error/unset), so two backends' answers compare field by field.
//   - A request's validation that any contract would make (ranges, limits)
//     stays in the handlers, which name the offending field in the
//     contract's terms; the backends refuse what they cannot answer with a
//     typed *Error (Invalid, Forbidden, NotFound, Limit, Unsupported).
//   - tookMs is measured by the handlers around the call, the same way for
//     every backend.
//   - PPL rows are JSON values as the engine renders them: PPL's output
//     columns are whatever the query computes.
package readmodel

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Tenancy is who reads and which OpenChoreo namespaces they may read.
type Tenancy struct {
	// Subject identifies the caller (a JWT subject); the router buckets the
	// rollout by it.
	Subject string
	// Namespaces are the namespaces the caller may read (when !All).
	Namespaces []string
	// All lets the caller read every namespace.
	All bool
}

// Allows reports whether t may read namespace ns.
func (t Tenancy) Allows(ns string) bool { return t.All || slices.Contains(t.Namespaces, ns) }

// Require returns a Forbidden error unless t may read ns.
func (t Tenancy) Require(ns string) error {
	if t.Allows(ns) {
		return nil
	}
	who := t.Subject
	if who == "" {
		who = "caller"
	}
	if len(ns) > 128 {
		ns = ns[:128] + "..."
	}
	return Forbidden("subject %s has no permission to read namespace %q", who, ns)
}

// RequireIf is Require for a namespace filter that may be empty (no
// filter: the read is scoped to every namespace t may read).
func (t Tenancy) RequireIf(ns string) error {
	if ns == "" {
		return nil
	}
	return t.Require(ns)
}

// Guard returns a Forbidden error when t may read no namespace at all: the
// answer is then "forbidden", never an empty result that would look like
// "no data".
func (t Tenancy) Guard() error {
	if t.All || len(t.Namespaces) > 0 {
		return nil
	}
	return Forbidden("the caller may read no namespace")
}

// Logs are the reads of log records and Kubernetes events.
type Logs interface {
	// QueryLogs is the logs adapter's logs query.
	QueryLogs(ctx context.Context, t Tenancy, q LogsQuery) (*LogsPage, error)
	// QueryEvents is the logs adapter's events query; q has no Levels or
	// Phrase.
	QueryEvents(ctx context.Context, t Tenancy, q LogsQuery) (*EventsPage, error)
	// TailLogs is /api/logs: the newest f.Limit lines, after f.After.
	TailLogs(ctx context.Context, t Tenancy, f LogFilter) (*LogLines, error)
	// StreamLogs calls each with the newest f.Limit lines, newest first, as
	// they are read; an error from each ends the stream and is returned.
	StreamLogs(ctx context.Context, t Tenancy, f LogFilter, each func(LogLine) error) error
	// TraceLogs are the logs of one trace, oldest first.
	TraceLogs(ctx context.Context, t Tenancy, q TraceLogsQuery) ([]LogLine, error)
	// CountLogs counts the lines an alert rule watches.
	CountLogs(ctx context.Context, t Tenancy, q LogCount) (uint64, error)
}

// Traces are the reads of spans and traces.
type Traces interface {
	// QueryTraces is the tracing adapter's traces query.
	QueryTraces(ctx context.Context, t Tenancy, q TracesQuery) (*TracesPage, error)
	// QuerySpans is the tracing adapter's spans of one trace (q.TraceID).
	QuerySpans(ctx context.Context, t Tenancy, q TracesQuery) (*SpansPage, error)
	// GetSpan is one span, NotFound when t can see no such span.
	GetSpan(ctx context.Context, t Tenancy, ref SpanRef) (*Span, error)
	// GetTrace is every span of one trace, NotFound when t can see none.
	GetTrace(ctx context.Context, t Tenancy, traceID string) (*Trace, error)
	// SearchTraces lists traces with a span matching q.
	SearchTraces(ctx context.Context, t Tenancy, q TraceSearch) ([]TraceSummary, error)
}

// Analytics are aggregations over spans, and PPL.
type Analytics interface {
	Topology(ctx context.Context, t Tenancy, q TopologyQuery) ([]Edge, error)
	Latency(ctx context.Context, t Tenancy, q LatencyQuery) ([]LatencyPoint, error)
	ErrorGroups(ctx context.Context, t Tenancy, q ErrorsQuery) ([]ErrorGroup, error)
	PPL(ctx context.Context, t Tenancy, q PPLQuery) (*Table, error)
}

// Reader is every read.
type Reader interface {
	Logs
	Traces
	Analytics
}

// Backend joins one store's implementations of the three interfaces into a
// Reader; embed Unsupported for the groups a store has none of.
type Backend struct {
	Logs
	Traces
	Analytics
}

// Selector narrows a read to one namespace and, within it, a project,
// component and environment, each matched by name or uid. Empty fields do
// not narrow.
type Selector struct {
	Namespace, Project, Component, Environment string
}

// Window is a time range including both ends.
type Window struct {
	Since, Until time.Time
}

// LogsQuery is the logs adapter's query of logs or events.
type LogsQuery struct {
	// Start and End bound the time range; both ends are excluded.
	Start, End time.Time
	// Limit is the page size; Desc sorts newest first.
	Limit int
	Desc  bool
	// Namespace is always set. A component scope narrows it by the uids
	// that are set; a workflow scope sets WorkflowRunName (and maybe
	// TaskName) and reads the run's pods in namespace workflows-<Namespace>.
	Namespace                                string
	ProjectUID, ComponentUID, EnvironmentUID string
	WorkflowRunName, TaskName                string
	// Levels keeps lines of any of these levels; empty keeps all.
	Levels []string
	// Phrase keeps lines containing it, case-insensitively.
	Phrase string
}

// Workflow reports whether q is a workflow scope rather than a component
// scope.
func (q LogsQuery) Workflow() bool { return q.WorkflowRunName != "" }

// TotalCap is where the adapters' totals stop counting.
const TotalCap = 1000

// LogsPage is a page of the logs adapter's logs and the total matching
// lines, counted up to TotalCap.
type LogsPage struct {
	Entries []LogEntry
	Total   int
}

// LogEntry is one log line as the logs adapter reports it.
type LogEntry struct {
	Timestamp time.Time
	Body      string
	// Level is loglevel.Of the record.
	Level                                      string
	Component, Project, Environment, Namespace string
	ComponentUID, ProjectUID, EnvironmentUID   string
	Container, Pod, PodNamespace               string
}

// EventsPage is a page of Kubernetes events and the total, up to TotalCap.
type EventsPage struct {
	Events []Event
	Total  int
}

// Event is one Kubernetes event with the OpenChoreo labels of its object.
type Event struct {
	Timestamp                                  time.Time
	Message, Type, Reason                      string
	ObjectKind, ObjectName, ObjectNamespace    string
	Component, Project, Environment, Namespace string
	ComponentUID, ProjectUID, EnvironmentUID   string
}

// objectLabel prefixes the OpenChoreo labels of an event's object, as the
// gateway's enrich processor copies them onto the resource.
const objectLabel = "k8s.object.label.openchoreo.dev/"

// NewEvent builds an event from its stored fields the way every backend
// reports it: resource holds the k8s.object.* attributes.
func NewEvent(ts time.Time, message, typ, reason, objectNamespace string, resource map[string]string) Event {
	l := func(k string) string { return resource[objectLabel+k] }
	return Event{Timestamp: ts.UTC(), Message: message, Type: typ, Reason: reason,
		ObjectKind: resource["k8s.object.kind"], ObjectName: resource["k8s.object.name"], ObjectNamespace: objectNamespace,
		Component: l("component"), Project: l("project"), Environment: l("environment"), Namespace: l("namespace"),
		ComponentUID: l("component-uid"), ProjectUID: l("project-uid"), EnvironmentUID: l("environment-uid")}
}

// LogFilter is /api/logs: the newest Limit lines matching every field.
type LogFilter struct {
	Selector
	Window
	Service, TraceID string
	// Levels keeps lines of any of these levels (upper case).
	Levels []string
	// Search is the q= search syntax (terms, "phrases", AND/OR/NOT,
	// field:value), compiled by internal/query.
	Search string
	Limit  int
	// After resumes after a line of an earlier page.
	After *Cursor
}

// Cursor is the position of a line in the (Timestamp, row key) order, a
// total order: lines after it neither repeat nor skip lines sharing its
// timestamp.
type Cursor struct {
	Time time.Time
	Key  uint64
}

// MaxStreamLines bounds a stream.
const MaxStreamLines = 1000000

// LogLines is a page of /api/logs, newest first; Next continues it and is
// nil on the last page.
type LogLines struct {
	Lines []LogLine
	Next  *Cursor
}

// LogLine is one line of /api/logs and of trace-to-log correlation.
type LogLine struct {
	Timestamp                                  time.Time
	Level, Body, Service                       string
	Namespace, Project, Component, Environment string
	Pod, Container                             string
	TraceID, SpanID                            string
	Attributes                                 map[string]string
	// Cursor is this line's position; nil from a backend without one.
	Cursor *Cursor
}

// TraceLogsQuery asks for the logs of one trace.
type TraceLogsQuery struct {
	TraceID string
	Limit   int
}

// LogCount counts the lines of one component in (From, To] that contain
// Phrase (case-insensitively; empty matches every line).
type LogCount struct {
	Namespace, ProjectUID, EnvironmentUID, ComponentUID string
	Phrase                                              string
	From, To                                            time.Time
}

// TracesQuery is the tracing adapter's traces or spans query.
type TracesQuery struct {
	// A span is in range when it starts at or after Start and ends at or
	// before End.
	Start, End time.Time
	Limit      int
	Desc       bool
	// Attributes includes span and resource attributes in span lists.
	Attributes bool
	// Selector's Namespace is always set; the rest match OpenChoreo uids
	// (ClickHouse also matches names).
	Selector
	// TraceID (lower-case hex) selects one trace's spans (QuerySpans).
	TraceID string
}

// TracesPage is a page of traces and the total, up to TotalCap.
type TracesPage struct {
	Traces []TraceSummary
	Total  int
}

// TraceSummary is one trace: its span count, root span, time span and
// whether any span failed.
type TraceSummary struct {
	TraceID                                string
	SpanCount                              int
	RootSpanID, RootSpanName, RootSpanKind string
	Start, End                             time.Time
	HasErrors                              bool
}

// SpansPage is a page of spans and the total, up to TotalCap.
type SpansPage struct {
	Spans []Span
	Total int
}

// SpanRef names one span.
type SpanRef struct{ TraceID, SpanID string }

// Span is one span. Status is "ok", "error" or "unset".
type Span struct {
	TraceID, SpanID, ParentSpanID string
	Name, Kind, Service           string
	Start, End                    time.Time
	Status, StatusMessage         string
	// Attributes and Resource are set only when asked for.
	Attributes, Resource map[string]string
}

// Trace is every span of one trace, oldest first.
type Trace struct {
	TraceID string
	Spans   []Span
}

// TraceSearch lists the traces with a span in Window matching every set
// field, newest first.
type TraceSearch struct {
	Selector
	Window
	Service, Operation string
	// Kind is a span kind as the exporter writes it (Server, Client, ...);
	// Status one of Error, Ok, Unset.
	Kind, Status string
	// MinDuration and MaxDuration bound a span's duration when not nil.
	MinDuration, MaxDuration *time.Duration
	Limit                    int
}

// TopologyQuery asks for the service call graph in a window.
type TopologyQuery struct {
	Selector
	Window
}

// Edge is one caller->callee pair of the service topology: calls received
// by Child (a Server or Consumer span) under a call made by Parent (a
// Client or Producer span) in another service, with the callee's latency.
type Edge struct {
	Parent, Child       string
	Calls, Errors       uint64
	P50Ms, P95Ms, P99Ms float64
}

// LatencyQuery asks for P50/P95/P99 of SERVER spans per service and 5
// minutes.
type LatencyQuery struct {
	Selector
	Window
	Service string
}

// LatencyPoint is one 5-minute bucket of one service.
type LatencyPoint struct {
	Service             string
	Bucket              time.Time
	Count               uint64
	P50Ms, P95Ms, P99Ms float64
}

// ErrorsQuery asks for error spans grouped by service, span name and
// message, the largest groups first.
type ErrorsQuery struct {
	Selector
	Window
	Service string
	Limit   int
}

// ErrorGroup is one group of error spans.
type ErrorGroup struct {
	Service, SpanName, Message string
	Count                      uint64
	FirstSeen, LastSeen        time.Time
	SampleTraceID              string
}

// PPLQuery is an OpenSearch Piped Processing Language query.
type PPLQuery struct {
	Query string
	// MaxRows caps the rows (head N is clamped to it).
	MaxRows int
}

// Table is a PPL answer: the output columns and the rows, each value as
// JSON.
type Table struct {
	Columns []string
	Rows    [][]json.RawMessage
}

// SpanStatus maps a stored status code (Unset, Ok, Error, or the
// STATUS_CODE_* forms) to "ok", "error" or "unset".
func SpanStatus(code string) string {
	switch strings.ToLower(strings.TrimPrefix(strings.ToUpper(code), "STATUS_CODE_")) {
	case "error":
		return "error"
	case "ok":
		return "ok"
	}
	return "unset"
}

// Counts are the migration's reads: the counts the validation job compares
// between the two stores (`obsplane migrate validate`).
type Counts interface {
	// CountWindow counts one signal's records with time in [q.From, q.To),
	// in total and, when q.GroupBy is set, per OpenChoreo namespace or
	// component (logs).
	CountWindow(ctx context.Context, t Tenancy, q WindowCount) (*WindowCounts, error)
}

// The signals CountWindow counts.
const (
	SignalLogs   = "logs"
	SignalTraces = "traces"
	// SignalEvents are Kubernetes events: otel_logs rows with a
	// k8s.event.reason attribute, k8s-events-* documents.
	SignalEvents = "events"
)

// WindowCount is one window's count of one signal.
type WindowCount struct {
	Signal   string
	From, To time.Time
	// GroupBy is "", "namespace" or "component"; logs only.
	GroupBy string
}

// Check refuses a count that names no known signal or grouping.
func (q WindowCount) Check() error {
	switch q.Signal {
	case SignalLogs, SignalTraces, SignalEvents:
	default:
		return Invalid("unknown signal %q (want logs, traces or events)", q.Signal)
	}
	switch q.GroupBy {
	case "":
	case "namespace", "component":
		if q.Signal != SignalLogs {
			return Invalid("group by %s: only logs carry the OpenChoreo labels the same way in both stores", q.GroupBy)
		}
	default:
		return Invalid("unknown grouping %q (want namespace or component)", q.GroupBy)
	}
	if !q.To.After(q.From) {
		return Invalid("window end %s is not after its start %s", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	return nil
}

// WindowCounts is a window's count; Groups is empty unless grouped.
type WindowCounts struct {
	Total  int64
	Groups map[string]int64
}
