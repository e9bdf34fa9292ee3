{{/* Names */}}
{{- define "obsplane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release name when it already contains the chart's name, so that
release openchoreo-observability-plane names its Jobs
openchoreo-observability-plane-shadow-write as the whitepaper's commands expect. */}}
{{- define "obsplane.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "obsplane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "obsplane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: openchoreo
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "obsplane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "obsplane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component: (dict "ctx" $ "component" "gateway") */}}
{{- define "obsplane.componentLabels" -}}
{{ include "obsplane.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "obsplane.componentSelector" -}}
{{ include "obsplane.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of a server pod (gateway, query, store): its selector and the
label the metrics Service selects. */}}
{{- define "obsplane.serverPodLabels" -}}
{{ include "obsplane.componentSelector" . }}
obsplane.openchoreo.dev/scrape: "true"
{{- end }}

{{/* The component whose pods serve the query ports and the gateway ports:
the store pod in embedded mode (one process does everything). */}}
{{- define "obsplane.queryComponent" -}}
{{- if eq .Values.store.mode "embedded" }}store{{ else }}query{{ end }}
{{- end }}
{{- define "obsplane.gatewayComponent" -}}
{{- if eq .Values.store.mode "embedded" }}store{{ else }}gateway{{ end }}
{{- end }}

{{- define "obsplane.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end }}
{{- end }}

{{- define "obsplane.migrationImage" -}}
{{- if .Values.migration.image.repository -}}
{{ .Values.migration.image.repository }}:{{ .Values.migration.image.tag | default .Chart.AppVersion }}
{{- else -}}
{{ include "obsplane.image" . }}
{{- end }}
{{- end }}

{{/* Migration state derived from the values of one upgrade. Each of the
whitepaper's `helm upgrade --set` commands sets only its own phase's keys and
Helm resets the rest to these defaults, so what a phase implies is derived
here rather than remembered. */}}

{{- define "obsplane.hasOpenSearch" -}}
{{- if or .Values.opensearch.url .Values.opensearch.existingSecret }}true{{ end }}
{{- end }}

{{/* The primary read backend: as set, else ClickHouse once cleanup runs or
when there is no OpenSearch, else OpenSearch (not cut over yet). */}}
{{- define "obsplane.primary" -}}
{{- if .Values.observer.telemetry.backend -}}
{{ .Values.observer.telemetry.backend }}
{{- else if or .Values.migration.cleanup.enabled (not (include "obsplane.hasOpenSearch" .)) -}}
clickstack
{{- else -}}
opensearch
{{- end }}
{{- end }}

{{/* Dual write: on from shadow write through validation, backfill and
cutover (OpenSearch stays current for a rollback), off before it, at a
rollback during shadow write, and from cleanup on. */}}
{{- define "obsplane.dualWrite" -}}
{{- $m := .Values.migration -}}
{{- if and (include "obsplane.hasOpenSearch" .) (not $m.cleanup.enabled) -}}
{{- if or $m.shadowWrite.enabled $m.validation.enabled $m.backfill.enabled (eq .Values.observer.telemetry.backend "clickstack") -}}
true
{{- end }}
{{- end }}
{{- end }}

{{/* obsplane is in the logs' path (Fluent Bit forwards to the gateway)
whenever it writes OpenSearch itself or ClickHouse is the primary. */}}
{{- define "obsplane.inLogPath" -}}
{{- if or (include "obsplane.dualWrite" .) (eq (include "obsplane.primary" .) "clickstack") }}true{{ end }}
{{- end }}

{{- define "obsplane.clickhouseHTTPSecret" -}}
{{- .Values.store.embedded.clickhouseHTTP.existingSecret | default (printf "%s-clickhouse-http" (include "obsplane.fullname" .)) }}
{{- end }}

{{/* Environment that connects a process to the store and to OpenSearch.
Embedded mode reaches the store pod through its ClickHouse HTTP interface
(one process owns the data directory). */}}
{{- define "obsplane.storeEnv" -}}
{{- if eq .Values.store.mode "clickhouse" }}
- name: OBSPLANE_CLICKHOUSE_DSN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.store.clickhouse.existingSecret }}
      key: {{ .Values.store.clickhouse.existingSecretKey }}
{{- else }}
- name: CLICKHOUSE_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "obsplane.clickhouseHTTPSecret" . }}
      key: user
- name: CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "obsplane.clickhouseHTTPSecret" . }}
      key: password
