package opensearch

import (
	"fmt"
	"time"
)

// Index name prefixes, as the writers produce them.
const (
	// ContainerLogsPrefix: Fluent Bit's opensearch output with
	// Logstash_Prefix container-logs and Logstash_DateFormat %Y-%m-%d
	// (community-modules observability-logs-opensearch/helm/templates/fluent-bit/config.yaml).
	ContainerLogsPrefix = "container-logs-"
	// LegacyKubernetesPrefix: before Dec 2025 OpenChoreo's data-plane chart
	// used Logstash_Prefix kubernetes with Fluent Bit's default
	// Logstash_DateFormat %Y.%m.%d (openchoreo/openchoreo commit 957e2a313
	// renamed it).
	LegacyKubernetesPrefix = "kubernetes-"
	// OtelTracesPrefix: the OpenTelemetry collector's opensearch exporter
	// with traces_index otel-traces and traces_index_time_format yyyy-MM-dd
	// (community-modules observability-tracing-opensearch/helm/templates/opentelemetry-collector/configMap.yaml).
	OtelTracesPrefix = "otel-traces-"
	// K8sEventsPrefix: Kubernetes events, as the logs module queries them
	// (OPENSEARCH_EVENTS_INDEX_PREFIX default in observability-logs-opensearch/internal/config.go).
	K8sEventsPrefix = "k8s-events-"
)

// Writers name daily indices by the UTC date of the record's timestamp
// (Fluent Bit and the collector both format in UTC).

// ContainerLogsIndex is the daily container-logs index for t: container-logs-YYYY-MM-DD.
func ContainerLogsIndex(t time.Time) string {
	return ContainerLogsPrefix + t.UTC().Format("2006-01-02")
}

// LegacyKubernetesIndex is the pre-Dec-2025 daily index for t: kubernetes-YYYY.MM.DD.
func LegacyKubernetesIndex(t time.Time) string {
	return LegacyKubernetesPrefix + t.UTC().Format("2006.01.02")
}

// OtelTracesIndex is the daily traces index for t: otel-traces-YYYY-MM-DD.
func OtelTracesIndex(t time.Time) string { return OtelTracesPrefix + t.UTC().Format("2006-01-02") }

// K8sEventsIndex is the daily events index for t: k8s-events-YYYY-MM-DD.
func K8sEventsIndex(t time.Time) string { return K8sEventsPrefix + t.UTC().Format("2006-01-02") }

// ContainerLogsIndices lists the daily container-logs indices that can hold
// records in [start, end], one per UTC day, oldest first, as the logs module
// does when it narrows a query to a time range.
func ContainerLogsIndices(start, end time.Time) ([]string, error) {
	return dailyIndices(start, end, ContainerLogsIndex)
}

// LegacyKubernetesIndices is ContainerLogsIndices for the legacy naming.
func LegacyKubernetesIndices(start, end time.Time) ([]string, error) {
	return dailyIndices(start, end, LegacyKubernetesIndex)
}

// K8sEventsIndices is ContainerLogsIndices for Kubernetes events.
func K8sEventsIndices(start, end time.Time) ([]string, error) {
	return dailyIndices(start, end, K8sEventsIndex)
}

// maxDays bounds a range so a typo in a year cannot make a million names.
const maxDays = 3660

func dailyIndices(start, end time.Time, name func(time.Time) string) ([]string, error) {
	if end.Before(start) {
		return nil, fmt.Errorf("opensearch: time range end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	s := start.UTC().Truncate(24 * time.Hour)
	e := end.UTC()
	if days := int(e.Sub(s)/(24*time.Hour)) + 1; days > maxDays {
		return nil, fmt.Errorf("opensearch: time range %s..%s spans %d days, more than %d", start.Format(time.RFC3339), end.Format(time.RFC3339), days, maxDays)
	}
	var out []string
	for d := s; !d.After(e); d = d.AddDate(0, 0, 1) {
		out = append(out, name(d))
	}
	return out, nil
}
