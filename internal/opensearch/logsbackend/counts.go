package logsbackend

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

var _ readmodel.Counts = (*Backend)(nil)

// countFamily is one index family a signal is counted in: its pattern, the
// time field, and the fields of the OpenChoreo namespace and component
// (keyword in the templated indices, text with a .keyword subfield in the
// dynamically mapped legacy kubernetes-*; docs/OPENSEARCH.md).
type countFamily struct {
	pattern, timeField, namespace, component string
	legacy                                   bool
}

var countFamilies = map[string][]countFamily{
	readmodel.SignalLogs: {
		{opensearch.ContainerLogsPrefix + "*", "@timestamp", labelNamespace, "kubernetes.labels.openchoreo_dev/component", false},
		{opensearch.LegacyKubernetesPrefix + "*", "@timestamp", labelNamespace + ".keyword", "kubernetes.labels.openchoreo_dev/component.keyword", true},
	},
	readmodel.SignalEvents: {{opensearch.K8sEventsPrefix + "*", "@timestamp", "resource.k8s.object.label.openchoreo.dev/namespace", "", false}},
	readmodel.SignalTraces: {{opensearch.OtelTracesPrefix + "*", "startTime", "resource.openchoreo.dev/namespace", "", false}},
}

// CountWindow implements readmodel.Counts: one search per index family
// (the legacy family maps the labels as text), counting every hit, with a
// terms aggregation when grouped.
func (b *Backend) CountWindow(ctx context.Context, t readmodel.Tenancy, q readmodel.WindowCount) (*readmodel.WindowCounts, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := t.Guard(); err != nil {
		return nil, err
	}
	out := &readmodel.WindowCounts{Groups: map[string]int64{}}
	for _, f := range countFamilies[q.Signal] {
		if f.legacy && b.SkipLegacy {
			continue
		}
		filters := []any{obj{"range": obj{f.timeField: obj{"gte": rangeTime(q.From), "lt": rangeTime(q.To), "format": "strict_date_optional_time_nanos"}}}}
		if !t.All {
			filters = append(filters, obj{"terms": obj{f.namespace: t.Namespaces}})
		}
		body := obj{"size": 0, "track_total_hits": true, "query": obj{"bool": obj{"filter": filters}}}
		field := map[string]string{"namespace": f.namespace, "component": f.component}[q.GroupBy]
		if field != "" {
			body["aggs"] = obj{"g": obj{"terms": obj{"field": field, "size": 10000, "missing": ""}}}
		}
		res, err := b.Client.Search(ctx, []string{f.pattern}, body, b.Search)
		if err != nil {
			return nil, fmt.Errorf("count %s in OpenSearch: %w", q.Signal, err)
		}
		out.Total += int64(res.Hits.Total.Value)
		if field == "" || len(res.Aggregations) == 0 {
			continue
		}
		var a struct {
			G struct {
				Buckets []struct {
					Key   string `json:"key"`
					Count int64  `json:"doc_count"`
				} `json:"buckets"`
			} `json:"g"`
		}
		if err := json.Unmarshal(res.Aggregations, &a); err != nil {
			return nil, fmt.Errorf("count %s in OpenSearch: decode groups: %w", q.Signal, err)
		}
		for _, bk := range a.G.Buckets {
			out.Groups[bk.Key] += bk.Count
		}
	}
	return out, nil
}
