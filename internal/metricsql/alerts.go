package metricsql

import (
	"context"
	"fmt"
	"time"
)

// Usage is the series a metric alert rule of OpenChoreo's module
// watches (observability-metrics-prometheus, internal/prometheus/
// alertrules.go), per step of r:
//
//	cpu_usage     sum(rate(container_cpu_usage_seconds_total{container!=""}[max(window, 2m)]))
//	                / sum(kube_pod_container_resource_limits{resource="cpu",job="kube-state-metrics"}) * 100
//	memory_usage  sum(container_memory_working_set_bytes{container!=""})
//	                / sum(kube_pod_container_resource_limits{resource="memory",job="kube-state-metrics"}) * 100
//
// over the scope's pods; a step without usage or limits has no value.
func (db *DB) Usage(ctx context.Context, s Scope, metric string, window time.Duration, r Range) ([]Point, error) {
	var usage map[string][]Point
	var err error
	limit := measure{"limit", "kube_pod_container_resource_limits", ksm}
	switch metric {
	case "cpu_usage":
		window = max(window, DefaultRateWindow)
		usage, err = db.perStep(ctx, "rate.sql", queryData{Measures: []measure{{"usage", "container_cpu_usage_seconds_total", "Attributes['container'] != ''"}}}, s, r, window)
		limit.Where += " AND Attributes['resource'] = 'cpu'"
	case "memory_usage":
		usage, err = db.perStep(ctx, "instant.sql", queryData{Measures: []measure{{"usage", "container_memory_working_set_bytes", "Attributes['container'] != ''"}}}, s, r, db.lookback())
		limit.Where += " AND Attributes['resource'] = 'memory'"
	default:
		return nil, fmt.Errorf("metricsql: no usage series for metric %q", metric)
	}
	if err != nil {
		return nil, err
	}
	limits, err := db.perStep(ctx, "instant.sql", queryData{Measures: []measure{limit}}, s, r, db.lookback())
	if err != nil {
		return nil, err
	}
	byTime := map[int64]float64{}
	for _, p := range limits["limit"] {
		byTime[p.T.UnixMilli()] = p.V
	}
	var out []Point
	for _, p := range usage["usage"] {
		if l, ok := byTime[p.T.UnixMilli()]; ok && l > 0 {
			out = append(out, Point{T: p.T, V: p.V / l * 100})
		}
	}
	return out, nil
}
