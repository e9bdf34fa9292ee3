package logsadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
)

// AlertRuleRequest is the contract's AlertRuleRequest; pointers tell a
// missing required field from a zero value.
type AlertRuleRequest struct {
	Metadata *struct {
		Name           *string `json:"name"`
		Namespace      *string `json:"namespace"`
		ProjectUID     *string `json:"projectUid"`
		EnvironmentUID *string `json:"environmentUid"`
		ComponentUID   *string `json:"componentUid"`
	} `json:"metadata"`
	Source *struct {
		Query *string `json:"query"`
	} `json:"source"`
	Condition *struct {
		Enabled   *bool    `json:"enabled"`
		Window    *string  `json:"window"`
		Interval  *string  `json:"interval"`
		Operator  *string  `json:"operator"`
		Threshold *float64 `json:"threshold"`
	} `json:"condition"`
}

func (req *AlertRuleRequest) rule() (alerts.Rule, error) {
	var missing []string
	need := func(name string, ok bool) {
		if !ok {
			missing = append(missing, name)
		}
	}
	need("metadata", req.Metadata != nil)
	need("source", req.Source != nil)
	need("condition", req.Condition != nil)
	if len(missing) == 0 {
		m, s, c := req.Metadata, req.Source, req.Condition
		need("metadata.name", m.Name != nil)
		need("metadata.namespace", m.Namespace != nil)
		need("metadata.projectUid", m.ProjectUID != nil)
		need("metadata.environmentUid", m.EnvironmentUID != nil)
		need("metadata.componentUid", m.ComponentUID != nil)
		need("source.query", s.Query != nil)
		need("condition.enabled", c.Enabled != nil)
		need("condition.window", c.Window != nil)
		need("condition.interval", c.Interval != nil)
		need("condition.operator", c.Operator != nil)
		need("condition.threshold", c.Threshold != nil)
	}
	if len(missing) > 0 {
		return alerts.Rule{}, httpx.BadRequest("missing required fields: %s", strings.Join(missing, ", "))
	}
	m, s, c := req.Metadata, req.Source, req.Condition
	r := alerts.Rule{
		Name: *m.Name, Namespace: *m.Namespace, ProjectUID: strings.ToLower(*m.ProjectUID),
		EnvironmentUID: strings.ToLower(*m.EnvironmentUID), ComponentUID: strings.ToLower(*m.ComponentUID),
		Query: *s.Query, Enabled: *c.Enabled, Window: *c.Window, Interval: *c.Interval,
		Operator: *c.Operator, Threshold: *c.Threshold,
	}
	return r, r.Validate()
}

// AlertingRuleSyncResponse is the contract's AlertingRuleSyncResponse.
type AlertingRuleSyncResponse struct {
	Action        string `json:"action"`
	LastSyncedAt  string `json:"lastSyncedAt"`
	Status        string `json:"status"`
	RuleLogicalID string `json:"ruleLogicalId"`
	RuleBackendID string `json:"ruleBackendId"`
}

// AlertRuleResponse is the contract's AlertRuleResponse, plus "state": the
// rule's last evaluation (an obsplane addition; the contract's schema allows
// extra properties).
type AlertRuleResponse struct {
	Metadata struct {
		Name           string `json:"name"`
		Namespace      string `json:"namespace"`
		ProjectUID     string `json:"projectUid"`
		EnvironmentUID string `json:"environmentUid"`
		ComponentUID   string `json:"componentUid"`
	} `json:"metadata"`
	Source struct {
		Query string `json:"query"`
	} `json:"source"`
	Condition struct {
		Enabled   bool    `json:"enabled"`
		Window    string  `json:"window"`
		Interval  string  `json:"interval"`
		Operator  string  `json:"operator"`
		Threshold float64 `json:"threshold"`
	} `json:"condition"`
	State alerts.State `json:"state"`
}

// RuleResponse renders a rule and its state.
func RuleResponse(r *alerts.Rule, st alerts.State) AlertRuleResponse {
	var out AlertRuleResponse
	out.Metadata.Name, out.Metadata.Namespace = r.Name, r.Namespace
	out.Metadata.ProjectUID, out.Metadata.EnvironmentUID, out.Metadata.ComponentUID = r.ProjectUID, r.EnvironmentUID, r.ComponentUID
	out.Source.Query = r.Query
	out.Condition.Enabled, out.Condition.Window, out.Condition.Interval = r.Enabled, r.Window, r.Interval
	out.Condition.Operator, out.Condition.Threshold = r.Operator, r.Threshold
	out.State = st
	return out
}

func syncResp(action string, r *alerts.Rule) AlertingRuleSyncResponse {
	return AlertingRuleSyncResponse{Action: action, Status: "synced", RuleLogicalID: r.Name, RuleBackendID: r.BackendID,
		LastSyncedAt: time.Now().UTC().Format(time.RFC3339)}
}

func (h *Handler) noAlerts() error {
	return &httpx.Error{Status: http.StatusNotImplemented, Title: httpx.TitleNotImplemented, Message: "alert rules are not enabled in this process"}
}

