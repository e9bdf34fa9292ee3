package promtest

import (
	"fmt"
	"strings"
)

// Scope is the metrics adapter's search scope.
type Scope struct {
	Namespace, ProjectUID, ComponentUID, EnvironmentUID string
}

// The PromQL of OpenChoreo's Prometheus module
// (observability-metrics-prometheus/internal/prometheus/queries.go at
// community-modules ad903e1), rebuilt with the same shape: the reference
// obsplane's answers are compared with.

func (s Scope) labelFilter() string {
	f := fmt.Sprintf("label_openchoreo_dev_namespace=%q", s.Namespace)
	if s.ComponentUID != "" {
		f += fmt.Sprintf(",label_openchoreo_dev_component_uid=%q", s.ComponentUID)
	}
	if s.ProjectUID != "" {
		f += fmt.Sprintf(",label_openchoreo_dev_project_uid=%q", s.ProjectUID)
	}
	if s.EnvironmentUID != "" {
		f += fmt.Sprintf(",label_openchoreo_dev_environment_uid=%q", s.EnvironmentUID)
	}
	return f
}

func (s Scope) scopeLabels() []string {
	var out []string
	if s.ComponentUID != "" {
		out = append(out, "label_openchoreo_dev_component_uid")
	}
	if s.ProjectUID != "" {
		out = append(out, "label_openchoreo_dev_project_uid")
	}
	if s.EnvironmentUID != "" {
		out = append(out, "label_openchoreo_dev_environment_uid")
	}
	return out
}

func (s Scope) sumBy() string { return strings.Join(s.scopeLabels(), ", ") }

func (s Scope) groupLeft() string {
	if l := s.scopeLabels(); len(l) > 0 {
		return "group_left (" + strings.Join(l, ", ") + ")"
	}
	return "group_left"
}

func (s Scope) join(expr string) string {
	return fmt.Sprintf(`sum by (%s) (%s * on (pod, namespace) %s kube_pod_labels{job="kube-state-metrics",%s})`, s.sumBy(), expr, s.groupLeft(), s.labelFilter())
}

func (s Scope) running(metric, resource string) string {
	return s.join(fmt.Sprintf(`(%s{resource=%q,job="kube-state-metrics"} AND ON (pod, namespace) (kube_pod_status_phase{phase="Running"} == 1))`, metric, resource))
}

// ResourceQueries are the module's resource queries, plus network and disk
// (which the module leaves empty) in the same form.
func ResourceQueries(s Scope) map[string]string {
	return map[string]string{
		"cpuUsage":             s.join(`rate(container_cpu_usage_seconds_total{container!=""}[2m])`),
		"cpuRequests":          s.running("kube_pod_container_resource_requests", "cpu"),
		"cpuLimits":            s.running("kube_pod_container_resource_limits", "cpu"),
		"memoryUsage":          s.join(`container_memory_working_set_bytes{container!=""}`),
		"memoryRequests":       s.running("kube_pod_container_resource_requests", "memory"),
		"memoryLimits":         s.running("kube_pod_container_resource_limits", "memory"),
		"networkReceiveBytes":  s.join(`rate(container_network_receive_bytes_total[2m])`),
		"networkTransmitBytes": s.join(`rate(container_network_transmit_bytes_total[2m])`),
		"diskReadBytes":        s.join(`rate(container_fs_reads_bytes_total{container!=""}[2m])`),
		"diskWriteBytes":       s.join(`rate(container_fs_writes_bytes_total{container!=""}[2m])`),
	}
}

func (s Scope) hubbleMapping() string {
	return fmt.Sprintf(`label_replace(label_replace(kube_pod_labels{job="kube-state-metrics",%s}, "destination_namespace", "$1", "namespace", "(.*)"), "destination_pod", "$1", "pod", "(.*)")`, s.labelFilter())
}

func (s Scope) hubbleRate(metric, matcher string) string {
	return fmt.Sprintf(`sum by (%s) (rate(%s{reporter="server"%s}[2m]) * on(destination_namespace, destination_pod) %s %s)`, s.sumBy(), metric, matcher, s.groupLeft(), s.hubbleMapping())
}

