package logsadapter

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

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

// ParseEventsQuery validates a request as the contract says.
func ParseEventsQuery(req EventsQueryRequest, maxRange time.Duration) (readmodel.LogsQuery, error) {
	c, err := parseCommon(req.StartTime, req.EndTime, req.Limit, req.SortOrder, req.SearchScope, maxRange)
	if err != nil {
		return readmodel.LogsQuery{}, err
	}
	return c.query(), nil
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
	began := time.Now()
	page, err := h.Reads.QueryEvents(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	out := &EventsQueryResponse{Events: make([]EventEntry, 0, len(page.Events)), Total: page.Total}
	for _, e := range page.Events {
		out.Events = append(out.Events, EventEntry{Timestamp: e.Timestamp, Message: e.Message, Type: e.Type, Reason: e.Reason, Metadata: &EventMeta{
			ComponentName: e.Component, ProjectName: e.Project, EnvironmentName: e.Environment, NamespaceName: e.Namespace,
			ComponentUID: uuidOrEmpty(e.ComponentUID), ProjectUID: uuidOrEmpty(e.ProjectUID), EnvironmentUID: uuidOrEmpty(e.EnvironmentUID),
			ObjectKind: e.ObjectKind, ObjectName: e.ObjectName, ObjectNamespace: e.ObjectNamespace,
		}})
	}
	out.TookMs = time.Since(began).Milliseconds()
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
