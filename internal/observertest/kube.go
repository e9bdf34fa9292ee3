package observertest

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kube stands in for the Kubernetes API server of the observability plane,
// where the control plane writes ObservabilityAlertRule custom resources.
// The Observer reads one when an adapter posts a fired alert to its
// webhook (the rule's name, severity and the component labels of the alert
// it stores), through controller-runtime's client: API discovery of the
// openchoreo.dev group, then a GET of the object. It serves only that,
// JSON as the API server answers it, and wants the kubeconfig's bearer
// token. Everything else is a 404.
type Kube struct {
	URL string
	// Kubeconfig is a kubeconfig file pointing at the server.
	Kubeconfig string

	token string
	mu    sync.Mutex
	rules map[string]any // namespace/name -> object
	gets  []string
}

const alertRuleGroupVersion = "openchoreo.dev/v1alpha1"

// NewKube starts the stand-in and writes its kubeconfig.
func NewKube(t testing.TB) *Kube {
	t.Helper()
	k := &Kube{token: "observertest-kube-token", rules: map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api", k.auth(func(w http.ResponseWriter, _ *http.Request) {
		k.write(w, http.StatusOK, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	}))
	mux.HandleFunc("GET /apis", k.auth(func(w http.ResponseWriter, _ *http.Request) {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: alertRuleGroupVersion, Version: "v1alpha1"}
		k.write(w, http.StatusOK, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
			Groups: []metav1.APIGroup{{Name: "openchoreo.dev", Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv}}})
	}))
	mux.HandleFunc("GET /apis/openchoreo.dev/v1alpha1", k.auth(func(w http.ResponseWriter, _ *http.Request) {
		k.write(w, http.StatusOK, metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: alertRuleGroupVersion, APIResources: []metav1.APIResource{{Name: "observabilityalertrules",
				SingularName: "observabilityalertrule", Namespaced: true, Kind: "ObservabilityAlertRule",
				Verbs: metav1.Verbs{"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"}}}})
	}))
	mux.HandleFunc("GET /apis/openchoreo.dev/v1alpha1/namespaces/{ns}/observabilityalertrules/{name}", k.auth(k.getRule))
	mux.HandleFunc("/", k.auth(func(w http.ResponseWriter, r *http.Request) {
		k.status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
	}))
	// HTTPS as the API server: client-go sends a kubeconfig's credentials
	// only over TLS.
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	k.URL = srv.URL
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	k.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: observability-plane
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: observer
  user:
    token: %s
contexts:
- name: observer
  context:
    cluster: observability-plane
    user: observer
current-context: observer
`, srv.URL, base64.StdEncoding.EncodeToString(ca), k.token)
	if err := os.WriteFile(k.Kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// AlertRule is the part of an ObservabilityAlertRule the Observer reads.
type AlertRule struct {
	Namespace, Name string
	// Labels carry the component's OpenChoreo labels (openchoreo.dev/...).
	Labels                         map[string]string
	DisplayName, Severity, Summary string
	// Source is log or metric, with Query or Metric.
	Source, Query, Metric string
	Window, Interval      string
	Operator              string
	Threshold             int64
}

// PutAlertRule stores the custom resource as the control plane's
// controller would have created it.
func (k *Kube) PutAlertRule(r AlertRule) {
	src := map[string]any{"type": r.Source}
	if r.Query != "" {
		src["query"] = r.Query
	}
	if r.Metric != "" {
		src["metric"] = r.Metric
	}
	obj := map[string]any{
		"apiVersion": alertRuleGroupVersion, "kind": "ObservabilityAlertRule",
		"metadata": map[string]any{"name": r.Name, "namespace": r.Namespace, "labels": r.Labels,
			"uid": "7c0b3a52-91c4-4d8e-b6f1-2a9d5e3c8f40", "resourceVersion": "1", "generation": 1},
		"spec": map[string]any{"name": r.DisplayName, "description": r.Summary, "severity": r.Severity, "enabled": true,
			"source":    src,
			"condition": map[string]any{"window": r.Window, "interval": r.Interval, "operator": r.Operator, "threshold": r.Threshold},
			"actions":   map[string]any{"notifications": map[string]any{"channels": []string{}}}},
	}
	k.mu.Lock()
	k.rules[r.Namespace+"/"+r.Name] = obj
	k.mu.Unlock()
}

// Gets returns the alert rules the Observer read, namespace/name.
func (k *Kube) Gets() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.gets...)
}

func (k *Kube) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+k.token {
			k.status(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
			return
		}
		h(w, r)
	}
}

func (k *Kube) getRule(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("ns") + "/" + r.PathValue("name")
	k.mu.Lock()
	k.gets = append(k.gets, key)
	obj, ok := k.rules[key]
	k.mu.Unlock()
	if !ok {
		k.status(w, http.StatusNotFound, "NotFound",
			fmt.Sprintf("observabilityalertrules.openchoreo.dev %q not found", r.PathValue("name")))
		return
	}
	k.write(w, http.StatusOK, obj)
}

// status answers a metav1.Status, as the API server does for errors.
func (k *Kube) status(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	k.write(w, code, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
		Message: msg, Reason: reason, Code: int32(code)})
}

func (k *Kube) write(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
