package metricsadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/ruleapi"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// RuleTables hold the metric alert rules and their evaluation state.
var RuleTables = alerts.Tables{Rules: "obsplane_metric_alert_rules", State: "obsplane_metric_alert_state"}

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
		Metric *string `json:"metric"`
		// Type is not in the contract, but the Observer forwards its own
		// AlertRuleRequest, whose source carries the rule's type (metric
		// or budget), unchanged.
		Type *string `json:"type"`
	} `json:"source"`
	Condition *struct {
		Enabled   *bool    `json:"enabled"`
		Window    *string  `json:"window"`
		Interval  *string  `json:"interval"`
		Operator  *string  `json:"operator"`
		Threshold *float64 `json:"threshold"`
	} `json:"condition"`
}

// Rule checks a request as the contract says and returns the rule.
func (req *AlertRuleRequest) Rule() (alerts.Rule, error) {
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
		need("source.metric", s.Metric != nil)
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
		Metric: *s.Metric, Enabled: *c.Enabled, Window: *c.Window, Interval: *c.Interval,
		Operator: *c.Operator, Threshold: *c.Threshold,
	}
	if r.Metric == "" {
		return r, httpx.BadRequest("source.metric is empty: want cpu_usage or memory_usage")
	}
	if t := s.Type; t != nil && *t != "metric" && *t != "budget" {
		return r, httpx.BadRequest("source.type %q is not a metrics adapter rule: want metric (or budget)", *t)
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	if r.Metric == "budget" {
		// 400, the contract's only refusal for a rule.
		return r, httpx.BadRequest("source.metric budget is not supported: it needs OpenCost's node_cpu_hourly_cost and node_ram_hourly_cost, which obsplane does not evaluate; cpu_usage and memory_usage are")
	}
	return r, nil
}

