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
	"github.com/openchoreo/obsplane/internal/api/ruleapi"
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

// rules are the rule endpoints over h.Alerts.
func (h *Handler) rules() *ruleapi.RuleAPI {
	return &ruleapi.RuleAPI{Manager: h.Alerts,
		Parse: func(r *http.Request) (alerts.Rule, error) {
			var req AlertRuleRequest
			if err := httpx.DecodeJSON(r, &req); err != nil {
				return alerts.Rule{}, err
			}
			return req.rule()
		},
		Render: func(r *alerts.Rule, st alerts.State) any { return RuleResponse(r, st) }}
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
	if h.Alerts == nil {
		return &httpx.Error{Status: http.StatusNotImplemented, Title: httpx.TitleNotImplemented, Message: "alert rules are not enabled in this process"}
	}
	p, ok := payloadFrom(body)
	if !ok || p.RuleNamespace == "" {
		return httpx.BadRequest("ruleName and ruleNamespace are required: the alert must name its rule")
	}
	// Only an alert of a rule that exists, in the namespace it names, is
	// relayed, and only for a caller who may act on that namespace (every
	// caller with --adapter-auth=none): nobody forges another tenant's
	// alert.
	if caller := auth.FromContext(r.Context()); !caller.Allows(p.RuleNamespace) {
		return httpx.Forbidden("the caller may not act on namespace %q", httpx.Truncate(p.RuleNamespace, 128))
	}
	_, err := h.Alerts.Get(r.Context(), p.RuleNamespace, p.RuleName)
	if errors.Is(err, alerts.ErrNotFound) {
		return httpx.NotFound("alert rule %q not found in namespace %q", httpx.Truncate(p.RuleName, 128), httpx.Truncate(p.RuleNamespace, 128))
	}
	if err != nil {
		return err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Alerts.Forward(ctx, p); err != nil {
			h.Log.Error("forward alert webhook", "rule", p.RuleName, "err", err)
		}
	}()
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
