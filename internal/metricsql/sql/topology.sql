{{/*
Runtime topology from Hubble, as OpenChoreo's module builds it: per server-
reported series the increase over the whole window at its end (rate over
the window times its length), the destination component from the series'
tenant columns (its pod's kube_pod_labels, joined at ingest) and the source
component from the source pod's kube_pod_labels in the window, both within
the scope's project and environment; summed per (source, destination)
component and measure. The caller's componentUid keeps edges touching it.
Columns: measure, src_uid, src_name, dst_uid, dst_name, value.
*/}}
WITH samples AS (
    SELECT {{template "measures" .}} AS measure,
        concat(OpenChoreoComponentUID, '\t', OpenChoreoComponent, '\t', Attributes['source_namespace'], '\t', Attributes['source_pod']) AS key,
        cityHash64(Attributes) AS series,
        toUnixTimestamp64Milli(TimeUnixMilli) AS ts,
        Value AS v
    FROM {{.DB}}.`otel_metrics_sum`
    WHERE {{template "metric_names" .}} AND {{template "where" .}}
        AND bitAnd(Flags, 1) = 0
),
{{template "per_series_rate" .}},
{{template "topology_edges" .}}
SELECT measure, src_uid, src_name, dst_uid, dst_name, sum(rate) * ({window:Int64} / 1000) AS value
FROM edges
GROUP BY measure, src_uid, src_name, dst_uid, dst_name
ORDER BY src_uid, dst_uid, measure
