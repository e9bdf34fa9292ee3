package api_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestForgedWebhooksRefused: the alert webhook relays only an alert of a
// rule that exists in the namespace the alert names, and under JWT only for
// a caller who may act on that namespace. Before, any ruleName and
// ruleNamespace were relayed, even for a token with no namespaces.
func TestForgedWebhooksRefused(t *testing.T) {
	hooks := make(chan map[string]any, 10)
	s := start(t, true, newWebhook(t, hooks))
	admin := token(t, "RS256", jwt.MapClaims{"sub": "observer", "namespaces": []string{"*"}})
	tenantA := token(t, "RS256", jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
	none := token(t, "RS256", jwt.MapClaims{"sub": "mallory"})
	rules := s.logs.URL + "/api/v1alpha1/alerts/rules"
	webhook := s.logs.URL + "/api/v1alpha1/alerts/webhook"
	for _, ns := range []string{"ns-a", "ns-b"} {
		body := map[string]any{
			"metadata":  map[string]any{"name": "fw-" + ns, "namespace": ns, "projectUid": projA, "environmentUid": envA, "componentUid": compA},
			"source":    map[string]any{"query": "error"},
			"condition": map[string]any{"enabled": true, "window": "1h", "interval": "1m", "operator": "gt", "threshold": 1},
		}
		if r := do(t, "POST", rules, admin, body); r.status != 201 {
			t.Fatalf("create fw-%s: %d %s", ns, r.status, r.body)
		}
	}
	alert := func(rule, ns string) map[string]any {
		return map[string]any{"ruleName": rule, "ruleNamespace": ns, "alertValue": 7}
	}
	for _, tc := range []struct {
		name, tok string
		body      any
		status    int
		word      string
	}{
		{"no namespaces forges ns-b", none, alert("fw-ns-b", "ns-b"), 403, "ns-b"},
		{"tenant a forges ns-b", tenantA, alert("fw-ns-b", "ns-b"), 403, "ns-b"},
		{"rule of ns-b named as ns-a", tenantA, alert("fw-ns-b", "ns-a"), 404, "not found"},
		{"no such rule", admin, alert("nope", "ns-a"), 404, "not found"},
		{"no namespace named", admin, map[string]any{"ruleName": "fw-ns-a"}, 400, "ruleNamespace"},
		{"no token", "", alert("fw-ns-a", "ns-a"), 401, "token"},
	} {
		r := do(t, "POST", webhook, tc.tok, tc.body)
		wantError(t, r, tc.status, map[int]string{400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "notFound"}[tc.status], tc.word)
	}
	select {
	case h := <-hooks:
		t.Fatalf("a refused alert was relayed: %v", h)
	case <-time.After(300 * time.Millisecond):
	}
	if r := do(t, "POST", webhook, tenantA, alert("fw-ns-a", "ns-a")); r.status != 200 {
		t.Fatalf("tenant a's own alert: %d %s", r.status, r.body)
	}
	select {
	case h := <-hooks:
		if h["ruleName"] != "fw-ns-a" || h["ruleNamespace"] != "ns-a" {
			t.Fatalf("relayed %v", h)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("tenant a's own alert was not relayed")
	}
}
