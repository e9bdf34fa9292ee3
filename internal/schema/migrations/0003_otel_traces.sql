-- otel_traces, otel_traces_trace_id_ts and the view that fills it, exactly as
-- clickhouseexporter v0.161.0 creates them, then obsplane's additions after
-- the upstream columns. The bloom filter on TraceId and the minmax index on
-- Duration are upstream's own.
CREATE TABLE IF NOT EXISTS {{local "otel_traces"}} {{on_cluster}} (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    -- obsplane: tenant columns, so namespace/project/component/environment
    -- filters hit a skip index instead of reading the attribute maps.
    -- The OpenChoreo columns take obsplane's enrichment keys (openchoreo.X,
    -- openchoreo.X.uid) first and fall back to the pod-label keys that
    -- OpenChoreo's own collectors copy into resources (openchoreo.dev/X,
    -- openchoreo.dev/X-uid), so tenancy holds for both kinds of producer.
    `K8sNamespace` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.namespace.name'] CODEC(ZSTD(1)),
    `K8sPodName` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.name'] CODEC(ZSTD(1)),
    `K8sContainerName` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.container.name'] CODEC(ZSTD(1)),
    `OpenChoreoNamespace` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.namespace'] != '', ResourceAttributes['openchoreo.namespace'], ResourceAttributes['openchoreo.dev/namespace']) CODEC(ZSTD(1)),
    `OpenChoreoProject` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project'] != '', ResourceAttributes['openchoreo.project'], ResourceAttributes['openchoreo.dev/project']) CODEC(ZSTD(1)),
    `OpenChoreoComponent` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component'] != '', ResourceAttributes['openchoreo.component'], ResourceAttributes['openchoreo.dev/component']) CODEC(ZSTD(1)),
    `OpenChoreoEnvironment` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment'] != '', ResourceAttributes['openchoreo.environment'], ResourceAttributes['openchoreo.dev/environment']) CODEC(ZSTD(1)),
    `OpenChoreoProjectUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project.uid'] != '', ResourceAttributes['openchoreo.project.uid'], ResourceAttributes['openchoreo.dev/project-uid']) CODEC(ZSTD(1)),
    `OpenChoreoComponentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component.uid'] != '', ResourceAttributes['openchoreo.component.uid'], ResourceAttributes['openchoreo.dev/component-uid']) CODEC(ZSTD(1)),
    `OpenChoreoEnvironmentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment.uid'] != '', ResourceAttributes['openchoreo.environment.uid'], ResourceAttributes['openchoreo.dev/environment-uid']) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_k8s_namespace K8sNamespace TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_k8s_pod_name K8sPodName TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_namespace OpenChoreoNamespace TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_project OpenChoreoProject TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_component OpenChoreoComponent TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_environment OpenChoreoEnvironment TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_project_uid OpenChoreoProjectUID TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_component_uid OpenChoreoComponentUID TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_oc_environment_uid OpenChoreoEnvironmentUID TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {{engine "MergeTree"}}
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
{{ttl "toDateTime(Timestamp)"}}
{{settings}};

{{distributed "otel_traces"}};

-- Trace-by-id lookups: the first and last span time of each trace, so a
-- lookup reads one day's partitions of otel_traces instead of all of them.
CREATE TABLE IF NOT EXISTS {{local "otel_traces_trace_id_ts"}} {{on_cluster}} (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {{engine "MergeTree"}}
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
{{ttl "toDateTime(Start)"}}
{{settings}};

{{distributed "otel_traces_trace_id_ts"}};

-- On a cluster the view fires on each node's local otel_traces and writes
-- through the Distributed table, like any other writer.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{public "otel_traces_trace_id_ts_mv"}} {{on_cluster}}
TO {{public "otel_traces_trace_id_ts"}}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {{local "otel_traces"}}
WHERE TraceId != ''
GROUP BY TraceId;
