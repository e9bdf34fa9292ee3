{{/* HorizontalPodAutoscaler of a Deployment: (dict "ctx" $ "component" "gateway" "a" .Values.gateway.autoscaling) */}}
{{- define "obsplane.hpa" -}}
{{- $ctx := .ctx -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "obsplane.fullname" $ctx }}-{{ .component }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "obsplane.componentLabels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "obsplane.fullname" $ctx }}-{{ .component }}
  minReplicas: {{ .a.minReplicas }}
  maxReplicas: {{ .a.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target: {type: Utilization, averageUtilization: {{ .a.targetCPUUtilizationPercentage }}}
    - type: Resource
      resource:
        name: memory
        target: {type: Utilization, averageUtilization: {{ .a.targetMemoryUtilizationPercentage }}}
  behavior:
    # Scale down slowly: a removed gateway pod drains its queue first.
    scaleDown:
      stabilizationWindowSeconds: 600
      policies:
        - {type: Pods, value: 1, periodSeconds: 300}
{{- end }}

{{/* PodDisruptionBudget: (dict "ctx" $ "component" "gateway" "p" .Values.gateway.podDisruptionBudget) */}}
{{- define "obsplane.pdb" -}}
{{- $ctx := .ctx -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "obsplane.fullname" $ctx }}-{{ .component }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "obsplane.componentLabels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ .p.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "obsplane.componentSelector" (dict "ctx" $ctx "component" .component) | nindent 6 }}
{{- end }}
