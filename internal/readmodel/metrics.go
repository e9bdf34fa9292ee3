package readmodel

import (
	"context"
	"time"
)

// Metrics are the metrics adapter's reads: the Prometheus series that
// cAdvisor, kube-state-metrics and Hubble expose (remote-written into the
// metric tables) turned into the time series OpenChoreo's Prometheus module
// computes, and HTTP metrics from server spans where Hubble has none.
// internal/metricsql answers them from ClickHouse. Every read is scoped to
// the query's namespace, which the Tenancy must allow.
type Metrics interface {
	// ResourceMetrics are CPU, memory, network and disk series by the
	// contract's names (cpuUsage, ...); a series with no value is absent.
	ResourceMetrics(ctx context.Context, t Tenancy, q MetricsQuery) (map[string][]MetricPoint, error)
	// HTTPMetrics are request counts and latencies by the contract's names,
	// and where they came from (MetricsSourceHubble, ...).
	HTTPMetrics(ctx context.Context, t Tenancy, q MetricsQuery) (map[string][]MetricPoint, MetricsSource, error)
	// RuntimeTopology is the component-to-component traffic of a project
	// in an environment over a window.
	RuntimeTopology(ctx context.Context, t Tenancy, q TopologyWindow) ([]RuntimeEdge, error)
	// UsagePercent is the usage over limits a metric alert rule watches.
	UsagePercent(ctx context.Context, t Tenancy, q UsageQuery) ([]MetricPoint, error)
}

// The contract's series names, in its order.
var (
	ResourceMetricNames = []string{"cpuUsage", "cpuRequests", "cpuLimits", "memoryUsage", "memoryRequests", "memoryLimits",
		"networkReceiveBytes", "networkTransmitBytes", "diskReadBytes", "diskWriteBytes"}
	HTTPMetricNames = []string{"requestCount", "successfulRequestCount", "unsuccessfulRequestCount", "meanLatency", "latencyP50", "latencyP90", "latencyP99"}
)

// MetricsScope is the metrics adapter's search scope: the namespace always,
// each UID when not empty.
type MetricsScope struct {
	Namespace, ProjectUID, ComponentUID, EnvironmentUID string
}

// MetricsRange is a range query's evaluation times: Start, Start+Step, ...
// up to End, as Prometheus's query_range evaluates them.
type MetricsRange struct {
	Start, End time.Time
	Step       time.Duration
}

// Steps is the number of evaluation times.
func (r MetricsRange) Steps() int {
	if r.Step <= 0 || r.End.Before(r.Start) {
		return 0
	}
	return int(r.End.Sub(r.Start)/r.Step) + 1
}

// Time of step i.
func (r MetricsRange) Time(i int) time.Time { return r.Start.Add(time.Duration(i) * r.Step) }

// MetricsQuery is one series query.
type MetricsQuery struct {
	Scope MetricsScope
	Range MetricsRange
}

// MetricPoint is one value of a series.
type MetricPoint struct {
	T time.Time
	V float64
}

// MetricsSource says where HTTP metrics came from.
type MetricsSource string

// Sources of HTTP metrics.
const (
	// MetricsSourceHubble is Hubble's flow metrics (what OpenChoreo's
	// module reads).
	MetricsSourceHubble MetricsSource = "hubble"
	// MetricsSourceSpans is the server spans of the scope's traces, when it
	// has no Hubble series in the range.
	MetricsSourceSpans MetricsSource = "spans"
	// MetricsSourceNone is neither: the answer is empty.
	MetricsSourceNone MetricsSource = "none"
)

// TopologyWindow asks for the runtime topology of Scope (namespace, project
// and environment) over [Start, End]; Scope.ComponentUID, when set, keeps
// the edges touching it.
type TopologyWindow struct {
	Scope      MetricsScope
	Start, End time.Time
}

// RuntimeEdge is HTTP traffic from one component to another.
type RuntimeEdge struct {
	SourceUID, SourceName, TargetUID, TargetName string
	Metrics                                      RuntimeEdgeMetrics
}

// RuntimeEdgeMetrics are an edge's aggregates over the window: counts are
// totals, latencies in seconds.
type RuntimeEdgeMetrics struct {
	RequestCount, UnsuccessfulRequestCount          float64
	MeanLatency, LatencyP50, LatencyP90, LatencyP99 float64
}

// UsageQuery asks for a metric rule's series: Metric is cpu_usage or
// memory_usage, Window the rule's window (the rate's range for CPU).
type UsageQuery struct {
	Scope  MetricsScope
	Metric string
	Window time.Duration
	Range  MetricsRange
}
