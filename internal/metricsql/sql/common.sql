{{/*
Shared pieces of the metric queries.

Step i of a range query is the time t_i = from + i*step (milliseconds),
i = 0..last. A sample at ts belongs to step i when t_i - window < ts <= t_i:
PromQL's left-open range selector of rate(v[window]), or the lookback
window of an instant selector. "steps" expands a row with column ts into
one row per step it belongs to, as column i.
*/}}
{{define "steps"}}range(greatest(toInt64(ceil((ts - {from:Int64}) / {step:Int64})), 0), least(toInt64(ceil((ts - {from:Int64} + {window:Int64}) / {step:Int64})) - 1, {last:Int64}) + 1){{end}}

{{/* The tenant scope: namespace always, and each UID the caller gave. */}}
{{define "scope"}}OpenChoreoNamespace = {ns:String}
{{- if .Scope.ProjectUID}} AND OpenChoreoProjectUID = {project:String}{{end}}
{{- if .Scope.ComponentUID}} AND OpenChoreoComponentUID = {component:String}{{end}}
{{- if .Scope.EnvironmentUID}} AND OpenChoreoEnvironmentUID = {environment:String}{{end}}{{end}}

{{/* The rows of a metric table a query may read: the scope and the time its steps cover. */}}
{{define "where"}}{{template "scope" .}}
    AND TimeUnix >= toDateTime(intDiv({from:Int64} - {window:Int64}, 1000)) AND TimeUnix <= toDateTime(intDiv({to:Int64}, 1000) + 1){{end}}

{{/*
The measures a row counts for: one name per measure whose condition holds
(a request counts for requestCount and for successfulRequestCount).
*/}}
{{define "measures"}}arrayJoin(arrayFilter(m -> m != '', [{{range $k, $m := .Measures}}{{if $k}}, {{end}}if(MetricName = '{{$m.Metric}}'{{if $m.Where}} AND {{$m.Where}}{{end}}, '{{$m.Name}}', ''){{end}}])){{end}}

{{define "metric_names"}}MetricName IN ({{range $k, $m := .MetricNames}}{{if $k}}, {{end}}'{{$m}}'{{end}}){{end}}

{{/*
Per series and step, PromQL's rate() from the CTE "samples" (columns
measure, key, series, ts, v): the samples of the window, the increase with
counter resets added back (a drop means the counter restarted from zero),
extrapolated to the window's edges the way Prometheus's extrapolatedRate
does (at most half an average sample interval past the first and last
sample, never below the counter's zero point), divided by the window. A
series needs two samples in the window. A sample delivered twice (remote
write is at-least-once) counts once.
*/}}
{{define "per_series_rate"}}per_series AS (
    -- Staged in subqueries: each stage's results are columns of the next,
    -- so the engine does not expand one alias into every use of it.
    SELECT measure, key, series, i,
        delta * ((sampled + if(to_start < avg_gap * 1.1, to_start, avg_gap / 2)
            + if(to_end < avg_gap * 1.1, to_end, avg_gap / 2)) / sampled) / ({window:Int64} / 1000) AS rate
    FROM (
        SELECT measure, key, series, i, delta, sampled, to_end,
            sampled / (n - 1) AS avg_gap,
            least(to_window_start, if(delta > 0 AND first_v >= 0, sampled * (first_v / delta), inf)) AS to_start
        FROM (
            SELECT measure, key, series, i, n, first_v,
                last_v - first_v + resets AS delta,
                (last_t - first_t) / 1000 AS sampled,
                (first_t - ({from:Int64} + i * {step:Int64} - {window:Int64})) / 1000 AS to_window_start,
                ({from:Int64} + i * {step:Int64} - last_t) / 1000 AS to_end
            FROM (
                SELECT measure, key, series, i,
                    length(pts) AS n,
                    pts[1].1 AS first_t, pts[1].2 AS first_v,
                    pts[-1].1 AS last_t, pts[-1].2 AS last_v,
                    arraySum(arrayMap((cur, prev) -> if(cur < prev, prev, 0), arrayPopFront(pts).2, arrayPopBack(pts).2)) AS resets
                FROM (
                    SELECT measure, key, series, i, arraySort(p -> p.1, groupUniqArray((ts, v))) AS pts
                    FROM samples
                    ARRAY JOIN {{template "steps" .}} AS i
                    GROUP BY measure, key, series, i
                )
                WHERE length(pts) >= 2
            )
        )
        WHERE sampled > 0
    )
){{end}}

