// Package logsbackend is the read model's logs reads (readmodel.Logs) on
// the OpenSearch OpenChoreo runs today: the logs adapter's logs and events
// queries, and /api/logs without search syntax, service, trace id or
// cursor. It returns the same typed results as the ClickHouse backend, so
// the router can serve a read from either store and compare the two
// answers; the reads it cannot answer return readmodel's Unsupported error
// without I/O, and the router asks ClickHouse instead.
//
// The query is the one OpenChoreo's OpenSearch logs module sends
// (docs/OPENSEARCH.md): term filters on the Replace_Dots label keys, a
// range on @timestamp excluding both ends, the search phrase as a
// case-insensitive *phrase* wildcard on log, each requested level as a
// case-insensitive *LEVEL* wildcard on log (OR-ed), sort on @timestamp,
// "total" counted up to readmodel.TotalCap. It reads the daily
// container-logs-YYYY-MM-DD indices of the range and, unless turned off, the
// legacy kubernetes-YYYY.MM.DD ones, whose dynamic mapping needs the
// .keyword subfields. Documents become records through
// opensearch.DecodeLogDocument, the backfill's mapping, and records become
// entries exactly as the ClickHouse backend makes them.
//
// Where the two stores can differ by design: the level filter here is text
// only (OpenSearch indexes no severity), while ClickHouse uses a row's OTel
// severity when it has one; rows sharing a timestamp are ordered by _id
// here and by a row hash there; legacy indices match log text through
// log.keyword, which holds lines up to 256 characters only.
package logsbackend

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/loglevel"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Backend is readmodel.Logs on OpenSearch; the reads it has no index for
// are readmodel.Unsupported.
type Backend struct {
	readmodel.Unsupported
	Client *opensearch.Client
	// SkipLegacy leaves the pre-Dec-2025 kubernetes-* indices out.
	SkipLegacy bool
	// Search bounds the retries of searches OpenSearch rejects with 429 or
	// 503.
	Search opensearch.SearchOptions
}

var _ readmodel.Logs = (*Backend)(nil)

// Label field paths, as Fluent Bit's Replace_Dots stores OpenChoreo's labels.
const (
	labelNamespace      = "kubernetes.labels.openchoreo_dev/namespace"
	labelProjectUID     = "kubernetes.labels.openchoreo_dev/project-uid"
	labelComponentUID   = "kubernetes.labels.openchoreo_dev/component-uid"
	labelEnvironmentUID = "kubernetes.labels.openchoreo_dev/environment-uid"
	annotationNodeName  = "kubernetes.annotations.workflows_argoproj_io/node-name"
)

type obj = map[string]any

// QueryLogs runs q on OpenSearch.
func (b *Backend) QueryLogs(ctx context.Context, t readmodel.Tenancy, q readmodel.LogsQuery) (*readmodel.LogsPage, error) {
	if err := t.Require(q.Namespace); err != nil {
		return nil, err
	}
	indices, err := b.indices(q.Start, q.End)
	if err != nil {
		return nil, readmodel.Invalid("%v", err)
	}
	order := "desc"
	if !q.Desc {
		order = "asc"
	}
	body := obj{
		"query":            obj{"bool": obj{"filter": b.filters(q)}},
		"size":             q.Limit,
		"track_total_hits": readmodel.TotalCap,
		// _id breaks timestamp ties so the order is total and stable.
		"sort":    []any{obj{"@timestamp": obj{"order": order}}, obj{"_id": obj{"order": order}}},
		"_source": true,
	}
	res, err := b.search(ctx, indices, body)
	if err != nil {
		return nil, err
	}
	out := &readmodel.LogsPage{Total: min(res.Hits.Total.Value, readmodel.TotalCap), Entries: []readmodel.LogEntry{}}
	for _, h := range res.Hits.Hits {
		rec, err := opensearch.DecodeLogDocument(h.Source)
		if err != nil {
			return nil, fmt.Errorf("opensearch logs query: document %s/%s: %w", h.Index, h.ID, err)
		}
		out.Entries = append(out.Entries, entry(rec))
	}
	return out, nil
}

// entry is a record as the ClickHouse backend reports the row: the tenant
// columns' values (openchoreo.X, else the openchoreo.dev/X fallback key, as
// the schema materializes them), the level from severity or text.
func entry(rec opensearch.LogRecord) readmodel.LogEntry {
	ra := rec.ResourceAttributes
	col := func(attr, fallback string) string {
		if v := ra[attr]; v != "" {
			return v
		}
		return ra[fallback]
	}
	return readmodel.LogEntry{
		Timestamp:      rec.Timestamp,
		Body:           rec.Body,
		Level:          loglevel.Of(int(rec.SeverityNumber), rec.SeverityText, rec.Body),
		Component:      col("openchoreo.component", "openchoreo.dev/component"),
		Project:        col("openchoreo.project", "openchoreo.dev/project"),
		Environment:    col("openchoreo.environment", "openchoreo.dev/environment"),
		Namespace:      col("openchoreo.namespace", "openchoreo.dev/namespace"),
		ComponentUID:   col("openchoreo.component.uid", "openchoreo.dev/component-uid"),
		ProjectUID:     col("openchoreo.project.uid", "openchoreo.dev/project-uid"),
		EnvironmentUID: col("openchoreo.environment.uid", "openchoreo.dev/environment-uid"),
		Container:      ra[opensearch.AttrContainerName],
		Pod:            ra[opensearch.AttrPodName],
		PodNamespace:   ra[opensearch.AttrNamespaceName],
	}
}

