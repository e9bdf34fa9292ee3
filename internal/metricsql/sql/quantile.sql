{{/*
histogram_quantile(q, sum by (le) (rate(bucket[window]))) per step, for
each q (see per_series_rate and bucket_quantiles).
*/}}
WITH samples AS (
    SELECT Attributes['le'] AS measure, '' AS key,
        cityHash64(Attributes) AS series,
        toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
        Value AS v
    FROM {{.DB}}.`otel_metrics_sum`
    WHERE MetricName = '{{.Bucket.Metric}}'{{if .Bucket.Where}} AND {{.Bucket.Where}}{{end}} AND {{template "where" .}}
        AND bitAnd(Flags, 1) = 0
),
{{template "per_series_rate" .}},
bucket_rates AS (
    SELECT key, i, measure AS le_text, rate AS c FROM per_series
),
{{template "bucket_quantiles" .}}
