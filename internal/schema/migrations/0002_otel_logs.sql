-- otel_logs exactly as clickhouseexporter v0.161.0 creates it (every column
-- with the same name, type, codec and position; the same indexes, partition
-- and sort key), then obsplane's additions after the upstream columns.
CREATE TABLE IF NOT EXISTS {{local "otel_logs"}} {{on_cluster}} (
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    `TraceId` String CODEC(ZSTD(1)),
    `SpanId` String CODEC(ZSTD(1)),
    `TraceFlags` UInt8,
    `SeverityText` LowCardinality(String) CODEC(ZSTD(1)),
    `SeverityNumber` UInt8,
    `ServiceName` LowCardinality(String) CODEC(ZSTD(1)),
    `Body` String CODEC(ZSTD(1)),
    `ResourceSchemaUrl` LowCardinality(String) CODEC(ZSTD(1)),
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `ScopeSchemaUrl` LowCardinality(String) CODEC(ZSTD(1)),
    `ScopeName` String CODEC(ZSTD(1)),
    `ScopeVersion` LowCardinality(String) CODEC(ZSTD(1)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `LogAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `EventName` String CODEC(ZSTD(1)),
    `__otel_materialized_k8s.cluster.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.cluster.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.container.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.container.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.deployment.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.deployment.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.namespace.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.namespace.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.node.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.node.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.pod.name` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.name'] CODEC(ZSTD(1)),
    `__otel_materialized_k8s.pod.uid` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.uid'] CODEC(ZSTD(1)),
    `__otel_materialized_deployment.environment.name` LowCardinality(String) MATERIALIZED ResourceAttributes['deployment.environment.name'] CODEC(ZSTD(1)),
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
{{- if text_index}}
    INDEX idx_trace_id TraceId TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_lower_body lower(Body) TYPE text(tokenizer = 'splitByNonAlpha'),
    -- obsplane: case-sensitive token search on the body as written.
    INDEX idx_body Body TYPE text(tokenizer = 'splitByNonAlpha'),
{{- else}}
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
    -- obsplane: case-sensitive token search (hasToken) on the body as written.
    INDEX idx_body Body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8,
{{- end}}
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
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
{{ttl "toDateTime(Timestamp)"}}
{{settings}};

{{distributed "otel_logs"}};