// indices lists the daily indices that can hold [start, end].
func (b *Backend) indices(start, end time.Time) ([]string, error) {
	out, err := opensearch.ContainerLogsIndices(start, end)
	if err != nil {
		return nil, err
	}
	if !b.SkipLegacy {
		legacy, err := opensearch.LegacyKubernetesIndices(start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, legacy...)
	}
	return out, nil
}

// perIndex applies container to container-logs-* documents and legacy to
// kubernetes-* ones: the first map labels, names and log as keyword (log
// as wildcard); the legacy indices got OpenSearch's dynamic mapping, text
// with a .keyword subfield, and a query on the text field would match
// single tokens of a value ("default" in "default-2").
func perIndex(container, legacy any) any {
	return obj{"bool": obj{"minimum_should_match": 1, "should": []any{
		obj{"bool": obj{"filter": []any{obj{"prefix": obj{"_index": opensearch.ContainerLogsPrefix}}, container}}},
		obj{"bool": obj{"filter": []any{obj{"prefix": obj{"_index": opensearch.LegacyKubernetesPrefix}}, legacy}}},
	}}}
}

// keyword is a term on a keyword field, per index kind.
func keyword(field, value string) any {
	return perIndex(obj{"term": obj{field: value}}, obj{"term": obj{field + ".keyword": value}})
}

// logWildcard is a case-insensitive wildcard on the log text (log.keyword
// in legacy indices, as the pre-Dec-2025 Observer queried it).
func logWildcard(pattern string) any {
	w := func(field string) any {
		return obj{"wildcard": obj{field: obj{"value": pattern, "case_insensitive": true}}}
	}
	return perIndex(w("log"), w("log.keyword"))
}

// escapeWildcard escapes the wildcard syntax in a user's phrase, as the
// logs module does (\ * ? and ").
func escapeWildcard(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `"`, `\"`)
	return r.Replace(s)
}

func (b *Backend) filters(q readmodel.LogsQuery) []any {
	var f []any
	if q.Workflow() {
		// The ClickHouse backend's workflow scope: pods of run <name> in
		// workflows-<namespace>, without Argo's init and wait containers.
		f = append(f,
			keyword("kubernetes.namespace_name", "workflows-"+q.Namespace),
			perIndex(obj{"prefix": obj{"kubernetes.pod_name": q.WorkflowRunName}},
				obj{"prefix": obj{"kubernetes.pod_name.keyword": q.WorkflowRunName}}),
			obj{"bool": obj{"must_not": []any{perIndex(
				obj{"terms": obj{"kubernetes.container_name": []string{"init", "wait"}}},
				obj{"terms": obj{"kubernetes.container_name.keyword": []string{"init", "wait"}}})}}})
		if q.TaskName != "" {
			pattern := "*" + escapeWildcard(q.TaskName) + "*"
			f = append(f, perIndex(obj{"wildcard": obj{annotationNodeName: obj{"value": pattern}}},
				obj{"wildcard": obj{annotationNodeName + ".keyword": obj{"value": pattern}}}))
		}
	} else {
		f = append(f, keyword(labelNamespace, q.Namespace))
		for _, s := range []struct{ field, v string }{
			{labelProjectUID, q.ProjectUID}, {labelComponentUID, q.ComponentUID}, {labelEnvironmentUID, q.EnvironmentUID},
		} {
			if s.v != "" {
				f = append(f, keyword(s.field, s.v))
			}
		}
	}
	f = append(f, obj{"range": obj{"@timestamp": obj{
		"gt":     rangeTime(q.Start),
		"lt":     rangeTime(q.End),
		"format": "strict_date_optional_time_nanos",
	}}})
	if q.Phrase != "" {
		f = append(f, logWildcard("*"+escapeWildcard(q.Phrase)+"*"))
	}
	if len(q.Levels) > 0 {
		f = append(f, levelFilter(q.Levels))
	}
	return f
}

// levelFilter keeps documents whose log text names any of levels, as the
// logs module filters levels (OpenSearch indexes no severity).
func levelFilter(levels []string) any {
	var should []any
	for _, l := range levels {
		should = append(should, logWildcard("*"+l+"*"))
	}
	return obj{"bool": obj{"should": should, "minimum_should_match": 1}}
}

// ErrPartial is opensearch.ErrPartial: a search some shards failed.
var ErrPartial = opensearch.ErrPartial

// search runs body on indices with the backend's retry settings.
func (b *Backend) search(ctx context.Context, indices []string, body any) (*opensearch.SearchResult, error) {
	res, err := b.Client.Search(ctx, indices, body, b.Search)
	if err != nil {
		return nil, fmt.Errorf("opensearch logs query: %w", err)
	}
	return res, nil
}

// rangeTime formats a range bound with all nine fraction digits: OpenSearch
// fills a date's missing parts with the end of the unit for gt and lte, so
// "…:44Z" as a gt bound would leave out the whole second :44 where
// ClickHouse leaves out only the instant :44.000000000.
func rangeTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }
