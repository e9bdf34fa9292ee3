{{/*
Latency quantiles per runtime topology edge (see topology.sql and
bucket_quantiles): the bucket increases over the window, summed per edge
and bound. Columns: q, key (source and destination UIDs, tab-separated),
i, value.
*/}}
WITH samples AS (
    SELECT Attributes['le'] AS measure,
        concat(OpenChoreoComponentUID, '\t', OpenChoreoComponent, '\t', Attributes['source_namespace'], '\t', Attributes['source_pod']) AS key,
        cityHash64(Attributes) AS series,
        toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
        Value AS v
    FROM {{.DB}}.`otel_metrics_sum`
    WHERE MetricName = '{{.Bucket.Metric}}'{{if .Bucket.Where}} AND {{.Bucket.Where}}{{end}} AND {{template "where" .}}
        AND bitAnd(Flags, 1) = 0
),
{{template "per_series_rate" .}},
{{template "topology_edges" .}},
bucket_rates AS (
    SELECT concat(src_uid, '\t', dst_uid) AS key, i, measure AS le_text, rate AS c FROM edges
),
{{template "bucket_quantiles" .}}
