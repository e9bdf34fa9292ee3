package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestFlagAPIWithJWT: with --auth=jwt the rollout flag API takes the same
// tokens as the query API; a caller whose token grants every namespace is
// an admin and may change the flag, a tenant may read it but not change it,
// and no token is 401.
func TestFlagAPIWithJWT(t *testing.T) {
	f := newJWKSFixture(t)
	sign := func(sub string, ns []string) string { return f.sign(jwt.MapClaims{"sub": sub, "namespaces": ns}) }

	httpAddr := freePort(t)
	_, logs := startServe(t, httpAddr, "--data", t.TempDir(), "--auth", "jwt", "--jwks-url", f.url)

	call := func(method, tok, body string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+httpAddr+"/api/v1/flags/use_clickhouse", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	admin, tenant := sign("platform", []string{"*"}), sign("alice", []string{"ns-a"})
	if code, body := call("PATCH", "", `{"rolloutPercentage":20}`); code != 401 {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := call("PATCH", tenant, `{"rolloutPercentage":20}`); code != 403 {
		t.Fatalf("tenant PATCH: %d %s", code, body)
	}
	if code, body := call("GET", tenant, ""); code != 200 || strings.Contains(body, `"rolloutPercentage":20`) {
		t.Fatalf("tenant GET: %d %s", code, body)
	}
	if code, body := call("PATCH", admin, `{"rolloutPercentage":20}`); code != 200 {
		t.Fatalf("admin PATCH: %d %s\n%s", code, body, logs.String())
	}
	if code, body := call("GET", tenant, ""); code != 200 || !strings.Contains(body, `"rolloutPercentage":20`) {
		t.Fatalf("after the admin's change: %d %s", code, body)
	}
}
