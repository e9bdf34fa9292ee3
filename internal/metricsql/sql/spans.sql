{{/*
The HTTP metrics from server spans, for components Hubble does not see: per
step the server spans that ended in the window (a request counts when it is
answered, as Hubble counts it), as rates like Hubble's (requests per second
over the window), the mean and exact quantiles of their durations in
seconds. A span is unsuccessful when its HTTP status (the semantic
conventions' http.response.status_code, or the older http.status_code) is
4xx or 5xx, or, without one, when its status is Error; successful when the
HTTP status is 1xx to 3xx or, without one, its status is not Error.
Columns: i, requests, successful, unsuccessful, mean, qs (per quantile).
*/}}
WITH spans AS (
    SELECT toUnixTimestamp64Milli(Timestamp) + intDiv(Duration, 1000000) AS ts,
        Duration / 1e9 AS seconds,
        toUInt16OrZero(if(SpanAttributes['http.response.status_code'] != '', SpanAttributes['http.response.status_code'], SpanAttributes['http.status_code'])) AS http_status,
        multiIf(http_status BETWEEN 100 AND 399, 1, http_status BETWEEN 400 AND 599, 0, http_status = 0 AND StatusCode != 'Error', 1, 0) AS ok,
        multiIf(http_status BETWEEN 400 AND 599, 1, http_status = 0 AND StatusCode = 'Error', 1, 0) AS failed
    FROM {{.DB}}.`otel_traces`
    WHERE SpanKind IN ('Server', 'SPAN_KIND_SERVER') AND {{template "scope" .}}
        AND Timestamp >= fromUnixTimestamp64Milli({from:Int64} - {window:Int64} - 3600000) AND Timestamp <= fromUnixTimestamp64Milli({to:Int64})
)
SELECT i,
    count() / ({window:Int64} / 1000) AS requests,
    sum(ok) / ({window:Int64} / 1000) AS successful,
    sum(failed) / ({window:Int64} / 1000) AS unsuccessful,
    sum(ok) AS n_ok, sum(failed) AS n_failed,
    avg(seconds) AS mean,
    quantilesExactInclusive({{range $k, $q := .Quantiles}}{{if $k}}, {{end}}{{$q}}{{end}})(seconds) AS qs
FROM spans
ARRAY JOIN {{template "steps" .}} AS i
GROUP BY i
ORDER BY i
