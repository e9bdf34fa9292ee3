package api_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openchoreo/obsplane/internal/alerts"
	"github.com/openchoreo/obsplane/internal/store"
)

// TestAlertRuleNamesPerNamespace: under JWT a rule is named within its
// namespace: tenant A's name neither reveals nor blocks tenant B's (before,
// A creating a name B held got 409 "already exists", and a name A took
// first was refused to B); each reads, updates and deletes its own; a
// caller who reads both is asked which one.
func TestAlertRuleNamesPerNamespace(t *testing.T) {
	s := start(t, true, "")
	a := token(t, "RS256", jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
	b := token(t, "RS256", jwt.MapClaims{"sub": "bob", "namespaces": []string{"ns-b"}})
	admin := token(t, "RS256", jwt.MapClaims{"sub": "observer", "namespaces": []string{"*"}})
	url := s.logs.URL + "/api/v1alpha1/alerts/rules"
	rule := func(ns string, threshold float64) map[string]any {
		return map[string]any{
			"metadata":  map[string]any{"name": "shared-name", "namespace": ns, "projectUid": projA, "environmentUid": envA, "componentUid": compA},
			"source":    map[string]any{"query": "error"},
			"condition": map[string]any{"enabled": true, "window": "1h", "interval": "1m", "operator": "gt", "threshold": threshold},
		}
	}
	if r := do(t, "POST", url, b, rule("ns-b", 2)); r.status != 201 {
		t.Fatalf("b creates: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", url, a, rule("ns-a", 1)); r.status != 201 {
		t.Fatalf("a creates the name b holds: %d %s (leak or squatting)", r.status, r.body)
	}
	wantError(t, do(t, "POST", url, a, rule("ns-a", 1)), 409, "conflict", "already exists")
	for _, c := range []struct {
		tok, ns string
		thr     float64
	}{{a, "ns-a", 1}, {b, "ns-b", 2}} {
		r := do(t, "GET", url+"/shared-name", c.tok, nil)
		m := r.json(t)
		if r.status != 200 || m["metadata"].(map[string]any)["namespace"] != c.ns || m["condition"].(map[string]any)["threshold"].(float64) != c.thr {
			t.Fatalf("%s reads: %d %s", c.ns, r.status, r.body)
		}
	}
	wantError(t, do(t, "GET", url+"/shared-name", admin, nil), 409, "conflict", "namespace=")
	if r := do(t, "GET", url+"/shared-name?namespace=ns-b", admin, nil); r.status != 200 || r.json(t)["metadata"].(map[string]any)["namespace"] != "ns-b" {
		t.Fatalf("admin picks ns-b: %d %s", r.status, r.body)
	}
	wantError(t, do(t, "POST", url, admin, rule("ns-c", 1)), 409, "conflict", "already exists")
	wantError(t, do(t, "PUT", url+"/shared-name", a, rule("ns-b", 9)), 400, "badRequest", "cannot move")
	if r := do(t, "PUT", url+"/shared-name", a, rule("ns-a", 5)); r.status != 200 || r.json(t)["action"] != "updated" {
		t.Fatalf("a updates its own: %d %s", r.status, r.body)
	}
	if r := do(t, "DELETE", url+"/shared-name", a, nil); r.status != 200 {
		t.Fatalf("a deletes its own: %d %s", r.status, r.body)
	}
	wantError(t, do(t, "GET", url+"/shared-name", a, nil), 404, "notFound", "not found")
	if r := do(t, "GET", url+"/shared-name", b, nil); r.status != 200 || r.json(t)["condition"].(map[string]any)["threshold"].(float64) != 2 {
		t.Fatalf("b's rule after a's delete: %d %s", r.status, r.body)
	}
	do(t, "DELETE", url+"/shared-name", b, nil)
}

// TestAlertRulesKeptAcrossTheUpgrade: rules and states stored by a release
// that keyed them by name alone are in the per-namespace tables after
// EnsureTables, once.
func TestAlertRulesKeptAcrossTheUpgrade(t *testing.T) {
	st := setup(t)
	ctx := context.Background()
	const db = "upgrade_alerts"
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		`CREATE TABLE ` + db + `.obsplane_alert_rules (Name String, Namespace String, ProjectUID String, EnvironmentUID String, ComponentUID String,
			Query String, Enabled UInt8, Window String, Interval String, Operator LowCardinality(String), Threshold Float64, BackendID String,
			UpdatedAt DateTime64(3, 'UTC'), UpdatedBy String, Version UInt64, Deleted UInt8 DEFAULT 0) ENGINE = ReplacingMergeTree(Version, Deleted) ORDER BY Name`,
		`CREATE TABLE ` + db + `.obsplane_alert_state (Name String, State LowCardinality(String), EvaluatedAt DateTime64(3, 'UTC'), Value Float64,
			LastFiredAt DateTime64(3, 'UTC'), LastError String, Version UInt64) ENGINE = ReplacingMergeTree(Version) ORDER BY Name`,
		`INSERT INTO ` + db + `.obsplane_alert_rules VALUES ('old-rule', 'ns-a', '', '', '', 'error', 1, '1h', '1m', 'gt', 3, 'bid-1', now64(3), 'x', 1, 0),
			('gone-rule', 'ns-a', '', '', '', 'error', 1, '1h', '1m', 'gt', 3, 'bid-2', now64(3), 'x', 1, 1)`,
		`INSERT INTO ` + db + `.obsplane_alert_state VALUES ('old-rule', 'firing', now64(3), 7, now64(3), '', 1)`,
	} {
		if err := st.Exec(ctx, q, store.Params{}); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	m := &alerts.Manager{Store: st, Database: db}
	for i := 0; i < 2; i++ {
		if err := m.EnsureTables(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := m.List(ctx)
	if err != nil || len(rules) != 1 || rules[0].Name != "old-rule" || rules[0].Namespace != "ns-a" || rules[0].BackendID != "bid-1" {
		t.Fatalf("rules after the upgrade: %+v %v", rules, err)
	}
	states, err := m.States(ctx)
	if err != nil || len(states) != 1 || alerts.StateOf(&rules[0], states).Value != 7 {
		t.Fatalf("states after the upgrade: %+v %v", states, err)
	}
}
