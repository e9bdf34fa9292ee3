package logsbackend

import (
	"context"
	"fmt"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
	"github.com/openchoreo/obsplane/internal/api/obsplaneapi"
	"github.com/openchoreo/obsplane/internal/opensearch"
)

// APILogsFilter is the part of obsplane's GET /api/logs that OpenSearch can
// answer: the tenant filters, levels, the time range and tail. The search
// syntax (q), service, traceId and cursors have no OpenSearch counterpart in
// OpenChoreo's index layout (those fields are not indexed), so a router
// must send such reads to ClickHouse.
type APILogsFilter = obsplaneapi.LogsFilter

// QueryAPILogs answers f newest first, with the /api/logs response type.
// Lines carry no cursor: OpenSearch cannot compute ClickHouse's row key.
func (b *Backend) QueryAPILogs(ctx context.Context, f APILogsFilter) (*obsplaneapi.LogsResponse, error) {
	p := auth.FromContext(ctx)
	var filters []any
	switch {
	case f.Namespace != "":
		if err := httpx.RequireNamespace(p, f.Namespace); err != nil {
			return nil, err
		}
		filters = append(filters, keyword(labelNamespace, f.Namespace))
	case !p.All:
		if len(p.Namespaces) == 0 {
			return nil, httpx.Forbidden("the caller may read no namespace (token has no %q claim)", auth.NamespacesClaim)
		}
		filters = append(filters, perIndex(obj{"terms": obj{labelNamespace: p.Namespaces}}, obj{"terms": obj{labelNamespace + ".keyword": p.Namespaces}}))
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
		"gte":    f.Since.UTC().Format(time.RFC3339Nano),
		"lte":    f.Until.UTC().Format(time.RFC3339Nano),
		"format": "strict_date_optional_time_nanos",
	}}})
	if len(f.Levels) > 0 {
		var levels []any
		for _, l := range f.Levels {
			levels = append(levels, logWildcard("*"+l+"*"))
		}
		filters = append(filters, obj{"bool": obj{"should": levels, "minimum_should_match": 1}})
	}
	tail := f.Tail
	if tail <= 0 {
		tail = obsplaneapi.DefaultTail
	}
	indices, err := b.indices(f.Since, f.Until)
	if err != nil {
		return nil, httpx.BadRequest("%v", err)
	}
	res, err := b.search(ctx, indices, obj{
		"query":            obj{"bool": obj{"filter": filters}},
		"size":             tail,
		"track_total_hits": false,
		"sort":             []any{obj{"@timestamp": obj{"order": "desc"}}, obj{"_id": obj{"order": "desc"}}},
	})
	if err != nil {
		return nil, err
	}
	out := &obsplaneapi.LogsResponse{Logs: []obsplaneapi.LogLine{}}
	for _, h := range res.Hits.Hits {
		rec, err := opensearch.DecodeLogDocument(h.Source)
		if err != nil {
			return nil, fmt.Errorf("opensearch /api/logs: document %s/%s: %w", h.Index, h.ID, err)
		}
		e := entry(rec)
		l := obsplaneapi.LogLine{Timestamp: rec.Timestamp, Level: logsadapter.DeriveLevel(int(rec.SeverityNumber), rec.SeverityText, rec.Body),
			Log: rec.Body, Service: rec.ServiceName, Namespace: e.Metadata.NamespaceName, Project: e.Metadata.ProjectName,
			Component: e.Metadata.ComponentName, Environment: e.Metadata.EnvironmentName, Pod: e.Metadata.PodName,
			Container: e.Metadata.ContainerName, TraceID: rec.TraceID, SpanID: rec.SpanID}
		if len(rec.LogAttributes) > 0 {
			l.Attributes = rec.LogAttributes
		}
		out.Logs = append(out.Logs, l)
	}
	return out, nil
}
