{{/* One migration Job: `obsplane migrate <args>` from the obsplane image.
(dict "ctx" $ "name" "shadow-write" "args" (list ...) "backoffLimit" 3
      "hook" "post-install,post-upgrade" "serviceAccount" "..."
      "activeDeadlineSeconds" 0 "opensearch" true)
A hook Job blocks the upgrade until it ends (a refusal fails the upgrade);
a Job without a hook runs beside the release (long steps: backfill and
validation, followed with kubectl logs -f). */}}
{{- define "obsplane.migrationJob" -}}
{{- $ctx := .ctx -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "obsplane.fullname" $ctx }}-{{ .name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "obsplane.componentLabels" (dict "ctx" $ctx "component" "migration") | nindent 4 }}
    obsplane.openchoreo.dev/migration-step: {{ .step | default .name }}
  {{- if .hook }}
  annotations:
    helm.sh/hook: {{ .hook }}
    helm.sh/hook-weight: {{ .hookWeight | default "0" | quote }}
    # The previous run is kept (kubectl logs) until the next one replaces it.
    helm.sh/hook-delete-policy: before-hook-creation
  {{- end }}
spec:
  backoffLimit: {{ .backoffLimit }}
  {{- if .activeDeadlineSeconds }}
  activeDeadlineSeconds: {{ .activeDeadlineSeconds }}
  {{- end }}
  {{- if .hook }}
  ttlSecondsAfterFinished: {{ $ctx.Values.migration.ttlSecondsAfterFinished }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "obsplane.componentSelector" (dict "ctx" $ctx "component" "migration") | nindent 8 }}
        obsplane.openchoreo.dev/migration-step: {{ .step | default .name }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ .serviceAccount | default (printf "%s-migrate" (include "obsplane.fullname" $ctx)) }}
      automountServiceAccountToken: {{ if .serviceAccount }}true{{ else }}false{{ end }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "obsplane.podSecurityContext" $ctx | nindent 8 }}
      containers:
        - name: migrate
          image: {{ include "obsplane.migrationImage" $ctx | quote }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          args:
            - migrate
            {{- range .args }}
            - {{ . | quote }}
            {{- end }}
          {{- with .metricsPort }}
          ports:
            - {name: metrics, containerPort: {{ . }}, protocol: TCP}
          {{- end }}
          env:
            {{- include "obsplane.storeEnv" $ctx | nindent 12 }}
            {{- include "obsplane.opensearchEnv" $ctx | nindent 12 }}
            - name: OBSPLANE_LOG_FORMAT
              value: {{ $ctx.Values.log.format | quote }}
          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {memory: 1Gi}
          securityContext:
            {{- include "obsplane.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
      volumes:
        - name: tmp
          emptyDir: {}
{{- end }}
