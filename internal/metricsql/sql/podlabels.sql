{{/*
The newest kube_pod_labels series of every pod seen since {since}: what the
gateway's pod label join starts from after a restart. Columns: ns, pod,
labels (the series' labels).
*/}}
SELECT Attributes['namespace'] AS ns, Attributes['pod'] AS pod,
    argMax(Attributes, TimeUnixMilli) AS labels
FROM {{.DB}}.`otel_metrics_gauge`
WHERE MetricName = 'kube_pod_labels' AND TimeUnix >= fromUnixTimestamp({since:Int64})
    AND Attributes['namespace'] != '' AND Attributes['pod'] != ''
GROUP BY ns, pod
