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
	rows := schema.NewTraceRows[column.IterableOrderedMap](td.SpanCount())
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
				var d uint64
				if s.EndTimestamp() > s.StartTimestamp() {
					d = uint64(s.EndTimestamp() - s.StartTimestamp())
				}
				row := schema.TraceRow[column.IterableOrderedMap]{
					Timestamp: s.StartTimestamp().AsTime(), TraceID: traceIDOrEmpty(s.TraceID()), SpanID: spanIDOrEmpty(s.SpanID()),
					ParentSpanID: spanIDOrEmpty(s.ParentSpanID()), TraceState: s.TraceState().AsRaw(), SpanName: s.Name(),
					SpanKind: s.Kind().String(), ServiceName: service, ResourceAttributes: ra, ScopeName: scope.Name(),
					ScopeVersion: scope.Version(), SpanAttributes: toMap(s.Attributes()), Duration: d,
					StatusCode: s.Status().Code().String(), StatusMessage: s.Status().Message(),
				}
				evs := s.Events()
				row.EventsTimestamp, row.EventsName, row.EventsAttributes = make([]time.Time, evs.Len()), make([]string, evs.Len()), make([]column.IterableOrderedMap, evs.Len())
				for e := 0; e < evs.Len(); e++ {
					ev := evs.At(e)
					row.EventsTimestamp[e], row.EventsName[e], row.EventsAttributes[e] = ev.Timestamp().AsTime(), ev.Name(), toMap(ev.Attributes())
				}
				lns := s.Links()
				row.LinksTraceID, row.LinksSpanID, row.LinksTraceState, row.LinksAttributes = make([]string, lns.Len()), make([]string, lns.Len()), make([]string, lns.Len()), make([]column.IterableOrderedMap, lns.Len())
				for l := 0; l < lns.Len(); l++ {
					ln := lns.At(l)
					row.LinksTraceID[l], row.LinksSpanID[l], row.LinksTraceState[l], row.LinksAttributes[l] = traceIDOrEmpty(ln.TraceID()), spanIDOrEmpty(ln.SpanID()), ln.TraceState().AsRaw(), toMap(ln.Attributes())
				}
				rows.Append(row)
			}
		}
	}
	return rows.Batch(database, table)
}
