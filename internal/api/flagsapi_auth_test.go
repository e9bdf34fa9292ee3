package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/flagsapi"
	"github.com/openchoreo/obsplane/internal/router"
)

// TestFlagAPIAuth: the flag API answers as local admin with no
// authentication, and with JWT refuses a request without a token (401),
// lets a tenant read but not change a flag (403), and lets a caller granted
// every namespace change it.
func TestFlagAPIAuth(t *testing.T) {
	st := setup(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := router.DefaultConfig()
	fl, err := router.NewFlags(st, cfg, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := router.New(router.Options{Config: cfg, Flags: fl, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	call := func(a auth.Authenticator, method, tok, body string) (int, string) {
		req := httptest.NewRequest(method, "/api/v1/flags/use_clickhouse", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		mux := http.NewServeMux()
		(&flagsapi.API{Router: rt, Auth: a}).Mount(mux)
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := call(auth.None{}, "PATCH", "", `{"rolloutPercentage":5,"reason":"no auth"}`); code != 200 || !strings.Contains(body, `"updatedBy":"local-admin"`) {
		t.Fatalf("auth none PATCH: %d %s", code, body)
	}
	j := auth.NewJWTWithKeys(testKeys.set)
	admin := token(t, "RS256", jwt.MapClaims{"sub": "platform", "namespaces": []string{"*"}})
	tenant := token(t, "RS256", jwt.MapClaims{"sub": "alice", "namespaces": []string{"ns-a"}})
	if code, body := call(j, "GET", "", ""); code != 401 || !strings.Contains(body, `"title":"unauthorized"`) {
		t.Fatalf("jwt, no token: %d %s", code, body)
	}
	if code, body := call(j, "PATCH", tenant, `{"rolloutPercentage":50}`); code != 403 {
		t.Fatalf("tenant PATCH: %d %s", code, body)
	}
	if code, body := call(j, "GET", tenant, ""); code != 200 || !strings.Contains(body, `"rolloutPercentage":5`) {
		t.Fatalf("tenant GET: %d %s", code, body)
	}
	if code, body := call(j, "PATCH", admin, `{"rolloutPercentage":7}`); code != 200 || !strings.Contains(body, `"updatedBy":"platform"`) {
		t.Fatalf("admin PATCH: %d %s", code, body)
	}
}
