package logsadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/store"
)

// Kubernetes events arrive as OTel log records from the collector's k8s
// events receiver (OpenChoreo's enrich processor copies the involved
// object's labels onto the resource as k8s.object.label.<key>); in
// ClickHouse they are otel_logs rows with a k8s.event.reason attribute. The
// logs module reads them from k8s-events-*: scope terms on the object's
// OpenChoreo labels (component scope) or, for a workflow run, the object
// name's prefix in namespace workflows-<namespace>; a range on the time
// excluding both ends; sorted on time.

// EventsQueryRequest is the contract's EventsQueryRequest.
type EventsQueryRequest struct {
	StartTime   *string          `json:"startTime"`
	EndTime     *string          `json:"endTime"`
	Limit       *int             `json:"limit"`
	SortOrder   *string          `json:"sortOrder"`
	SearchScope *json.RawMessage `json:"searchScope"`
}

// EventEntry is the contract's EventEntry.
type EventEntry struct {
	Timestamp time.Time  `json:"timestamp"`
	Message   string     `json:"message"`
	Type      string     `json:"type"`
	Reason    string     `json:"reason"`
	Metadata  *EventMeta `json:"metadata,omitempty"`
}

// EventMeta is EventEntry.metadata; empty values are omitted, uids only
// when they are UUIDs (the contract's format: uuid).
type EventMeta struct {
	ComponentName   string `json:"componentName,omitempty"`
	ProjectName     string `json:"projectName,omitempty"`
	EnvironmentName string `json:"environmentName,omitempty"`
	NamespaceName   string `json:"namespaceName,omitempty"`
	ComponentUID    string `json:"componentUid,omitempty"`
	ProjectUID      string `json:"projectUid,omitempty"`
	EnvironmentUID  string `json:"environmentUid,omitempty"`
	ObjectKind      string `json:"objectKind,omitempty"`
	ObjectName      string `json:"objectName,omitempty"`
	ObjectNamespace string `json:"objectNamespace,omitempty"`
}

// EventsQueryResponse is the contract's EventsQueryResponse.
type EventsQueryResponse struct {
	Events []EventEntry `json:"events"`
	Total  int          `json:"total"`
	TookMs int64        `json:"tookMs"`
}

// Event attribute keys (see internal/opensearch/eventdoc.go).
const (
	attrEventReason = "k8s.event.reason"
	attrEventNS     = "k8s.namespace.name"
	attrObjectKind  = "k8s.object.kind"
	attrObjectName  = "k8s.object.name"
	objectLabel     = "k8s.object.label.openchoreo.dev/"
)

// NewEventEntry builds an entry from an event's fields the way every
// backend reports it: resource holds the k8s.object.* attributes.
func NewEventEntry(ts time.Time, message, typ, reason, objectNamespace string, resource map[string]string) EventEntry {
	l := func(k string) string { return resource[objectLabel+k] }
	return EventEntry{Timestamp: ts.UTC(), Message: message, Type: typ, Reason: reason, Metadata: &EventMeta{
		ComponentName: l("component"), ProjectName: l("project"), EnvironmentName: l("environment"), NamespaceName: l("namespace"),
		ComponentUID: uuidOrEmpty(l("component-uid")), ProjectUID: uuidOrEmpty(l("project-uid")), EnvironmentUID: uuidOrEmpty(l("environment-uid")),
		ObjectKind: resource[attrObjectKind], ObjectName: resource[attrObjectName], ObjectNamespace: objectNamespace,
	}}
}

