package logsbackend

import (
	"context"
	"fmt"

	"github.com/openchoreo/obsplane/internal/loglevel"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TailLogs answers /api/logs newest first from the tenant filters, levels,
// the time range and the limit. The search syntax, service, trace id and
// cursors have no OpenSearch counterpart in OpenChoreo's index layout (those
// fields are not indexed), so a filter using them is Unsupported, without
// I/O. Lines carry no cursor: OpenSearch cannot compute ClickHouse's row
// key.
func (b *Backend) TailLogs(ctx context.Context, t readmodel.Tenancy, f readmodel.LogFilter) (*readmodel.LogLines, error) {
	if f.Search != "" || f.Service != "" || f.TraceID != "" || f.After != nil {
		return nil, readmodel.NotSupported("logs tail with q, service, traceId or cursor")
	}
	if err := t.RequireIf(f.Namespace); err != nil {
		return nil, err
	}
	var filters []any
	switch {
	case f.Namespace != "":
		filters = append(filters, keyword(labelNamespace, f.Namespace))
	case !t.All:
		if err := t.Guard(); err != nil {
			return nil, err
		}
		filters = append(filters, perIndex(obj{"terms": obj{labelNamespace: t.Namespaces}}, obj{"terms": obj{labelNamespace + ".keyword": t.Namespaces}}))
	}
	for _, s := range []struct{ name, value string }{{"project", f.Project}, {"component", f.Component}, {"environment", f.Environment}} {
		if s.value == "" {
			continue
		}
		filters = append(filters, obj{"bool": obj{"minimum_should_match": 1, "should": []any{
			keyword("kubernetes.labels.openchoreo_dev/"+s.name, s.value),
			keyword("kubernetes.labels.openchoreo_dev/"+s.name+"-uid", s.value),
		}}})
	}
	filters = append(filters, obj{"range": obj{"@timestamp": obj{
		"gte":    rangeTime(f.Since),
		"lte":    rangeTime(f.Until),
		"format": "strict_date_optional_time_nanos",
	}}})
	if len(f.Levels) > 0 {
		filters = append(filters, levelFilter(f.Levels))
	}
	indices, err := b.indices(f.Since, f.Until)
	if err != nil {
		return nil, readmodel.Invalid("%v", err)
	}
	res, err := b.search(ctx, indices, obj{
		"query":            obj{"bool": obj{"filter": filters}},
		"size":             f.Limit,
		"track_total_hits": false,
		"sort":             []any{obj{"@timestamp": obj{"order": "desc"}}, obj{"_id": obj{"order": "desc"}}},
	})
	if err != nil {
		return nil, err
	}
	out := &readmodel.LogLines{Lines: []readmodel.LogLine{}}
	for _, h := range res.Hits.Hits {
		rec, err := opensearch.DecodeLogDocument(h.Source)
		if err != nil {
			return nil, fmt.Errorf("opensearch /api/logs: document %s/%s: %w", h.Index, h.ID, err)
		}
		e := entry(rec)
		l := readmodel.LogLine{Timestamp: rec.Timestamp, Level: loglevel.Of(int(rec.SeverityNumber), rec.SeverityText, rec.Body),
			Body: rec.Body, Service: rec.ServiceName, Namespace: e.Namespace, Project: e.Project,
			Component: e.Component, Environment: e.Environment, Pod: e.Pod,
			Container: e.Container, TraceID: rec.TraceID, SpanID: rec.SpanID}
		if len(rec.LogAttributes) > 0 {
			l.Attributes = rec.LogAttributes
		}
		out.Lines = append(out.Lines, l)
	}
	return out, nil
}
