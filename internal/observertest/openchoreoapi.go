package observertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// Resource is one OpenChoreo resource the control plane knows: a namespace
// (Kind "Namespace"), project, component or environment, with its UID.
type Resource struct {
	Kind, Namespace, Name, UID string
	// Project owns a component.
	Project string
}

// Evaluation is one authorization request as openchoreo-api's
// POST /api/v1/authz/evaluates takes it (its EvaluateRequest schema).
type Evaluation struct {
	SubjectContext *struct {
		Type              string   `json:"type"`
		EntitlementClaim  string   `json:"entitlement_claim"`
		EntitlementValues []string `json:"entitlement_values"`
	} `json:"subject_context"`
	Resource struct {
		Type      string `json:"type"`
		ID        string `json:"id"`
		Hierarchy struct {
			Namespace string `json:"namespace"`
			Project   string `json:"project"`
			Component string `json:"component"`
		} `json:"hierarchy"`
	} `json:"resource"`
	Action string `json:"action"`
}

// API stands in for openchoreo-api, the control plane's API server, which
// reads OpenChoreo's custom resources from Kubernetes (none can run here).
// It serves only what the Observer calls: the GETs of a namespace, project,
// component and environment its UID resolver makes (answering the
// openchoreo-api OpenAPI shapes: a Kubernetes-style object whose
// metadata.uid the Observer reads), and the authorization evaluation
// endpoint. Every call must carry a token the Identity issued, as the real
// server requires.
type API struct {
	URL string

	id        *Identity
	resources map[string]Resource // by request path
	// grants maps an entitlement value (a group, or a client id for a
	// service account) to the OpenChoreo namespaces it may read; "*" is
	// every namespace.
	grants map[string][]string

	mu          sync.Mutex
	lookups     []string
	evaluations []Evaluation
}

// NewAPI starts the stand-in with the control plane's resources and
// authorization grants.
func NewAPI(t testing.TB, id *Identity, resources []Resource, grants map[string][]string) *API {
	t.Helper()
	a := &API{id: id, resources: map[string]Resource{}, grants: grants}
	for _, r := range resources {
		a.resources[r.path()] = r
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/namespaces/{ns}", a.get)
	mux.HandleFunc("GET /api/v1/namespaces/{ns}/{kind}/{name}", a.get)
	mux.HandleFunc("POST /api/v1/authz/evaluates", a.evaluate)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

func (r Resource) path() string {
	p := "/api/v1/namespaces/" + r.Namespace
	switch r.Kind {
	case "Project":
		p += "/projects/" + r.Name
	case "Component":
		p += "/components/" + r.Name
	case "Environment":
		p += "/environments/" + r.Name
	}
	return p
}

// Lookups returns the resource paths the Observer asked for, in order.
func (a *API) Lookups() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.lookups)
}

// Evaluations returns the authorization requests the Observer made.
func (a *API) Evaluations() []Evaluation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.evaluations)
}

// errorBody is openchoreo-api's ErrorResponse.
func errorBody(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg, "code": code})
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	if _, err := a.id.Verify(r.Header.Get("Authorization")); err != nil {
		errorBody(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
		return
	}
	a.mu.Lock()
	a.lookups = append(a.lookups, r.URL.Path)
	a.mu.Unlock()
	res, ok := a.resources[r.URL.Path]
	if !ok {
		errorBody(w, http.StatusNotFound, "NOT_FOUND", "resource not found")
		return
	}
	obj := map[string]any{
		"apiVersion": "openchoreo.dev/v1alpha1",
		"kind":       res.Kind,
		"metadata": map[string]any{"name": res.Name, "namespace": res.Namespace, "uid": res.UID,
			"creationTimestamp": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)},
	}
	if res.Kind == "Namespace" {
		obj["apiVersion"] = "v1"
		delete(obj["metadata"].(map[string]any), "namespace")
	}
	if res.Kind == "Component" {
		obj["spec"] = map[string]any{"owner": map[string]string{"projectName": res.Project},
			"componentType": map[string]string{"kind": "ClusterComponentType", "name": "deployment/service"}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

// evaluate decides each request from the grants: allowed when one of the
// subject's entitlement values may read the resource's namespace. The
// answer is the Decision array, in the requests' order.
func (a *API) evaluate(w http.ResponseWriter, r *http.Request) {
	if _, err := a.id.Verify(r.Header.Get("Authorization")); err != nil {
		errorBody(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
		return
	}
	var reqs []Evaluation
	if err := json.NewDecoder(r.Body).Decode(&reqs); err != nil || len(reqs) == 0 {
		errorBody(w, http.StatusBadRequest, "BAD_REQUEST", "body must be a non-empty array of EvaluateRequest")
		return
	}
	a.mu.Lock()
	a.evaluations = append(a.evaluations, reqs...)
	a.mu.Unlock()
	type decision struct {
		Decision bool              `json:"decision"`
		Context  map[string]string `json:"context,omitempty"`
	}
	out := make([]decision, len(reqs))
	for i, q := range reqs {
		out[i] = decision{Context: map[string]string{"reason": "no grant for the namespace"}}
		if q.SubjectContext == nil {
			continue
		}
		for _, v := range q.SubjectContext.EntitlementValues {
			if ns := a.grants[v]; slices.Contains(ns, "*") || slices.Contains(ns, q.Resource.Hierarchy.Namespace) {
				out[i] = decision{Decision: true, Context: map[string]string{"reason": "granted to " + v}}
				break
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
