package clickhousestoreexporter

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var (
	t0      = time.Date(2025, 11, 2, 10, 11, 12, 123456789, time.UTC)
	traceID = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	spanID  = pcommon.SpanID{0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 1, 2}
	parent  = pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9}
)

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }

// sampleLogs: two records under one resource, one with every field set and
// one with only an observed timestamp and a map body.
func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rl.Resource().Attributes().PutStr("service.name", "reading-list")
	rl.Resource().Attributes().PutStr("openchoreo.component", "reading-list")
	rl.Resource().Attributes().PutStr("k8s.namespace.name", "dp-ns")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.SetSchemaUrl("https://scope/schema")
	sl.Scope().SetName("fluentforward")
	sl.Scope().SetVersion("v1")
	sl.Scope().Attributes().PutStr("s", "1")
	r := sl.LogRecords().AppendEmpty()
	r.SetTimestamp(ts(0))
	r.SetObservedTimestamp(ts(time.Second))
	r.SetTraceID(traceID)
	r.SetSpanID(spanID)
	r.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	r.SetSeverityText("ERROR")
	r.SetSeverityNumber(plog.SeverityNumberError)
	r.Body().SetStr("db down\twith tab\nand newline")
	r.Attributes().PutStr("stream", "stderr")
	r.Attributes().PutInt("attempt", 3)
	r.Attributes().PutBool("ok", false)
	r.SetEventName("db.failure")
	r2 := sl.LogRecords().AppendEmpty()
	r2.SetObservedTimestamp(ts(2 * time.Second))
	r2.Body().SetEmptyMap().PutStr("k", "v")
	return ld
}

func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "api")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("otel-go")
	ss.Scope().SetVersion("1.2.3")
	s := ss.Spans().AppendEmpty()
	s.SetTraceID(traceID)
	s.SetSpanID(spanID)
	s.SetParentSpanID(parent)
	s.TraceState().FromRaw("vendor=x")
	s.SetName("GET /books")
	s.SetKind(ptrace.SpanKindServer)
	s.SetStartTimestamp(ts(0))
	s.SetEndTimestamp(ts(1500 * time.Microsecond))
	s.Status().SetCode(ptrace.StatusCodeError)
	s.Status().SetMessage("boom")
	s.Attributes().PutStr("http.method", "GET")
	s.Attributes().PutInt("http.status_code", 500)
	ev := s.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(ts(time.Millisecond))
	ev.Attributes().PutStr("exception.message", "boom")
	ln := s.Links().AppendEmpty()
	ln.SetTraceID(pcommon.TraceID{0xff})
	ln.SetSpanID(pcommon.SpanID{0xee})
	ln.TraceState().FromRaw("a=b")
	ln.Attributes().PutStr("l", "1")
	root := ss.Spans().AppendEmpty()
	root.SetTraceID(traceID)
	root.SetSpanID(parent)
	root.SetName("root")
	root.SetStartTimestamp(ts(0))
	root.SetEndTimestamp(ts(0)) // zero-length span
	return td
}

func sampleMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "api")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("meter")
	sm.Scope().SetDroppedAttributesCount(2)

	g := sm.Metrics().AppendEmpty()
	g.SetName("queue.depth")
	g.SetUnit("1")
	gdp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gdp.SetIntValue(42)
	gdp.SetTimestamp(ts(0))
	gdp.Attributes().PutStr("q", "a")
	ex := gdp.Exemplars().AppendEmpty()
	ex.SetDoubleValue(1.5)
	ex.SetTimestamp(ts(0))
	ex.SetTraceID(traceID)

	s := sm.Metrics().AppendEmpty()
	s.SetName("requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sdp := sum.DataPoints().AppendEmpty()
	sdp.SetDoubleValue(7.25)
	sdp.SetStartTimestamp(ts(-time.Minute))
	sdp.SetTimestamp(ts(0))

	h := sm.Metrics().AppendEmpty()
	h.SetName("latency")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hdp := hist.DataPoints().AppendEmpty()
	hdp.SetCount(6)
	hdp.SetSum(12.5)
	hdp.SetMin(0.5)
	hdp.SetMax(5)
	hdp.BucketCounts().FromRaw([]uint64{1, 2, 3})
	hdp.ExplicitBounds().FromRaw([]float64{1, 2})
	hdp.SetTimestamp(ts(0))

	e := sm.Metrics().AppendEmpty()
	e.SetName("latency.exp")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	edp := eh.DataPoints().AppendEmpty()
	edp.SetCount(3)
	edp.SetScale(2)
	edp.SetZeroCount(1)
	edp.Positive().SetOffset(-1)
	edp.Positive().BucketCounts().FromRaw([]uint64{1, 1})
	edp.Negative().SetOffset(3)
	edp.SetTimestamp(ts(0))

	q := sm.Metrics().AppendEmpty()
	q.SetName("gc.pause")
	qdp := q.SetEmptySummary().DataPoints().AppendEmpty()
	qdp.SetCount(10)
	qdp.SetSum(1)
	qv := qdp.QuantileValues().AppendEmpty()
	qv.SetQuantile(0.99)
	qv.SetValue(0.2)
	qdp.SetTimestamp(ts(0))

	sm.Metrics().AppendEmpty().SetName("no.type") // skipped, not fatal
	return md
}
