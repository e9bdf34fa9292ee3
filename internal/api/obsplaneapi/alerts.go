package obsplaneapi

import (
	"net/http"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/api/logsadapter"
)

// AlertRulesResponse is GET /api/alerts/rules.
type AlertRulesResponse struct {
	Rules []logsadapter.AlertRuleResponse `json:"rules"`
}

func (a *API) alertRules(w http.ResponseWriter, r *http.Request) error {
	if _, err := readParams(r); err != nil {
		return err
	}
	out := AlertRulesResponse{Rules: []logsadapter.AlertRuleResponse{}}
	if a.Alerts == nil {
		httpx.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	rules, err := a.Alerts.List(r.Context())
	if err != nil {
		return err
	}
	states, err := a.Alerts.States(r.Context())
	if err != nil {
		return err
	}
	pr := auth.FromContext(r.Context())
	for i := range rules {
		if pr.Allows(rules[i].Namespace) {
			out.Rules = append(out.Rules, logsadapter.RuleResponse(&rules[i], alerts.StateOf(&rules[i], states)))
		}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