// HTTPQueries are the module's HTTP queries.
func HTTPQueries(s Scope) map[string]string {
	quantile := func(q string) string {
		by := "le"
		if s.sumBy() != "" {
			by = s.sumBy() + ", le"
		}
		return fmt.Sprintf(`histogram_quantile(%s, sum by (%s) (rate(hubble_http_request_duration_seconds_bucket{reporter="server"}[2m]) * on(destination_namespace, destination_pod) %s %s)) >= 0`, q, by, s.groupLeft(), s.hubbleMapping())
	}
	return map[string]string{
		"requestCount":             s.hubbleRate("hubble_http_requests_total", "") + " >= 0",
		"successfulRequestCount":   s.hubbleRate("hubble_http_requests_total", `, status=~"^[123]..?$"`) + " >= 0",
		"unsuccessfulRequestCount": s.hubbleRate("hubble_http_requests_total", `, status=~"^[45]..?$"`) + " >= 0",
		"meanLatency":              "(" + s.hubbleRate("hubble_http_request_duration_seconds_sum", "") + " / " + s.hubbleRate("hubble_http_requests_total", "") + ") >= 0",
		"latencyP50":               quantile("0.5"),
		"latencyP90":               quantile("0.9"),
		"latencyP99":               quantile("0.99"),
	}
}

func (s Scope) sideMapping(side, nameLabel, uidLabel string) string {
	return fmt.Sprintf(`label_replace(label_replace(label_replace(label_replace(kube_pod_labels{job="kube-state-metrics",%s}, "%s_namespace", "$1", "namespace", "(.*)"), "%s_pod", "$1", "pod", "(.*)"), "%s", "$1", "label_openchoreo_dev_component", "(.*)"), "%s", "$1", "label_openchoreo_dev_component_uid", "(.*)")`,
		s.labelFilter(), side, side, nameLabel, uidLabel)
}

func (s Scope) topologyIncrease(metric, matcher, duration string) string {
	withDst := fmt.Sprintf(`increase(%s{reporter="server"%s}[%s]) * on(destination_namespace, destination_pod) group_left(dst_component, dst_component_uid) %s`,
		metric, matcher, duration, s.sideMapping("destination", "dst_component", "dst_component_uid"))
	return fmt.Sprintf(`sum by (src_component, dst_component, src_component_uid, dst_component_uid) ((%s) * on(source_namespace, source_pod) group_left(src_component, src_component_uid) %s)`,
		withDst, s.sideMapping("source", "src_component", "src_component_uid"))
}

// TopologyQueries are the module's runtime topology queries over duration
// (a PromQL duration such as "3600s"), evaluated at the window's end. The
// scope carries the project and environment only, as the module's filter.
func TopologyQueries(s Scope, duration string) map[string]string {
	s.ComponentUID = ""
	bucket := func(q string) string {
		withDst := fmt.Sprintf(`increase(hubble_http_request_duration_seconds_bucket{reporter="server"}[%s]) * on(destination_namespace, destination_pod) group_left(dst_component, dst_component_uid) %s`,
			duration, s.sideMapping("destination", "dst_component", "dst_component_uid"))
		return fmt.Sprintf(`histogram_quantile(%s, sum by (src_component, dst_component, src_component_uid, dst_component_uid, le) ((%s) * on(source_namespace, source_pod) group_left(src_component, src_component_uid) %s)) >= 0`,
			q, withDst, s.sideMapping("source", "src_component", "src_component_uid"))
	}
	return map[string]string{
		"requestCount":             s.topologyIncrease("hubble_http_requests_total", "", duration) + " > 0",
		"unsuccessfulRequestCount": s.topologyIncrease("hubble_http_requests_total", `,status=~"^[45]..?$"`, duration) + " > 0",
		"meanLatency":              "(" + s.topologyIncrease("hubble_http_request_duration_seconds_sum", "", duration) + " / " + s.topologyIncrease("hubble_http_requests_total", "", duration) + ") >= 0",
		"latencyP50":               bucket("0.5"),
		"latencyP90":               bucket("0.9"),
		"latencyP99":               bucket("0.99"),
	}
}
