package logsbackend

import (
	"context"
	"fmt"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Field paths of the k8s-events template (dots kept: the collector's
// exporter, not Fluent Bit, writes these).
const (
	evObjectLabel     = "resource.k8s.object.label.openchoreo.dev/"
	evObjectName      = "resource.k8s.object.name"
	evObjectNamespace = "attributes.k8s.namespace.name"
)

// QueryEvents runs an events query on the daily k8s-events-* indices, as
// the logs module does, with _id breaking timestamp ties.
func (b *Backend) QueryEvents(ctx context.Context, t readmodel.Tenancy, q readmodel.LogsQuery) (*readmodel.EventsPage, error) {
	if err := t.Require(q.Namespace); err != nil {
		return nil, err
	}
	indices, err := opensearch.K8sEventsIndices(q.Start, q.End)
	if err != nil {
		return nil, readmodel.Invalid("%v", err)
	}
	var f []any
	if q.Workflow() {
		f = append(f, obj{"term": obj{evObjectNamespace: "workflows-" + q.Namespace}},
			obj{"prefix": obj{evObjectName: q.WorkflowRunName}})
		if q.TaskName != "" {
			f = append(f, obj{"wildcard": obj{evObjectName: obj{"value": "*" + escapeWildcard(q.TaskName) + "*"}}})
		}
	} else {
		f = append(f, obj{"term": obj{evObjectLabel + "namespace": q.Namespace}})
		for _, s := range []struct{ label, v string }{
			{"project-uid", q.ProjectUID}, {"component-uid", q.ComponentUID}, {"environment-uid", q.EnvironmentUID},
		} {
			if s.v != "" {
				f = append(f, obj{"term": obj{evObjectLabel + s.label: s.v}})
			}
		}
	}
	f = append(f, obj{"range": obj{"@timestamp": obj{
		"gt": rangeTime(q.Start), "lt": rangeTime(q.End),
		"format": "strict_date_optional_time_nanos",
	}}})
	order := "desc"
	if !q.Desc {
		order = "asc"
	}
	res, err := b.Client.Search(ctx, indices, obj{
		"query":            obj{"bool": obj{"filter": f}},
		"size":             q.Limit,
		"track_total_hits": readmodel.TotalCap,
		"sort":             []any{obj{"@timestamp": obj{"order": order}}, obj{"_id": obj{"order": order}}},
	}, b.Search)
	if err != nil {
		return nil, fmt.Errorf("opensearch events query: %w", err)
	}
	out := &readmodel.EventsPage{Events: []readmodel.Event{}, Total: min(res.Hits.Total.Value, readmodel.TotalCap)}
	for _, h := range res.Hits.Hits {
		rec, err := opensearch.DecodeEventDocument(h.Source)
		if err != nil {
			return nil, fmt.Errorf("opensearch events query: document %s/%s: %w", h.Index, h.ID, err)
		}
		out.Events = append(out.Events, readmodel.NewEvent(rec.Timestamp, rec.Body, rec.SeverityText,
			rec.LogAttributes[opensearch.AttrEventReason], rec.LogAttributes["k8s.namespace.name"], rec.ResourceAttributes))
	}
	return out, nil
}