// ParseEventsQuery validates a request as the contract says.
func ParseEventsQuery(req EventsQueryRequest, maxRange time.Duration) (LogsQuery, error) {
	c, err := parseCommon(req.StartTime, req.EndTime, req.Limit, req.SortOrder, req.SearchScope, maxRange)
	if err != nil {
		return LogsQuery{}, err
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return LogsQuery{Start: c.start, End: c.end, Limit: c.limit, Desc: c.desc, Namespace: c.scope.Namespace,
		ProjectUID: deref(c.scope.ProjectUID), ComponentUID: deref(c.scope.ComponentUID), EnvironmentUID: deref(c.scope.EnvironmentUID),
		WorkflowRunName: deref(c.scope.WorkflowRunName), TaskName: deref(c.scope.TaskName)}, nil
}

func (h *Handler) queryEvents(w http.ResponseWriter, r *http.Request) error {
	var req EventsQueryRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	q, err := ParseEventsQuery(req, h.MaxRange)
	if err != nil {
		return err
	}
	if err := httpx.RequireNamespace(auth.FromContext(r.Context()), q.Namespace); err != nil {
		return err
	}
	return httpx.Routed(w, r, h.Router, "events.query", Backend(&ClickHouse{Store: h.Store, Limits: h.Limits}), h.OpenSearch,
		func(ctx context.Context, b Backend) (*EventsQueryResponse, error) { return b.QueryEvents(ctx, q) }, EventsDigest)
}

// EventsDigest is Digest for events.
func EventsDigest(resp *EventsQueryResponse) router.Result {
	return Digest(&LogsQueryResponse{Logs: resp.Events, Total: resp.Total})
}

// QueryEvents runs q on otel_logs' event rows.
func (b *ClickHouse) QueryEvents(ctx context.Context, q LogsQuery) (*EventsQueryResponse, error) {
	params := store.Params{"start": httpx.TimeParam(q.Start), "end": httpx.TimeParam(q.End), "ns": q.Namespace}
	where := []string{"mapContains(LogAttributes, '" + attrEventReason + "')"}
	if q.Workflow() {
		// Workflow pods and jobs are named after the run, in
		// workflows-<namespace>; the task narrows by name too (events carry
		// no Argo node annotation).
		where = append(where, "LogAttributes['"+attrEventNS+"'] = concat('workflows-', {ns:String})",
			"startsWith(ResourceAttributes['"+attrObjectName+"'], {run:String})")
		params["run"] = q.WorkflowRunName
		if q.TaskName != "" {
			where = append(where, "position(ResourceAttributes['"+attrObjectName+"'], {task:String}) > 0")
			params["task"] = q.TaskName
		}
	} else {
		nsCol := "ResourceAttributes['" + objectLabel + "namespace']"
		tenant, err := httpx.TenantClause(auth.FromContext(ctx), nsCol, params)
		if err != nil {
			return nil, err
		}
		where = append(where, tenant, nsCol+" = {ns:String}")
		for _, f := range []struct{ label, param, v string }{
			{"project-uid", "project", q.ProjectUID}, {"component-uid", "component", q.ComponentUID}, {"environment-uid", "environment", q.EnvironmentUID},
		} {
			if f.v != "" {
				where = append(where, "ResourceAttributes['"+objectLabel+f.label+"'] = {"+f.param+":String}")
				params[f.param] = f.v
			}
		}
	}
	where = append(where, "Timestamp > {start:DateTime64(9, 'UTC')}", "Timestamp < {end:DateTime64(9, 'UTC')}")
	cond := "(" + strings.Join(where, ") AND (") + ")"
	began := time.Now()
	rows, _, err := ReadOrdered[eventRow](ctx, b.Store, b.Limits.Settings(), `toString(toTimeZone(Timestamp, 'UTC')) AS ts, `+RowKey+` AS rowKey,
		Body, SeverityText, LogAttributes['`+attrEventReason+`'] AS reason, LogAttributes['`+attrEventNS+`'] AS objectNamespace, ResourceAttributes`,
		cond, params, q.Limit, q.Desc)
	if err != nil {
		return nil, fmt.Errorf("events query: %w", err)
	}
	out := &EventsQueryResponse{Events: []EventEntry{}}
	for _, row := range rows {
		out.Events = append(out.Events, NewEventEntry(httpx.ParseCHTime(row.Ts), row.Body, row.SeverityText, row.Reason, row.ObjectNamespace, row.ResourceAttributes))
	}
	if out.Total, err = b.countCapped(ctx, "otel.otel_logs", cond, params); err != nil {
		return nil, fmt.Errorf("events query: %w", err)
	}
	out.TookMs = time.Since(began).Milliseconds()
	return out, nil
}

type eventRow struct {
	Ts                 string            `json:"ts"`
	RowKey             uint64            `json:"rowKey"`
	Body               string            `json:"Body"`
	SeverityText       string            `json:"SeverityText"`
	Reason             string            `json:"reason"`
	ObjectNamespace    string            `json:"objectNamespace"`
	ResourceAttributes map[string]string `json:"ResourceAttributes"`
}

func (r eventRow) OrderKey() (string, uint64) { return r.Ts, r.RowKey }
