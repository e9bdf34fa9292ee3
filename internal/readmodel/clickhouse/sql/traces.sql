{{/* Reads of otel_traces; see logs.sql for what a statement renders with. */}}

{{/* TraceWindow narrows a trace-id lookup to the days the trace spans,
using the otel_traces_trace_id_ts table, so only those days' partitions are
read. Whole days, not the trace's exact span: the exact bounds made the
lookup slower, not faster (9 spans at 900k spans: 60 ms against 39 ms, the
same granules read), while partitions are days anyway. Both bounds come
from one lookup: the same scalar subquery text appears twice and the engine
evaluates it once. */}}
{{define "trace_window"}}toDate(Timestamp) >= tupleElement((SELECT (toDate(min(Start)), toDate(max(End))) FROM {{.DB}}.otel_traces_trace_id_ts WHERE TraceId = {{.Bind "trace" "String" .With.TraceID}}), 1)
	AND toDate(Timestamp) <= tupleElement((SELECT (toDate(min(Start)), toDate(max(End))) FROM {{.DB}}.otel_traces_trace_id_ts WHERE TraceId = {{.Bind "trace" "String" .With.TraceID}}), 2){{end}}

{{define "span_cols"}}TraceId, SpanId, SpanName, SpanKind, toString(Timestamp) AS startTime, Duration, ParentSpanId,
	StatusCode, StatusMessage, ServiceName, SpanAttributes, ResourceAttributes{{end}}

{{/* The spans matching .With.Cond grouped by trace: a trace is listed only
when its root span (no parent) is among them; it starts at its first
span's start and ends at its last span's end; ties break on the trace id,
so the order is total. */}}
{{define "trace_list"}}SELECT TraceId, toUInt64(count()) AS spanCount,
		toString(min(Timestamp)) AS startTime,
		toString(max(addNanoseconds(Timestamp, Duration))) AS endTime,
		argMinIf(SpanId, Timestamp, ParentSpanId = '') AS rootSpanId,
		argMinIf(SpanName, Timestamp, ParentSpanId = '') AS rootSpanName,
		argMinIf(SpanKind, Timestamp, ParentSpanId = '') AS rootSpanKind,
		countIf(StatusCode = 'Error') > 0 AS hasErrors
		FROM {{.DB}}.otel_traces WHERE {{.With.Cond}}
		GROUP BY TraceId HAVING countIf(ParentSpanId = '') > 0
		ORDER BY min(Timestamp) {{dir .With.Desc}}, TraceId {{dir .With.Desc}}
		LIMIT {{.With.Limit}}{{end}}

{{/* The tracing adapter: a span is in range when it starts at or after
Start and ends at or before End. */}}
{{define "adapter_traces_cond" -}}
{{template "selector_cond" .}} AND (Timestamp >= {{.Bind "start" "DateTime64(9, 'UTC')" .Q.Start}}) AND (addNanoseconds(Timestamp, Duration) <= {{.Bind "end" "DateTime64(9, 'UTC')" .Q.End}})
{{- with .Q.TraceID}} AND (TraceId = {{$.Bind "trace" "String" .}}){{end}}
{{- end}}

{{define "adapter_traces_total"}}SELECT count() AS n FROM (SELECT DISTINCT TraceId FROM {{.DB}}.otel_traces WHERE {{.With.Cond}} AND ParentSpanId = '' LIMIT {{.With.Cap}}){{end}}

{{define "adapter_spans"}}SELECT {{template "span_cols"}} FROM {{.DB}}.otel_traces WHERE {{.With.Cond}}
	ORDER BY Timestamp {{dir .Q.Desc}}, SpanId {{dir .Q.Desc}} LIMIT {{.Q.Limit}}{{end}}

{{define "span_by_id"}}SELECT {{template "span_cols"}} FROM {{.DB}}.otel_traces WHERE ({{.Scope "OpenChoreoNamespace"}})
	AND TraceId = {{.Bind "trace" "String" .Q.TraceID}} AND SpanId = {{.Bind "span" "String" .Q.SpanID}} AND {{template "trace_window" .}} LIMIT 1{{end}}

{{define "trace_by_id"}}SELECT {{template "span_cols"}} FROM {{.DB}}.otel_traces WHERE ({{.Scope "OpenChoreoNamespace"}})
	AND TraceId = {{.Bind "trace" "String" .With.TraceID}} AND {{template "trace_window" .}} ORDER BY Timestamp, SpanId LIMIT 10000{{end}}

{{/* Trace search: the span filters pick traces (a trace is listed when
any of its spans in range matches), then each is summarized over all its
spans in range. */}}
{{define "trace_search_cond" -}}
{{template "selector_cond" .}} AND {{template "window_cond" .}}
{{- if or .Q.Service .Q.Operation .Q.Kind .Q.Status .Q.MinDuration .Q.MaxDuration}} AND TraceId IN (SELECT TraceId FROM {{.DB}}.otel_traces WHERE {{template "selector_cond" .}} AND {{template "window_cond" .}}
	{{- with .Q.Service}} AND (ServiceName = {{$.Bind "f_service" "String" .}}){{end}}
	{{- with .Q.Operation}} AND (SpanName = {{$.Bind "f_op" "String" .}}){{end}}
	{{- with .Q.Kind}} AND (SpanKind = {{$.Bind "f_kind" "String" .}}){{end}}
	{{- with .Q.MinDuration}} AND (Duration >= {{$.Bind "f_minDuration" "UInt64" .Nanoseconds}}){{end}}
	{{- with .Q.MaxDuration}} AND (Duration <= {{$.Bind "f_maxDuration" "UInt64" .Nanoseconds}}){{end}}
	{{- with .Q.Status}} AND (StatusCode = {{$.Bind "f_status" "String" .}}){{end}})
{{- end}}
{{- end}}
