package readmodel

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies a read's failure by whose it is.
type Kind int

// Kinds of *Error. Invalid, Forbidden and NotFound are the caller's; Limit
// is a per-query limit the engine enforced; Unsupported means this backend
// cannot answer the request at all (and did no I/O to find out).
const (
	KindInvalid Kind = iota + 1
	KindForbidden
	KindNotFound
	KindLimit
	KindUnsupported
)

// Error is a read that failed for a reason the caller can be told.
type Error struct {
	Kind Kind
	// Code is a stable identifier for Limit errors (OBS-QUERY-TIMEOUT, ...).
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUnsupported) true for every Unsupported error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t == ErrUnsupported && e.Kind == KindUnsupported
}

// ErrUnsupported is what errors.Is matches for an Unsupported error.
var ErrUnsupported = &Error{Kind: KindUnsupported, Msg: "this backend cannot answer this read"}

// Invalid is a request the store cannot answer as asked (bad search syntax,
// a range outside the indices).
func Invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Msg: fmt.Sprintf(format, args...)}
}

// Forbidden is a read of something the tenancy does not allow.
func Forbidden(format string, args ...any) error {
	return &Error{Kind: KindForbidden, Msg: fmt.Sprintf(format, args...)}
}

// NotFound is a read of one thing (a trace, a span) the tenancy cannot see.
func NotFound(format string, args ...any) error {
	return &Error{Kind: KindNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Limit is a read stopped by a per-query limit.
func Limit(code, format string, args ...any) error {
	return &Error{Kind: KindLimit, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// NotSupported says this backend cannot answer op; the router then asks
// the other backend.
func NotSupported(op string) error {
	return &Error{Kind: KindUnsupported, Msg: op + ": this backend cannot answer this read"}
}

// KindOf is err's Kind, 0 when err is not an *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// IsCallers reports whether err is the caller's doing (Invalid, Forbidden,
// NotFound): not a sign that the backend is unwell.
func IsCallers(err error) bool {
	switch KindOf(err) {
	case KindInvalid, KindForbidden, KindNotFound:
		return true
	}
	return false
}

// Unsupported implements every read by returning an Unsupported error
// without I/O; a backend embeds it and overrides the reads it can answer.
type Unsupported struct{}

var _ Reader = Unsupported{}

func (Unsupported) QueryLogs(context.Context, Tenancy, LogsQuery) (*LogsPage, error) {
	return nil, NotSupported("logs query")
}
func (Unsupported) QueryEvents(context.Context, Tenancy, LogsQuery) (*EventsPage, error) {
	return nil, NotSupported("events query")
}
func (Unsupported) TailLogs(context.Context, Tenancy, LogFilter) (*LogLines, error) {
	return nil, NotSupported("logs tail")
}
func (Unsupported) StreamLogs(context.Context, Tenancy, LogFilter, func(LogLine) error) error {
	return NotSupported("logs stream")
}
func (Unsupported) TraceLogs(context.Context, Tenancy, TraceLogsQuery) ([]LogLine, error) {
	return nil, NotSupported("trace logs")
}
func (Unsupported) CountLogs(context.Context, Tenancy, LogCount) (uint64, error) {
	return 0, NotSupported("logs count")
}
func (Unsupported) QueryTraces(context.Context, Tenancy, TracesQuery) (*TracesPage, error) {
	return nil, NotSupported("traces query")
}
func (Unsupported) QuerySpans(context.Context, Tenancy, TracesQuery) (*SpansPage, error) {
	return nil, NotSupported("spans query")
}
func (Unsupported) GetSpan(context.Context, Tenancy, SpanRef) (*Span, error) {
	return nil, NotSupported("span")
}
func (Unsupported) GetTrace(context.Context, Tenancy, string) (*Trace, error) {
	return nil, NotSupported("trace")
}
func (Unsupported) SearchTraces(context.Context, Tenancy, TraceSearch) ([]TraceSummary, error) {
	return nil, NotSupported("trace search")
}
func (Unsupported) Topology(context.Context, Tenancy, TopologyQuery) ([]Edge, error) {
	return nil, NotSupported("topology")
}
func (Unsupported) Latency(context.Context, Tenancy, LatencyQuery) ([]LatencyPoint, error) {
	return nil, NotSupported("latency")
}
func (Unsupported) ErrorGroups(context.Context, Tenancy, ErrorsQuery) ([]ErrorGroup, error) {
	return nil, NotSupported("error groups")
}
func (Unsupported) PPL(context.Context, Tenancy, PPLQuery) (*Table, error) {
	return nil, NotSupported("ppl")
}
