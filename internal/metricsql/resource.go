package metricsql

import (
	"context"
	"maps"
)

// The resource metrics, as OpenChoreo's Prometheus module defines them
// (observability-metrics-prometheus, internal/prometheus/queries.go):
//
//	cpuUsage         sum(rate(container_cpu_usage_seconds_total{container!=""}[2m]))
//	memoryUsage      sum(container_memory_working_set_bytes{container!=""})
//	cpu|memory       sum(kube_pod_container_resource_requests|limits{resource="cpu|memory",job="kube-state-metrics"}
//	 Requests|Limits     AND ON (pod, namespace) (kube_pod_status_phase{phase="Running"} == 1))
//
// each joined with kube_pod_labels{job="kube-state-metrics"} on (pod,
// namespace) for the scope, which obsplane did at ingest. The module leaves
// network and disk empty; obsplane answers them from cAdvisor the same way:
//
//	networkReceive|TransmitBytes  sum(rate(container_network_receive|transmit_bytes_total[2m]))
//	diskRead|WriteBytes           sum(rate(container_fs_reads|writes_bytes_total{container!=""}[2m]))
var (
	resourceRates = []measure{
		{"cpuUsage", "container_cpu_usage_seconds_total", "Attributes['container'] != ''"},
		{"networkReceiveBytes", "container_network_receive_bytes_total", ""},
		{"networkTransmitBytes", "container_network_transmit_bytes_total", ""},
		{"diskReadBytes", "container_fs_reads_bytes_total", "Attributes['container'] != ''"},
		{"diskWriteBytes", "container_fs_writes_bytes_total", "Attributes['container'] != ''"},
	}
	resourceGauges = []measure{
		{"memoryUsage", "container_memory_working_set_bytes", "Attributes['container'] != ''"},
		{"cpuRequests", "kube_pod_container_resource_requests", ksm + " AND Attributes['resource'] = 'cpu'"},
		{"cpuLimits", "kube_pod_container_resource_limits", ksm + " AND Attributes['resource'] = 'cpu'"},
		{"memoryRequests", "kube_pod_container_resource_requests", ksm + " AND Attributes['resource'] = 'memory'"},
		{"memoryLimits", "kube_pod_container_resource_limits", ksm + " AND Attributes['resource'] = 'memory'"},
	}
	// Requests and limits count only while the pod runs.
	resourceRunning = []string{"cpuRequests", "cpuLimits", "memoryRequests", "memoryLimits"}
)

// ksm selects kube-state-metrics' series, as the module's queries do.
const ksm = "Attributes['job'] = 'kube-state-metrics'"

// Resource answers the resource metrics of scope over r, keyed by the
// contract's names; a series with no value at any step is absent.
func (db *DB) Resource(ctx context.Context, s Scope, r Range) (map[string][]Point, error) {
	rates, err := db.perStep(ctx, "rate.sql", queryData{Measures: resourceRates}, s, r, db.rateWindow())
	if err != nil {
		return nil, err
	}
	gauges, err := db.perStep(ctx, "instant.sql", queryData{Measures: resourceGauges, Running: resourceRunning}, s, r, db.lookback())
	if err != nil {
		return nil, err
	}
	maps.Copy(rates, gauges)
	return rates, nil
}
