-- The metric tables get what the logs and traces tables have: tenant
-- columns read from the resource (the gateway's openchoreo processor joins
-- kube_pod_labels onto Prometheus series, so cAdvisor, kube-state-metrics
-- and Hubble rows carry them), with skip indexes so a component's series
-- are found without reading the attribute maps. TimeUnixMilli keeps the
-- sample time to the millisecond: the exporter's TimeUnix is whole seconds,
-- and PromQL's rate() extrapolates from exact sample times. Rows written by
-- another writer take TimeUnix.
{{range $t := list "otel_metrics_gauge" "otel_metrics_sum" "otel_metrics_histogram" "otel_metrics_exponential_histogram" "otel_metrics_summary"}}
ALTER TABLE {{local $t}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS `TimeUnixMilli` DateTime64(3) DEFAULT toDateTime64(TimeUnix, 3) CODEC(Delta, ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `K8sNamespace` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.namespace.name'] CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `K8sPodName` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.name'] CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoNamespace` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.namespace'] != '', ResourceAttributes['openchoreo.namespace'], ResourceAttributes['openchoreo.dev/namespace']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoProject` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project'] != '', ResourceAttributes['openchoreo.project'], ResourceAttributes['openchoreo.dev/project']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoComponent` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component'] != '', ResourceAttributes['openchoreo.component'], ResourceAttributes['openchoreo.dev/component']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoEnvironment` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment'] != '', ResourceAttributes['openchoreo.environment'], ResourceAttributes['openchoreo.dev/environment']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoProjectUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project.uid'] != '', ResourceAttributes['openchoreo.project.uid'], ResourceAttributes['openchoreo.dev/project-uid']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoComponentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component.uid'] != '', ResourceAttributes['openchoreo.component.uid'], ResourceAttributes['openchoreo.dev/component-uid']) CODEC(ZSTD(1)),
    ADD COLUMN IF NOT EXISTS `OpenChoreoEnvironmentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment.uid'] != '', ResourceAttributes['openchoreo.environment.uid'], ResourceAttributes['openchoreo.dev/environment-uid']) CODEC(ZSTD(1)),
    ADD INDEX IF NOT EXISTS idx_oc_namespace OpenChoreoNamespace TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_oc_project_uid OpenChoreoProjectUID TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_oc_component_uid OpenChoreoComponentUID TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_oc_environment_uid OpenChoreoEnvironmentUID TYPE bloom_filter(0.01) GRANULARITY 1;
{{if cluster}}
-- The Distributed table in front gets the same columns, so reads through it
-- see them and inserts through it compute them.
ALTER TABLE {{public $t}} {{on_cluster}}
    ADD COLUMN IF NOT EXISTS `TimeUnixMilli` DateTime64(3) DEFAULT toDateTime64(TimeUnix, 3),
    ADD COLUMN IF NOT EXISTS `K8sNamespace` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.namespace.name'],
    ADD COLUMN IF NOT EXISTS `K8sPodName` LowCardinality(String) MATERIALIZED ResourceAttributes['k8s.pod.name'],
    ADD COLUMN IF NOT EXISTS `OpenChoreoNamespace` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.namespace'] != '', ResourceAttributes['openchoreo.namespace'], ResourceAttributes['openchoreo.dev/namespace']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoProject` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project'] != '', ResourceAttributes['openchoreo.project'], ResourceAttributes['openchoreo.dev/project']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoComponent` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component'] != '', ResourceAttributes['openchoreo.component'], ResourceAttributes['openchoreo.dev/component']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoEnvironment` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment'] != '', ResourceAttributes['openchoreo.environment'], ResourceAttributes['openchoreo.dev/environment']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoProjectUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.project.uid'] != '', ResourceAttributes['openchoreo.project.uid'], ResourceAttributes['openchoreo.dev/project-uid']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoComponentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.component.uid'] != '', ResourceAttributes['openchoreo.component.uid'], ResourceAttributes['openchoreo.dev/component-uid']),
    ADD COLUMN IF NOT EXISTS `OpenChoreoEnvironmentUID` LowCardinality(String) MATERIALIZED if(ResourceAttributes['openchoreo.environment.uid'] != '', ResourceAttributes['openchoreo.environment.uid'], ResourceAttributes['openchoreo.dev/environment-uid']);
{{end}}
{{end}}
