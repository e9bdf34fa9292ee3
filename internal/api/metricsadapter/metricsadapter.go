// Package metricsadapter serves OpenChoreo's metrics adapter API (default
// :9099), the contract in openchoreo/openchoreo
// openapi/observability-metrics-adapter.yaml, from the ClickStack metric
// tables through metricsql: resource and HTTP metrics as time series, the
// runtime topology, and metric alert rules that obsplane evaluates itself
// and posts to the Observer's webhook.
//
// Handlers parse and check the request, call the read model's Metrics
// (readmodel.Metrics, answered by metricsql) and write the answer. Errors are {"title","errorCode","message","detail"}, with the
// contract's titles (a missing rule is a 404 titled badRequest, as the
// Prometheus module answers). HTTP metrics say where they came from in the
// X-Obsplane-Metrics-Source header: "hubble", "spans" (the component's
// server spans, when Hubble has no series for it) or "none".
package metricsadapter

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/readmodel"
	"github.com/openchoreo/obsplane/internal/store"
)

// Limits of a query, as Prometheus's query_range has them.
const (
	// DefaultStep is the module's step when the request has none.
	DefaultStep = 5 * time.Minute
	// DefaultMaxPoints is Prometheus's limit of points per series.
	DefaultMaxPoints = 11000
	MaxScopeValue    = 253
	// SourceHeader names the source of HTTP metrics.
	SourceHeader = "X-Obsplane-Metrics-Source"
)

// Handler serves the metrics adapter API.
type Handler struct {
	// Store answers /healthz.
	Store store.Store
	// Reads answers the metric reads (metricsql over ClickHouse).
	Reads readmodel.Metrics
	Auth  auth.Authenticator
	Log   *slog.Logger
	// MaxRange is the widest query range; MaxPoints the most steps a
	// series may have.
	MaxRange  time.Duration
	MaxPoints int
	// Alerts stores and evaluates the metric alert rules; nil answers
	// 501 for the rule endpoints.
	Alerts *alerts.Manager
	Now    func() time.Time
}

// Routes returns the adapter's HTTP handler.
func (h *Handler) Routes() http.Handler {
	httpx.Defaults(&h.MaxRange, &h.Log, &h.Auth)
	if h.MaxPoints == 0 {
		h.MaxPoints = DefaultMaxPoints
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	wrap := func(f httpx.HandlerFunc) http.HandlerFunc {
		return httpx.Wrap(h.Log, true, func(w http.ResponseWriter, r *http.Request) error { return contractTitle(f(w, r)) })
	}
	api := http.NewServeMux()
	api.HandleFunc("POST /api/v1/metrics/query", wrap(h.query))
	api.HandleFunc("POST /api/v1alpha1/metrics/runtime-topology", wrap(h.topology))
	rules := h.rules()
	api.HandleFunc("POST /api/v1alpha1/alerts/rules", wrap(rules.Create))
	api.HandleFunc("GET /api/v1alpha1/alerts/rules/{ruleName}", wrap(rules.Get))
	api.HandleFunc("PUT /api/v1alpha1/alerts/rules/{ruleName}", wrap(rules.Update))
	api.HandleFunc("DELETE /api/v1alpha1/alerts/rules/{ruleName}", wrap(rules.Delete))
	api.HandleFunc("POST /api/v1alpha1/alerts/webhook", wrap(h.webhook))
	authed := auth.Middleware(h.Auth, api, func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, httpx.Unauthorized("%s", msg), true)
	})
	root := http.NewServeMux()
	root.HandleFunc("GET /healthz", httpx.StoreHealth(h.Store))
	root.Handle("/", authed)
	return httpx.JSONErrors(root, true)
}

// contractTitle keeps error titles within the contract's enum: its 404 and
// 409 answers are titled badRequest.
func contractTitle(err error) error {
	var e *httpx.Error
	if errors.As(err, &e) && (e.Title == httpx.TitleNotFound || e.Title == httpx.TitleConflict) {
		c := *e
		c.Title = httpx.TitleBadRequest
		return &c
	}
	return err
}

// Scope is the contract's ComponentSearchScope.
type Scope struct {
	Namespace      *string `json:"namespace"`
	ProjectUID     *string `json:"projectUid"`
	ComponentUID   *string `json:"componentUid"`
	EnvironmentUID *string `json:"environmentUid"`
}

// parse checks a scope: the namespace always, each UID a UUID when given;
// need names the UIDs the operation requires.
func (s *Scope) parse(need ...string) (readmodel.MetricsScope, error) {
	if s == nil {
		return readmodel.MetricsScope{}, httpx.BadRequest("searchScope is required")
	}
	if s.Namespace == nil || strings.TrimSpace(*s.Namespace) == "" {
		return readmodel.MetricsScope{}, httpx.BadRequest("searchScope.namespace is required")
	}
	if len(*s.Namespace) > MaxScopeValue || strings.ContainsAny(*s.Namespace, "\x00\n\r\t") {
		return readmodel.MetricsScope{}, httpx.BadRequest("searchScope.namespace %q is not a namespace name (at most %d characters, no control characters)", httpx.Truncate(*s.Namespace, 64), MaxScopeValue)
	}
	out := readmodel.MetricsScope{Namespace: *s.Namespace}
	for _, f := range []struct {
		name string
		v    *string
		dst  *string
	}{{"projectUid", s.ProjectUID, &out.ProjectUID}, {"componentUid", s.ComponentUID, &out.ComponentUID}, {"environmentUid", s.EnvironmentUID, &out.EnvironmentUID}} {
		if f.v == nil || *f.v == "" {
			for _, n := range need {
				if n == f.name {
					return readmodel.MetricsScope{}, httpx.BadRequest("searchScope.%s is required", f.name)
				}
			}
			continue
		}
		if _, err := uuid.Parse(*f.v); err != nil || len(*f.v) != 36 {
			return readmodel.MetricsScope{}, httpx.BadRequest("searchScope.%s %q is not a UID (a UUID such as 5b8c1a2e-0f3d-4c6b-9a7e-1d2c3b4a5f60)", f.name, httpx.Truncate(*f.v, 64))
		}
		*f.dst = strings.ToLower(*f.v)
	}
	return out, nil
}

func parseTime(name string, v *string) (time.Time, error) {
	if v == nil || *v == "" {
		return time.Time{}, httpx.BadRequest("%s is required", name)
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		return time.Time{}, httpx.BadRequest("%s %q is not an RFC 3339 date-time (2026-01-02T15:04:05Z)", name, httpx.Truncate(*v, 64))
	}
	return t.UTC(), nil
}

func (h *Handler) window(start, end *string) (time.Time, time.Time, error) {
	s, err := parseTime("startTime", start)
	if err != nil {
		return s, s, err
	}
	e, err := parseTime("endTime", end)
	if err != nil {
		return s, e, err
	}
	if err := httpx.CheckRange(s, e, h.MaxRange); err != nil {
		return s, e, err
	}
	return s, e, nil
}