- name: OBSPLANE_CLICKHOUSE_DSN
  value: {{ printf "http://$(CLICKHOUSE_USER):$(CLICKHOUSE_PASSWORD)@%s-store:%d/%s" (include "obsplane.fullname" .) (int .Values.store.embedded.clickhouseHTTP.port) .Values.store.database | quote }}
{{- end }}
{{- end }}

{{- define "obsplane.opensearchEnv" -}}
{{- if .Values.opensearch.existingSecret }}
- name: OBSPLANE_OPENSEARCH_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.opensearch.existingSecret }}
      key: {{ .Values.opensearch.existingSecretKey }}
{{- else if .Values.opensearch.url }}
- name: OBSPLANE_OPENSEARCH_URL
  value: {{ .Values.opensearch.url | quote }}
{{- end }}
{{- end }}

{{/* Settings every obsplane process shares, as OBSPLANE_* variables. */}}
{{- define "obsplane.commonEnv" -}}
- name: OBSPLANE_DATABASE
  value: {{ .Values.store.database | quote }}
- name: OBSPLANE_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: OBSPLANE_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: OBSPLANE_AUTH
  value: {{ .Values.auth.mode | quote }}
- name: OBSPLANE_ADAPTER_AUTH
  value: {{ .Values.auth.adapterMode | quote }}
{{- with .Values.auth.jwksURL }}
- name: OBSPLANE_JWKS_URL
  value: {{ . | quote }}
{{- end }}
- name: OBSPLANE_RETENTION_HOT
  value: {{ .Values.store.retention.hot | quote }}
- name: OBSPLANE_RETENTION_WARM
  value: {{ .Values.store.retention.warm | quote }}
- name: OBSPLANE_RETENTION_COLD
  value: {{ .Values.store.retention.cold | quote }}
- name: OBSPLANE_RETENTION_DELETE
  value: {{ .Values.store.retention.deleteAfter | quote }}
- name: OBSPLANE_BACKEND
  value: {{ include "obsplane.primary" . | quote }}
- name: OBSPLANE_DUAL_READ
  value: {{ .Values.observer.telemetry.dualRead | quote }}
- name: OBSPLANE_SHADOW_WRITE
  value: {{ include "obsplane.dualWrite" . | default "false" | quote }}
{{ include "obsplane.opensearchEnv" . }}
{{- end }}

{{- define "obsplane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "obsplane.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end }}

{{/* The listener flags of one process: every port named is served, the
others are off. (dict "ctx" $ "ports" (dict "http" 8080 ...)) */}}
{{- define "obsplane.listenArgs" -}}
{{- $p := .ports -}}
- --http-addr=:{{ $p.http }}
- --otlp-grpc-addr={{ if hasKey $p "otlpGrpc" }}:{{ $p.otlpGrpc }}{{ else }}off{{ end }}
- --otlp-http-addr={{ if hasKey $p "otlpHttp" }}:{{ $p.otlpHttp }}{{ else }}off{{ end }}
- --forward-addr={{ if hasKey $p "forward" }}:{{ $p.forward }}{{ else }}off{{ end }}
- --logs-adapter-addr={{ if hasKey $p "logsAdapter" }}:{{ $p.logsAdapter }}{{ else }}off{{ end }}
- --tracing-adapter-addr={{ if hasKey $p "tracingAdapter" }}:{{ $p.tracingAdapter }}{{ else }}off{{ end }}
- --metrics-adapter-addr={{ if hasKey $p "metricsAdapter" }}:{{ $p.metricsAdapter }}{{ else }}off{{ end }}
- --clickhouse-http-addr={{ if hasKey $p "clickhouseHTTP" }}:{{ $p.clickhouseHTTP }}{{ else }}off{{ end }}
{{- end }}

{{/* Probes: alive when the process serves HTTP; ready as /readyz says
(the store answers and every component started). */}}
{{- define "obsplane.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
{{- end }}
