package clickhousestoreexporter

import (
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/openchoreo/obsplane/internal/schema"
	"github.com/openchoreo/obsplane/internal/store"
)

// tracesBatch maps spans to otel_traces rows as the contrib exporter
// v0.161.0 does: Timestamp is the start time, Duration is end minus start in
// nanoseconds, SpanKind and StatusCode are pdata's names ("Server", "Error"),
// events and links fill the Nested columns. One deviation: a span whose end
// is before its start gets Duration 0 instead of a wrapped-around UInt64.
func tracesBatch(database, table string, td ptrace.Traces) *store.Batch {
	n := td.SpanCount()
	var (
		ts                                = make([]time.Time, 0, n)
		traceID, spanID, parentID, tstate = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		name, kind, svc                   = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		scopeName, scopeVersion           = make([]string, 0, n), make([]string, 0, n)
		resAttrs, spanAttrs               = make([]column.IterableOrderedMap, 0, n), make([]column.IterableOrderedMap, 0, n)
		duration                          = make([]uint64, 0, n)
		statusCode, statusMsg             = make([]string, 0, n), make([]string, 0, n)
		evTime                            = make([][]time.Time, 0, n)
		evName                            = make([][]string, 0, n)
		evAttrs                           = make([][]column.IterableOrderedMap, 0, n)
		lnTrace, lnSpan, lnState          = make([][]string, 0, n), make([][]string, 0, n), make([][]string, 0, n)
		lnAttrs                           = make([][]column.IterableOrderedMap, 0, n)
	)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		service := serviceName(res)
		ra := toMap(res)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			scope := ss.Scope()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				ts = append(ts, s.StartTimestamp().AsTime())
				traceID = append(traceID, traceIDOrEmpty(s.TraceID()))
				spanID = append(spanID, spanIDOrEmpty(s.SpanID()))
				parentID = append(parentID, spanIDOrEmpty(s.ParentSpanID()))
				tstate = append(tstate, s.TraceState().AsRaw())
				name = append(name, s.Name())
				kind = append(kind, s.Kind().String())
				svc = append(svc, service)
				resAttrs = append(resAttrs, ra)
				scopeName = append(scopeName, scope.Name())
				scopeVersion = append(scopeVersion, scope.Version())
				spanAttrs = append(spanAttrs, toMap(s.Attributes()))
				var d uint64
				if s.EndTimestamp() > s.StartTimestamp() {
					d = uint64(s.EndTimestamp() - s.StartTimestamp())
				}
				duration = append(duration, d)
				statusCode = append(statusCode, s.Status().Code().String())
				statusMsg = append(statusMsg, s.Status().Message())

				evs := s.Events()
				et, en, ea := make([]time.Time, evs.Len()), make([]string, evs.Len()), make([]column.IterableOrderedMap, evs.Len())
				for e := 0; e < evs.Len(); e++ {
					ev := evs.At(e)
					et[e], en[e], ea[e] = ev.Timestamp().AsTime(), ev.Name(), toMap(ev.Attributes())
				}
				evTime, evName, evAttrs = append(evTime, et), append(evName, en), append(evAttrs, ea)

				lns := s.Links()
				lt, ls, lst, la := make([]string, lns.Len()), make([]string, lns.Len()), make([]string, lns.Len()), make([]column.IterableOrderedMap, lns.Len())
				for l := 0; l < lns.Len(); l++ {
					ln := lns.At(l)
					lt[l], ls[l], lst[l], la[l] = traceIDOrEmpty(ln.TraceID()), spanIDOrEmpty(ln.SpanID()), ln.TraceState().AsRaw(), toMap(ln.Attributes())
				}
				lnTrace, lnSpan, lnState, lnAttrs = append(lnTrace, lt), append(lnSpan, ls), append(lnState, lst), append(lnAttrs, la)
			}
		}
	}
	return &store.Batch{
		Database: database,
		Table:    table,
		Rows:     len(ts),
		Columns: []store.Column{
			{Name: "Timestamp", Type: "DateTime64(9)", Values: ts},
			{Name: "TraceId", Type: "String", Values: traceID},
			{Name: "SpanId", Type: "String", Values: spanID},
			{Name: "ParentSpanId", Type: "String", Values: parentID},
			{Name: "TraceState", Type: "String", Values: tstate},
			{Name: "SpanName", Type: "LowCardinality(String)", Values: name},
			{Name: "SpanKind", Type: "LowCardinality(String)", Values: kind},
			{Name: "ServiceName", Type: "LowCardinality(String)", Values: svc},
			{Name: "ResourceAttributes", Type: schema.MapType, Values: resAttrs},
			{Name: "ScopeName", Type: "String", Values: scopeName},
			{Name: "ScopeVersion", Type: "String", Values: scopeVersion},
			{Name: "SpanAttributes", Type: schema.MapType, Values: spanAttrs},
			{Name: "Duration", Type: "UInt64", Values: duration},
			{Name: "StatusCode", Type: "LowCardinality(String)", Values: statusCode},
			{Name: "StatusMessage", Type: "String", Values: statusMsg},
			{Name: "Events.Timestamp", Type: "Array(DateTime64(9))", Values: evTime},
			{Name: "Events.Name", Type: "Array(LowCardinality(String))", Values: evName},
			{Name: "Events.Attributes", Type: "Array(" + schema.MapType + ")", Values: evAttrs},
			{Name: "Links.TraceId", Type: "Array(String)", Values: lnTrace},
			{Name: "Links.SpanId", Type: "Array(String)", Values: lnSpan},
			{Name: "Links.TraceState", Type: "Array(String)", Values: lnState},
			{Name: "Links.Attributes", Type: "Array(" + schema.MapType + ")", Values: lnAttrs},
		},
	}
}