{{/*
histogram_quantile(q, sum by (le) (...)) per key and step from the CTE
"bucket_rates" (columns key, i, le_text, c: a bucket's rate), as Prometheus
computes it from classic buckets: the buckets summed by upper bound and
sorted; counts forced non-decreasing; no value without a +Inf bucket, with
fewer than two buckets or with no observations; the bucket holding rank
q*count found and the value interpolated linearly inside it (the lowest
bucket starts at 0 unless its bound is <= 0; a rank in the +Inf bucket
answers the highest finite bound). Columns: q, key, i, value.
*/}}
{{define "bucket_quantiles"}}buckets AS (
    SELECT key, i, bs.1 AS les, length(bs) AS nb,
        arrayMap(k -> arrayMax(arraySlice(bs.2, 1, k)), arrayEnumerate(bs)) AS counts
    FROM (
        SELECT key, i, arraySort(b -> b.1, groupArray((le, c))) AS bs
        FROM (
            SELECT key, i, if(le_text IN ('+Inf', 'Inf', '+inf', 'inf'), inf, toFloat64OrNull(le_text)) AS le, sum(c) AS c
            FROM bucket_rates
            WHERE le IS NOT NULL
            GROUP BY key, i, le
        )
        GROUP BY key, i
    )
)
SELECT q, key, i,
    multiIf(b = nb, les[nb - 1],
        b = 1 AND les[1] <= 0, les[1],
        lo + (les[b] - lo) * ((rank - below) / (counts[b] - below))) AS value
FROM (
    SELECT q, key, i, nb, les, counts, rank, b,
        if(b = 1, 0, les[b - 1]) AS lo,
        if(b = 1, 0, counts[b - 1]) AS below
    FROM (
        SELECT q, key, i, nb, les, counts, rank,
            if(found = 0, nb, found) AS b
        FROM (
            SELECT q, key, i, nb, les, counts, rank,
                arrayFirstIndex(c -> c >= rank, arraySlice(counts, 1, nb - 1)) AS found
            FROM (
                SELECT q, key, i, nb, les, counts, q * counts[nb] AS rank
                FROM buckets
                ARRAY JOIN [{{range $k, $q := .Quantiles}}{{if $k}}, {{end}}{{$q}}{{end}}] AS q
                WHERE nb >= 2 AND les[nb] = inf AND counts[nb] > 0
            )
        )
    )
)
ORDER BY q, key, i{{end}}

{{/*
The CTE "edges" of the runtime topology: per_series rows (key: destination
component UID and name, source namespace and pod) with the source pod's
component from kube_pod_labels in the scope, and the edge filter of the
caller's component.
*/}}
{{define "topology_edges"}}pods AS (
    SELECT Attributes['namespace'] AS ns, Attributes['pod'] AS pod,
        argMax(OpenChoreoComponentUID, TimeUnixMilli) AS uid, argMax(OpenChoreoComponent, TimeUnixMilli) AS name
    FROM {{.DB}}.`otel_metrics_gauge`
    WHERE MetricName = 'kube_pod_labels' AND Attributes['job'] = 'kube-state-metrics' AND {{template "where" .}}
    GROUP BY ns, pod
),
edges AS (
    SELECT measure, i, rate, dst_uid, dst_name, p.uid AS src_uid, p.name AS src_name
    FROM (
        SELECT measure, i, rate, splitByChar('\t', key) AS k,
            k[1] AS dst_uid, k[2] AS dst_name, k[3] AS src_ns, k[4] AS src_pod
        FROM per_series
    ) AS s
    INNER JOIN pods AS p ON p.ns = s.src_ns AND p.pod = s.src_pod
    WHERE dst_uid != '' AND p.uid != ''
        AND ({edge_component:String} = '' OR p.uid = {edge_component:String} OR dst_uid = {edge_component:String})
){{end}}
