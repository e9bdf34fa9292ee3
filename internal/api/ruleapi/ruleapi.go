// Package ruleapi is the alert rule endpoints both adapters' contracts
// share (create, get, update, delete under /api/v1alpha1/alerts/rules),
// over an alerts.Manager.
package ruleapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
)

// RuleAPI serves the rule endpoints; each adapter supplies how its request body becomes a rule and how a rule is
// shown.
type RuleAPI struct {
	// Manager stores the rules; nil answers 501.
	Manager *alerts.Manager
	// Parse decodes and checks a request body.
	Parse func(r *http.Request) (alerts.Rule, error)
	// Render is the answer to a GET.
	Render func(*alerts.Rule, alerts.State) any
}

// SyncResponse is the contracts' AlertingRuleSyncResponse.
type SyncResponse struct {
	Action        string `json:"action"`
	LastSyncedAt  string `json:"lastSyncedAt"`
	Status        string `json:"status"`
	RuleLogicalID string `json:"ruleLogicalId"`
	RuleBackendID string `json:"ruleBackendId"`
}

func syncResp(action string, r *alerts.Rule) SyncResponse {
	return SyncResponse{Action: action, Status: "synced", RuleLogicalID: r.Name, RuleBackendID: r.BackendID,
		LastSyncedAt: time.Now().UTC().Format(time.RFC3339)}
}

func (a *RuleAPI) disabled() error {
	return &httpx.Error{Status: http.StatusNotImplemented, Title: httpx.TitleNotImplemented, Message: "alert rules are not enabled in this process"}
}

func ruleName(r *http.Request) (string, error) {
	n := r.PathValue("ruleName")
	if n == "" || len(n) > alerts.MaxName {
		return "", httpx.BadRequest("ruleName must be 1 to %d characters", alerts.MaxName)
	}
	return n, nil
}

// visible reads a rule the caller may see; a rule of a namespace the caller
// may not read is "not found", so its existence does not leak.
func (a *RuleAPI) visible(ctx context.Context, p *auth.Principal, name string) (*alerts.Rule, error) {
	rule, err := a.Manager.Get(ctx, name)
	if errors.Is(err, alerts.ErrNotFound) || (err == nil && !p.Allows(rule.Namespace)) {
		return nil, httpx.NotFound("alert rule not found")
	}
	return rule, err
}

// Create stores a new rule: 201, or 409 when the name is taken.
func (a *RuleAPI) Create(w http.ResponseWriter, r *http.Request) error {
	if a.Manager == nil {
		return a.disabled()
	}
	rule, err := a.Parse(r)
	if err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	if err := httpx.Tenancy(r).Require(rule.Namespace); err != nil {
		return err
	}
	created, err := a.Manager.Create(r.Context(), rule, p.Subject)
	if errors.Is(err, alerts.ErrExists) {
		return &httpx.Error{Status: http.StatusConflict, Title: httpx.TitleConflict, Message: "alert rule " + rule.Name + " already exists"}
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, syncResp("created", created))
	return nil
}

// Get answers a rule and its last evaluation.
func (a *RuleAPI) Get(w http.ResponseWriter, r *http.Request) error {
	if a.Manager == nil {
		return a.disabled()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	rule, err := a.visible(r.Context(), auth.FromContext(r.Context()), name)
	if err != nil {
		return err
	}
	states, err := a.Manager.States(r.Context())
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, a.Render(rule, alerts.StateOf(rule, states)))
	return nil
}

// Update replaces a rule ("updated", or "unchanged" when it is the same).
func (a *RuleAPI) Update(w http.ResponseWriter, r *http.Request) error {
	if a.Manager == nil {
		return a.disabled()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	rule, err := a.Parse(r)
	if err != nil {
		return err
	}
	if rule.Name != name {
		return httpx.BadRequest("metadata.name %q differs from the rule name in the path %q", httpx.Truncate(rule.Name, 64), httpx.Truncate(name, 64))
	}
	p := auth.FromContext(r.Context())
	if _, err := a.visible(r.Context(), p, name); err != nil {
		return err
	}
	if err := httpx.Tenancy(r).Require(rule.Namespace); err != nil {
		return err
	}
	updated, changed, err := a.Manager.Update(r.Context(), rule, p.Subject)
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

// Delete removes a rule.
func (a *RuleAPI) Delete(w http.ResponseWriter, r *http.Request) error {
	if a.Manager == nil {
		return a.disabled()
	}
	name, err := ruleName(r)
	if err != nil {
		return err
	}
	p := auth.FromContext(r.Context())
	if _, err := a.visible(r.Context(), p, name); err != nil {
		return err
	}
	old, err := a.Manager.Delete(r.Context(), name, p.Subject)
	if errors.Is(err, alerts.ErrNotFound) {
		return httpx.NotFound("alert rule not found")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, syncResp("deleted", old))
	return nil
}
