// Package logsadapter serves OpenChoreo's logs adapter API (default :9098),
// the contract in openchoreo/openchoreo openapi/observability-logs-adapter-api.yaml,
// from ClickHouse's otel.otel_logs, so the unmodified Observer can point its
// logs adapter URL at obsplane.
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
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/api/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
	"github.com/openchoreo/obsplane/internal/store"
)

// Contract limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// TotalCap is where "total" stops counting (the contract: "capped at 1000").
	TotalCap = 1000
	// MaxPhrase bounds searchPhrase; longer phrases are refused.
	MaxPhrase = 1024
	// MaxScopeValue bounds namespace, uid and workflow names.
	MaxScopeValue = 253
)

// Handler serves the logs adapter API.
type Handler struct {
	Store    store.Store
	Auth     auth.Authenticator
	Log      *slog.Logger
	Limits   httpx.Limits
	MaxRange time.Duration
	// Alerts stores and evaluates alert rules; nil answers 501.
	Alerts *alerts.Manager
	// OpenSearch answers the same queries from OpenChoreo's indices during a
	// migration; nil when there is none. Router picks which backend
	// answers a caller and shadows the other for dual read; nil answers
	// from ClickHouse alone.
	OpenSearch Backend
	Router     *router.Router
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
	httpx.Defaults(&h.Limits, &h.MaxRange, &h.Log, &h.Auth)
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
	root.HandleFunc("GET /health", httpx.StoreHealth(h.Store))
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
	if c.start, err = parseDateTime("startTime", *startTime); err != nil {
		return nil, err
	}
	if c.end, err = parseDateTime("endTime", *endTime); err != nil {
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

func parseDateTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, httpx.BadRequest("%s %q is not an RFC 3339 date-time (e.g. 2026-01-02T15:04:05Z)", name, httpx.Truncate(v, 64))
	}
	return t.UTC(), nil
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
	if err := httpx.RequireNamespace(auth.FromContext(r.Context()), q.Namespace); err != nil {
		return err
	}
	return httpx.Routed(w, r, h.Router, "logs.query", Backend(&ClickHouse{Store: h.Store, Limits: h.Limits}), h.OpenSearch,
		func(ctx context.Context, b Backend) (*LogsQueryResponse, error) { return b.QueryLogs(ctx, q) },
		func(resp *LogsQueryResponse) router.Result {
			d := Digest(resp)
			if len(q.Levels) > 0 {
				d.Incomparable = "logLevels: OpenSearch matches the level words anywhere in the text, ClickHouse the line's level"
			}
			return d
		})
}

// Digest identifies each returned line by a hash of its JSON, so answers
// from two stores compare by content and order; lines sharing a timestamp
// are compared as a set (router.SortTies).
func Digest(resp *LogsQueryResponse) router.Result {
	res := router.Result{Total: resp.Total}
	b, err := json.Marshal(resp.Logs)
	if err != nil {
		return res
	}
	var lines []json.RawMessage
	if json.Unmarshal(b, &lines) != nil {
		return res
	}
	keys := make([]string, 0, len(lines))
	for _, l := range lines {
		var e struct {
			Timestamp string `json:"timestamp"`
		}
		_ = json.Unmarshal(l, &e) // an entry without one sorts with its like
		keys = append(keys, e.Timestamp)
	}
	res.IDs = router.SortTies(router.DigestJSON(lines), keys)
	return res
}

func uuidOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	if _, err := uuid.Parse(s); err != nil {
		return ""
	}
	return s
}
