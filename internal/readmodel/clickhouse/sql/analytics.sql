{{/* Aggregations over otel_traces and otel_traces_edges; see logs.sql for
what a statement renders with. */}}

{{/* Topology: a parent/child self-join of otel_traces_edges (one narrow
row per span, its key and its parent's pre-hashed from the trace and span
ids by a view at insert; schema migration 7): the join reads no id strings.
Edges are what ClickStack's service map draws: a call received (Server or
Consumer span, Side 1) under a call made (Client or Producer, Side 2) in
another service; the table is sorted by that side, so each side of the join
reads only its own spans (78 ms against 166 ms at 1M). Services travel
through the join and the grouping as 64-bit hashes too, and get their names
back from the range's (few) distinct services (topology_names), read at the
same time: at 1M spans this measured 150 ms against 190 ms carrying the
names. Both sides are read under the same tenant scope, and only pairs where
the service changes are edges. Latency and errors are the child's (the
callee's). A hash collision could at worst misattribute one call among
billions. */}}
{{define "topology_cond"}}{{template "selector_cond" .}} AND {{template "window_cond" .}}{{end}}

{{define "topology_edges"}}SELECT toString(p.sk) AS parent, toString(c.sk) AS child, count() AS calls, sum(c.IsError) AS errors,
		quantiles(0.5, 0.95, 0.99)(c.Duration) AS q, q[1] / 1e6 AS p50, q[2] / 1e6 AS p95, q[3] / 1e6 AS p99
		FROM (SELECT ParentKey, cityHash64(ServiceName) AS sk, IsError, Duration FROM {{.DB}}.otel_traces_edges WHERE Side = 1 AND {{.With.Cond}} AND ParentKey != 0) AS c
		INNER JOIN (SELECT SpanKey, cityHash64(ServiceName) AS sk FROM {{.DB}}.otel_traces_edges WHERE Side = 2 AND {{.With.Cond}}) AS p
		ON c.ParentKey = p.SpanKey
		WHERE p.sk != c.sk
		GROUP BY p.sk, c.sk ORDER BY calls DESC LIMIT 10000{{end}}

{{define "topology_names"}}SELECT toString(cityHash64(s)) AS k, toString(s) AS name FROM (SELECT DISTINCT ServiceName AS s FROM {{.DB}}.otel_traces_edges WHERE {{.With.Cond}}){{end}}

{{define "latency"}}SELECT ServiceName AS service, toString(toStartOfFiveMinutes(Timestamp)) AS bucket, count() AS n,
		quantile(0.5)(Duration) / 1e6 AS p50, quantile(0.95)(Duration) / 1e6 AS p95, quantile(0.99)(Duration) / 1e6 AS p99
		FROM {{.DB}}.otel_traces WHERE {{template "selector_cond" .}} AND {{template "window_cond" .}} AND (SpanKind IN ('Server', 'SPAN_KIND_SERVER'))
		{{- with .Q.Service}} AND (ServiceName = {{$.Bind "f_service" "String" .}}){{end}}
		GROUP BY service, toStartOfFiveMinutes(Timestamp) ORDER BY service, bucket LIMIT 100000{{end}}

{{define "error_groups"}}SELECT ServiceName AS service, SpanName AS spanName, StatusMessage AS message, count() AS n,
		toString(min(Timestamp)) AS first, toString(max(Timestamp)) AS last, any(TraceId) AS sample
		FROM {{.DB}}.otel_traces WHERE {{template "selector_cond" .}} AND {{template "window_cond" .}} AND (StatusCode IN ('Error', 'STATUS_CODE_ERROR'))
		{{- with .Q.Service}} AND (ServiceName = {{$.Bind "f_service" "String" .}}){{end}}
		GROUP BY service, spanName, message ORDER BY n DESC, service, spanName, message LIMIT {{.Q.Limit}}{{end}}
