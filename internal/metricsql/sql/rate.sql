{{/*
sum(rate(counter[window])) per measure and step, as PromQL computes it
(see per_series_rate). Staleness markers are not samples to a range
selector. Columns: measure, i, value, series (how many series had a rate
at that step; no row means no value, as in PromQL).
*/}}
WITH samples AS (
    SELECT {{template "measures" .}} AS measure, '' AS key,
        cityHash64(Attributes) AS series,
        toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
        Value AS v
    FROM {{.DB}}.`otel_metrics_sum`
    WHERE {{template "metric_names" .}} AND {{template "where" .}}
        AND bitAnd(Flags, 1) = 0
),
{{template "per_series_rate" .}}
SELECT measure, i, sum(rate) AS value, count() AS series
FROM per_series
GROUP BY measure, i
ORDER BY measure, i