// AlertRuleResponse is the contract's AlertRuleResponse, plus "state": the
// rule's last evaluation (an obsplane addition).
type AlertRuleResponse struct {
	Metadata struct {
		Name           string `json:"name"`
		Namespace      string `json:"namespace"`
		ProjectUID     string `json:"projectUid"`
		EnvironmentUID string `json:"environmentUid"`
		ComponentUID   string `json:"componentUid"`
	} `json:"metadata"`
	Source struct {
		Metric string `json:"metric"`
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

func ruleResponse(r *alerts.Rule, st alerts.State) any {
	var out AlertRuleResponse
	out.Metadata.Name, out.Metadata.Namespace = r.Name, r.Namespace
	out.Metadata.ProjectUID, out.Metadata.EnvironmentUID, out.Metadata.ComponentUID = r.ProjectUID, r.EnvironmentUID, r.ComponentUID
	out.Source.Metric = r.Metric
	out.Condition.Enabled, out.Condition.Window, out.Condition.Interval = r.Enabled, r.Window, r.Interval
	out.Condition.Operator, out.Condition.Threshold = r.Operator, r.Threshold
	out.State = st
	return out
}

func (h *Handler) rules() *ruleapi.RuleAPI {
	return &ruleapi.RuleAPI{Manager: h.Alerts,
		Parse: func(r *http.Request) (alerts.Rule, error) {
			var req AlertRuleRequest
			if err := httpx.DecodeJSON(r, &req); err != nil {
				return alerts.Rule{}, err
			}
			return req.Rule()
		},
		Render: ruleResponse}
}

// Evaluator computes a metric rule the way Prometheus evaluates the
// module's PrometheusRule: the usage percentage (metricsql.UsagePercent)
// compared with the threshold at every interval over the last window (the
// rule's `for`), holding only when it holds at all of them; the value is
// the newest.
func Evaluator(reads readmodel.Metrics) func(ctx context.Context, r *alerts.Rule, at time.Time) (float64, bool, error) {
	return func(ctx context.Context, r *alerts.Rule, at time.Time) (float64, bool, error) {
		window, err := time.ParseDuration(r.Window)
		if err != nil {
			return 0, false, err
		}
		interval, err := time.ParseDuration(r.Interval)
		if err != nil {
			return 0, false, err
		}
		at = at.Truncate(time.Second)
		rng := readmodel.MetricsRange{Start: at.Add(-window), End: at, Step: interval}
		s := readmodel.MetricsScope{Namespace: r.Namespace, ProjectUID: r.ProjectUID, ComponentUID: r.ComponentUID, EnvironmentUID: r.EnvironmentUID}
		// The rule reads its own namespace, as a log rule's count does.
		t := readmodel.Tenancy{Subject: "alert-rule " + r.Name, Namespaces: []string{r.Namespace}}
		ps, err := reads.UsagePercent(ctx, t, readmodel.UsageQuery{Scope: s, Metric: r.Metric, Window: window, Range: rng})
		if err != nil {
			return 0, false, err
		}
		if len(ps) == 0 {
			return 0, false, nil
		}
		holds := len(ps) == rng.Steps()
		for _, p := range ps {
			holds = holds && alerts.Operators[r.Operator](p.V, r.Threshold)
		}
		return ps[len(ps)-1].V, holds, nil
	}
}

// webhook takes an Alertmanager notification (what an external Prometheus
// with the module's PrometheusRules sends during a migration) and relays
// each firing alert's rule_name, rule_namespace and alert_value annotations
// to the Observer, as the module does; resolved alerts are skipped.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) error {
	// Any JSON object, as the contract says: Alertmanager's notification
	// has many more fields than these.
	var raw map[string]json.RawMessage
	if err := httpx.DecodeJSON(r, &raw); err != nil {
		return err
	}
	var body struct {
		Alerts *[]struct {
			Status      string            `json:"status"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    string            `json:"startsAt"`
		} `json:"alerts"`
	}
	if a, ok := raw["alerts"]; ok {
		if err := json.Unmarshal(a, &body.Alerts); err != nil {
			return httpx.BadRequest("'alerts' in webhook payload is not a list of alerts with string status, annotations and startsAt: %v", err)
		}
	}
	if body.Alerts == nil {
		return httpx.BadRequest("missing 'alerts' field in webhook payload")
	}
	if len(*body.Alerts) == 0 {
		return httpx.BadRequest("expected non-empty 'alerts' array in webhook payload")
	}
	var out []alerts.WebhookPayload
	for i, a := range *body.Alerts {
		if !strings.EqualFold(strings.TrimSpace(a.Status), "firing") {
			continue
		}
		p := alerts.WebhookPayload{RuleName: strings.TrimSpace(a.Annotations["rule_name"]), RuleNamespace: strings.TrimSpace(a.Annotations["rule_namespace"])}
		if p.RuleName == "" || p.RuleNamespace == "" {
			return httpx.BadRequest("malformed alert %d in webhook: missing rule_name or rule_namespace annotation", i)
		}
		if _, err := fmt.Sscanf(strings.TrimSpace(a.Annotations["alert_value"]), "%g", &p.AlertValue); err != nil {
			return httpx.BadRequest("malformed alert %d in webhook: alert_value %q is not a number", i, httpx.Truncate(a.Annotations["alert_value"], 32))
		}
		t, err := time.Parse(time.RFC3339, a.StartsAt)
		if err != nil {
			t = h.Now()
		}
		p.AlertTimestamp = t.UTC().Format(time.RFC3339)
		out = append(out, p)
	}
	if len(out) > 0 && h.Alerts == nil {
		return &httpx.Error{Status: http.StatusInternalServerError, Title: httpx.TitleInternal, Message: "alert forwarding is not configured in this process"}
	}
	for _, p := range out {
		if err := h.Alerts.Forward(r.Context(), p); err != nil {
			return fmt.Errorf("forward alert %q: %w", p.RuleName, err)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "success",
		"message": fmt.Sprintf("processed webhook successfully; forwarded %d firing alert(s)", len(out))})
	return nil
}
