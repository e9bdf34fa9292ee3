{{/*
sum(gauge) per measure and step, as an instant selector in a PromQL range
query sees it: per series the newest sample of the lookback window, none
when that sample is a staleness marker. A measure marked Running counts a
series only while its pod's kube_pod_status_phase{phase="Running"} is 1 at
that step (OpenChoreo's `AND ON (pod, namespace)
(kube_pod_status_phase{phase="Running"} == 1)`). Columns: measure, i,
value, series.
*/}}
WITH samples AS (
    SELECT {{template "measures" .}} AS measure,
        cityHash64(Attributes) AS series,
        Attributes['namespace'] AS ns, Attributes['pod'] AS pod,
        toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
        (Value, bitAnd(Flags, 1)) AS vs
    FROM {{.DB}}.`otel_metrics_gauge`
    WHERE {{template "metric_names" .}} AND {{template "where" .}}
),
last AS (
    SELECT measure, series, ns, pod, i, argMax(vs, ts) AS newest
    FROM samples
    ARRAY JOIN {{template "steps" .}} AS i
    GROUP BY measure, series, ns, pod, i
    HAVING newest.2 = 0
){{if .Running}},
running AS (
    SELECT ns, pod, i
    FROM (
        SELECT cityHash64(Attributes) AS series,
            Attributes['namespace'] AS ns, Attributes['pod'] AS pod,
            toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
            (Value, bitAnd(Flags, 1)) AS vs
        FROM {{.DB}}.`otel_metrics_gauge`
        WHERE MetricName = 'kube_pod_status_phase' AND Attributes['phase'] = 'Running' AND {{template "where" .}}
    )
    ARRAY JOIN {{template "steps" .}} AS i
    GROUP BY series, ns, pod, i
    HAVING argMax(vs, ts) = (1, 0)
){{end}}
SELECT measure, i, sum(newest.1) AS value, count() AS series
FROM last
{{- if .Running}}
WHERE measure NOT IN ({{range $k, $m := .Running}}{{if $k}}, {{end}}'{{$m}}'{{end}}) OR (ns, pod, i) IN (SELECT ns, pod, i FROM running)
{{- end}}
GROUP BY measure, i
ORDER BY measure, i
