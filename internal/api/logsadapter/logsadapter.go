// Package logsadapter serves OpenChoreo's logs adapter API (default :9098),
// the contract in openchoreo/openchoreo openapi/observability-logs-adapter-api.yaml,
// from the read model, so the unmodified Observer can point its logs adapter
// URL at obsplane. Handlers parse and validate a request into a readmodel
// query, call the read model with the caller's tenancy, and write the
// contract's JSON.
//
// Behaviour follows OpenChoreo's OpenSearch module where the contract is
// silent: the time range excludes both ends, the search phrase is a
// case-insensitive substring of the log text, a level filter keeps lines of
// any requested level (a row without OTel severity matches when its text
// contains the level word), limit defaults to 100 and sortOrder to desc, and
// "total" counts matching lines up to 1000. Rows sharing a timestamp are
// ordered by a hash of the row, so the order is total and a client paging by
// time never sees a row twice or loses one to an arbitrary tie order.
package logsadapter

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// Contract limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// MaxPhrase bounds searchPhrase; longer phrases are refused.
	MaxPhrase = 1024
	// MaxScopeValue bounds namespace, uid and workflow names.
	MaxScopeValue = 253
)

// Handler serves the logs adapter API.
type Handler struct {
	// Reads answers the queries (the router's read model in serve).
	Reads readmodel.Logs
	// Health is pinged by GET /health.
	Health   httpx.Pinger
	Auth     auth.Authenticator
	Log      *slog.Logger
	MaxRange time.Duration
	// Alerts stores and evaluates alert rules; nil answers 501.
	Alerts *alerts.Manager
	// Now is the clock (tests).
	Now func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Routes returns the adapter's HTTP handler.
func (h *Handler) Routes() http.Handler {
	httpx.Defaults(&h.MaxRange, &h.Log, &h.Auth)
	api := http.NewServeMux()
	api.HandleFunc("POST /api/v1/logs/query", h.wrap(h.queryLogs))
	api.HandleFunc("POST /api/v1/events/query", h.wrap(h.queryEvents))
	api.HandleFunc("POST /api/v1alpha1/alerts/rules", h.wrap(h.createRule))
	api.HandleFunc("GET /api/v1alpha1/alerts/rules/{ruleName}", h.wrap(h.getRule))
	api.HandleFunc("PUT /api/v1alpha1/alerts/rules/{ruleName}", h.wrap(h.updateRule))
	api.HandleFunc("DELETE /api/v1alpha1/alerts/rules/{ruleName}", h.wrap(h.deleteRule))
	api.HandleFunc("POST /api/v1alpha1/alerts/webhook", h.wrap(h.webhook))
	authed := auth.Middleware(h.Auth, api, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, httpx.Unauthorized("%s", msg), false)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /health", httpx.StoreHealth(h.Health))
	root.Handle("/", authed)
	return httpx.JSONErrors(root, false)
}

func (h *Handler) wrap(f httpx.HandlerFunc) http.HandlerFunc { return httpx.Wrap(h.Log, false, f) }

// LogsQueryRequest is the contract's LogsQueryRequest. Optional fields are
// pointers so "absent" and "zero" differ.
type LogsQueryRequest struct {
	StartTime    *string          `json:"startTime"`
	EndTime      *string          `json:"endTime"`
	Limit        *int             `json:"limit"`
	SortOrder    *string          `json:"sortOrder"`
	SearchScope  *json.RawMessage `json:"searchScope"`
	LogLevels    []string         `json:"logLevels"`
	SearchPhrase *string          `json:"searchPhrase"`
}

// SearchScope holds either a ComponentSearchScope or a WorkflowSearchScope
// (the contract's oneOf): a scope with workflowRunName is a workflow scope.
type SearchScope struct {
	Namespace       string  `json:"namespace"`
	ProjectUID      *string `json:"projectUid"`
	ComponentUID    *string `json:"componentUid"`
	EnvironmentUID  *string `json:"environmentUid"`
	WorkflowRunName *string `json:"workflowRunName"`
	TaskName        *string `json:"taskName"`
}

// ComponentLogEntry is the contract's ComponentLogEntry.
type ComponentLogEntry struct {
	Timestamp time.Time         `json:"timestamp"`
	Log       string            `json:"log"`
	Level     string            `json:"level"`
	Metadata  *ComponentLogMeta `json:"metadata,omitempty"`
}

// ComponentLogMeta is ComponentLogEntry.metadata; empty values are omitted,
// and uids only appear when they are UUIDs (the contract's format: uuid).
type ComponentLogMeta struct {
	ComponentName   string `json:"componentName,omitempty"`
	ProjectName     string `json:"projectName,omitempty"`
	EnvironmentName string `json:"environmentName,omitempty"`
	NamespaceName   string `json:"namespaceName,omitempty"`
	ComponentUID    string `json:"componentUid,omitempty"`
	ProjectUID      string `json:"projectUid,omitempty"`
	EnvironmentUID  string `json:"environmentUid,omitempty"`
	ContainerName   string `json:"containerName,omitempty"`
	PodName         string `json:"podName,omitempty"`
	PodNamespace    string `json:"podNamespace,omitempty"`
}

// WorkflowLogEntry is the contract's WorkflowLogEntry.
type WorkflowLogEntry struct {
	Timestamp time.Time `json:"timestamp"`
	Log       string    `json:"log"`
}

// LogsQueryResponse is the contract's LogsQueryResponse; Logs holds
// []ComponentLogEntry or []WorkflowLogEntry.
type LogsQueryResponse struct {
	Logs   any   `json:"logs"`
	Total  int   `json:"total"`
	TookMs int64 `json:"tookMs"`
}

// common is the validated part shared by logs and events requests.
type common struct {
	start, end time.Time
	limit      int
	desc       bool
	scope      SearchScope
}

func parseCommon(startTime, endTime *string, limit *int, sortOrder *string, rawScope *json.RawMessage, maxRange time.Duration) (*common, error) {
	var missing []string
	if startTime == nil {
		missing = append(missing, "'startTime'")
	}
	if endTime == nil {
		missing = append(missing, "'endTime'")
	}
	if rawScope == nil || string(*rawScope) == "null" {
		missing = append(missing, "'searchScope'")
	}
	if len(missing) > 0 {
		return nil, httpx.BadRequest("missing required fields %s", strings.Join(missing, " and "))
	}
	c := &common{limit: DefaultLimit, desc: true}
	var err error
	if c.start, err = httpx.ParseDateTime("startTime", *startTime); err != nil {
		return nil, err
	}
	if c.end, err = httpx.ParseDateTime("endTime", *endTime); err != nil {
		return nil, err
	}
	if err := httpx.CheckRange(c.start, c.end, maxRange); err != nil {
		return nil, err
	}
	if limit != nil {
		if *limit < 1 || *limit > MaxLimit {
			return nil, httpx.BadRequest("limit %d is out of range: want 1 to %d", *limit, MaxLimit)
		}
		c.limit = *limit
	}
	if sortOrder != nil {
		switch *sortOrder {
		case "asc":
			c.desc = false
		case "desc":
		default:
			return nil, httpx.BadRequest("sortOrder %q is not one of asc, desc", httpx.Truncate(*sortOrder, 32))
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(*rawScope)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.scope); err != nil {
		return nil, httpx.BadRequest("invalid searchScope: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	s := &c.scope
	if strings.TrimSpace(s.Namespace) == "" {
		return nil, httpx.BadRequest("searchScope with a valid namespace is required")
	}
	for name, v := range map[string]*string{"namespace": &s.Namespace, "projectUid": s.ProjectUID, "componentUid": s.ComponentUID,
		"environmentUid": s.EnvironmentUID, "workflowRunName": s.WorkflowRunName, "taskName": s.TaskName} {
		if v != nil && len(*v) > MaxScopeValue {
			return nil, httpx.BadRequest("searchScope.%s is longer than %d characters", name, MaxScopeValue)
		}
	}
	if s.WorkflowRunName != nil && (s.ProjectUID != nil || s.ComponentUID != nil || s.EnvironmentUID != nil) {
		return nil, httpx.BadRequest("searchScope mixes a workflow scope (workflowRunName) with component scope fields (projectUid, componentUid, environmentUid)")
	}
	if s.WorkflowRunName == nil && s.TaskName != nil {
		return nil, httpx.BadRequest("searchScope.taskName needs searchScope.workflowRunName")
	}
	if s.WorkflowRunName != nil && strings.TrimSpace(*s.WorkflowRunName) == "" {
		return nil, httpx.BadRequest("searchScope.workflowRunName is empty")
	}
	return c, nil
}

// query is the read model query of c.
func (c *common) query() readmodel.LogsQuery {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	s := c.scope
	return readmodel.LogsQuery{Start: c.start, End: c.end, Limit: c.limit, Desc: c.desc, Namespace: s.Namespace,
		ProjectUID: deref(s.ProjectUID), ComponentUID: deref(s.ComponentUID), EnvironmentUID: deref(s.EnvironmentUID),
		WorkflowRunName: deref(s.WorkflowRunName), TaskName: deref(s.TaskName)}
}

var validLevels = map[string]bool{"DEBUG": true, "INFO": true, "WARN": true, "ERROR": true}

// ParseLogsQuery validates a request as the contract says; errors are 400s
// (*httpx.Error).
func ParseLogsQuery(req LogsQueryRequest, maxRange time.Duration) (readmodel.LogsQuery, error) {
	c, err := parseCommon(req.StartTime, req.EndTime, req.Limit, req.SortOrder, req.SearchScope, maxRange)
	if err != nil {
		return readmodel.LogsQuery{}, err
	}
	seen := map[string]bool{}
	for _, l := range req.LogLevels {
		if !validLevels[l] {
			return readmodel.LogsQuery{}, httpx.BadRequest("logLevels: %q is not one of DEBUG, INFO, WARN, ERROR", httpx.Truncate(l, 32))
		}
		if seen[l] {
			return readmodel.LogsQuery{}, httpx.BadRequest("logLevels: %q appears twice (items must be unique)", l)
		}
		seen[l] = true
	}
	q := c.query()
	q.Levels = req.LogLevels
	if req.SearchPhrase != nil {
		q.Phrase = *req.SearchPhrase
		if len(q.Phrase) > MaxPhrase {
			return readmodel.LogsQuery{}, httpx.BadRequest("searchPhrase is %d bytes long; the maximum is %d", len(q.Phrase), MaxPhrase)
		}
	}
	return q, nil
}

func (h *Handler) queryLogs(w http.ResponseWriter, r *http.Request) error {
	var req LogsQueryRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	q, err := ParseLogsQuery(req, h.MaxRange)
	if err != nil {
		return err
	}
	began := time.Now()
	page, err := h.Reads.QueryLogs(r.Context(), httpx.Tenancy(r), q)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, LogsResponse(q, page, time.Since(began)))
	return nil
}

// LogsResponse is the contract's answer to q: workflow entries (time and
// text) for a workflow scope, component entries otherwise.
func LogsResponse(q readmodel.LogsQuery, p *readmodel.LogsPage, took time.Duration) *LogsQueryResponse {
	resp := &LogsQueryResponse{Total: p.Total, TookMs: took.Milliseconds()}
	if q.Workflow() {
		wf := make([]WorkflowLogEntry, 0, len(p.Entries))
		for _, e := range p.Entries {
			wf = append(wf, WorkflowLogEntry{Timestamp: e.Timestamp, Log: e.Body})
		}
		resp.Logs = wf
		return resp
	}
	comp := make([]ComponentLogEntry, 0, len(p.Entries))
	for _, e := range p.Entries {
		comp = append(comp, ComponentLogEntry{Timestamp: e.Timestamp, Log: e.Body, Level: e.Level, Metadata: &ComponentLogMeta{
			ComponentName: e.Component, ProjectName: e.Project, EnvironmentName: e.Environment, NamespaceName: e.Namespace,
			ComponentUID: uuidOrEmpty(e.ComponentUID), ProjectUID: uuidOrEmpty(e.ProjectUID), EnvironmentUID: uuidOrEmpty(e.EnvironmentUID),
			ContainerName: e.Container, PodName: e.Pod, PodNamespace: e.PodNamespace,
		}})
	}
	resp.Logs = comp
	return resp
}

// uuidOrEmpty is s when s is a UUID, else "": the contract types the
// metadata uids as format uuid.
func uuidOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	if _, err := uuid.Parse(s); err != nil {
		return ""
	}
	return s
}
