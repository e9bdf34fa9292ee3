// Package ruleapi is the alert rule endpoints both adapters' contracts
// share (create, get, update, delete under /api/v1alpha1/alerts/rules),
// over an alerts.Manager.
package ruleapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// visible reads the rule called name among the namespaces the caller may
// read (narrowed to ?namespace= when given): rules of other namespaces are
// not looked at, so their existence does not leak. A caller who reads
// several namespaces holding that name is asked to pick one.
func (a *RuleAPI) visible(r *http.Request, p *auth.Principal, name string) (*alerts.Rule, error) {
	all, err := a.Manager.Named(r.Context(), name)
	if err != nil {
		return nil, err
	}
	want := r.URL.Query().Get("namespace")
	var seen []alerts.Rule
	for _, rule := range all {
		if p.Allows(rule.Namespace) && (want == "" || rule.Namespace == want) {
			seen = append(seen, rule)
		}
	}
	switch len(seen) {
	case 0:
		return nil, httpx.NotFound("alert rule not found")
	case 1:
		return &seen[0], nil
	}
	var ns []string
	for _, rule := range seen {
		ns = append(ns, rule.Namespace)
	}
	return nil, &httpx.Error{Status: http.StatusConflict, Title: httpx.TitleConflict,
		Message: fmt.Sprintf("alert rule %q exists in namespaces %s: add ?namespace= to pick one", httpx.Truncate(name, 128), strings.Join(ns, ", "))}
}

// Create stores a new rule: 201, or 409 when the name is taken in the
// rule's namespace or in one the caller sees.
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
	created, err := a.Manager.Create(r.Context(), rule, p.Subject, p.Allows)
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
	rule, err := a.visible(r, auth.FromContext(r.Context()), name)
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
	old, err := a.visible(r, p, name)
	if err != nil {
		return err
	}
	if rule.Namespace != old.Namespace {
		return httpx.BadRequest("metadata.namespace %q differs from the rule's namespace %q (a rule cannot move)", httpx.Truncate(rule.Namespace, 128), old.Namespace)
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
	found, err := a.visible(r, p, name)
	if err != nil {
		return err
	}
	old, err := a.Manager.Delete(r.Context(), found.Namespace, name, p.Subject)
	if errors.Is(err, alerts.ErrNotFound) {
		return httpx.NotFound("alert rule not found")
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, syncResp("deleted", old))
	return nil
}