func ruleName(r *http.Request) (string, error) {
	n := r.PathValue("ruleName")
	if n == "" || len(n) > alerts.MaxName {
		return "", httpx.BadRequest("ruleName must be 1 to %d characters", alerts.MaxName)
	}
	return n, nil
}

// visibleRule reads a rule the caller may see; a rule of a namespace the
// caller may not read is "not found", so its existence does not leak.
func (h *Handler) visibleRule(ctx context.Context, p *auth.Principal, name string) (*alerts.Rule, error) {
	rule, err := h.Alerts.Get(ctx, name)
	if errors.Is(err, alerts.ErrNotFound) || (err == nil && !p.Allows(rule.Namespace)) {
		return nil, httpx.NotFound("alert rule not found")
	}
	return rule, err
}

func (h *Handler) createRule(w http.ResponseWriter, r *http.Request) error {
	if h.Alerts == nil {
		return h.noAlerts()
	}
	var req AlertRuleRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	rule, err := req.rule()
	if err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	if err := httpx.Tenancy(r).Require(rule.Namespace); err != nil {
		return err
	}
	created, err := h.Alerts.Create(r.Context(), rule, p.Subject)
	if errors.Is(err, alerts.ErrExists) {
		return &httpx.Error{Status: http.StatusConflict, Title: httpx.TitleConflict, Message: "alert rule " + rule.Name + " already exists"}
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, syncResp("created", created))
	return nil
}

func (h *Handler) getRule(w http.ResponseWriter, r *http.Request) error {
	if h.Alerts == nil {
		return h.noAlerts()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	rule, err := h.visibleRule(r.Context(), auth.FromContext(r.Context()), name)
	if err != nil {
		return err
	}
	states, err := h.Alerts.States(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, RuleResponse(rule, alerts.StateOf(rule, states)))
	return nil
}

func (h *Handler) updateRule(w http.ResponseWriter, r *http.Request) error {
	if h.Alerts == nil {
		return h.noAlerts()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	var req AlertRuleRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	rule, err := req.rule()
	if err != nil {
		return err
	}
	if rule.Name != name {
		return httpx.BadRequest("metadata.name %q differs from the rule name in the path %q", httpx.Truncate(rule.Name, 64), httpx.Truncate(name, 64))
	}
	p := auth.FromContext(r.Context())
	if _, err := h.visibleRule(r.Context(), p, name); err != nil {
		return err
	}
	if err := httpx.Tenancy(r).Require(rule.Namespace); err != nil {
		return err
	}
	updated, changed, err := h.Alerts.Update(r.Context(), rule, p.Subject)
	if errors.Is(err, alerts.ErrNotFound) {
		return httpx.NotFound("alert rule not found")
	}
	if err != nil {
		return err
	}
	action := "updated"
	if !changed {
		action = "unchanged"
	}
	httpx.WriteJSON(w, http.StatusOK, syncResp(action, updated))
	return nil
}

func (h *Handler) deleteRule(w http.ResponseWriter, r *http.Request) error {
	if h.Alerts == nil {
		return h.noAlerts()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	if _, err := h.visibleRule(r.Context(), p, name); err != nil {
		return err
	}
	old, err := h.Alerts.Delete(r.Context(), name, p.Subject)
	if errors.Is(err, alerts.ErrNotFound) {
		return httpx.NotFound("alert rule not found")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, syncResp("deleted", old))
	return nil
}

// webhook takes an alert from an alerting backend (any JSON object, as the
// contract says) and relays the Observer's fields to the configured webhook.
// Like the OpenSearch module it answers success once the body is a JSON
// object, and relays in the background.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) error {
	var body map[string]any
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body == nil {
		return httpx.BadRequest("request body must be a JSON object")
	}
	if h.Alerts != nil {
		if p, ok := payloadFrom(body); ok {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := h.Alerts.Forward(ctx, p); err != nil {
					h.Log.Error("forward alert webhook", "rule", p.RuleName, "err", err)
				}
			}()
		} else {
			h.Log.Warn("alert webhook body has no ruleName; not forwarded")
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"message": "alert webhook received successfully", "status": "success"})
	return nil
}

func payloadFrom(b map[string]any) (alerts.WebhookPayload, bool) {
	name, ok := b["ruleName"].(string)
	if !ok || name == "" {
		return alerts.WebhookPayload{}, false
	}
	p := alerts.WebhookPayload{RuleName: name, AlertTimestamp: time.Now().UTC().Format(time.RFC3339)}
	p.RuleNamespace, _ = b["ruleNamespace"].(string)
	switch v := b["alertValue"].(type) {
	case float64:
		p.AlertValue = v
	case string:
		var f float64
		if err := json.Unmarshal([]byte(v), &f); err == nil {
			p.AlertValue = f
		}
	}
	if ts, ok := b["alertTimestamp"].(string); ok {
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			p.AlertTimestamp = t.UTC().Format(time.RFC3339)
		}
	}
	return p, true
}
