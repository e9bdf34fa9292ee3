// Package api holds what the HTTP APIs share at wiring time: the
// authenticator for an auth mode, and the middleware that authenticates the
// router's flag and mismatch endpoints the way the query API authenticates
// its own. server.Run builds the APIs (packages obsplaneapi, logsadapter,
// tracingadapter) and passes each what it needs.
//
// The adapter ports authenticate with --adapter-auth (default none): the
// unmodified Observer calls them without a token and authorizes its own
// callers, exactly as with the upstream adapters, so they belong on a
// private address. The :8080 API always uses --auth.
package api

import (
	"fmt"
	"net/http"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/api/httpx"
	"github.com/openchoreo/obsplane/internal/router"
)

// Authenticator returns the authenticator for mode (none or jwt).
func Authenticator(mode, jwksURL string) (auth.Authenticator, error) {
	switch mode {
	case "none", "":
		return auth.None{}, nil
	case "jwt":
		if jwksURL == "" {
			return nil, fmt.Errorf("--auth=jwt needs --jwks-url")
		}
		return auth.NewJWT(jwksURL), nil
	}
	return nil, fmt.Errorf("auth mode %q: want jwt or none", mode)
}

// RouterAuth authenticates requests to the router's endpoints with a and
// stores their router.Caller. An admin is a caller whose token grants every
// namespace ("*"): the platform team that runs the migration, not a tenant.
// With auth.None every caller is router.LocalAdmin.
func RouterAuth(a auth.Authenticator, next http.Handler) http.Handler {
	if _, none := a.(auth.None); none {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(router.WithCaller(r.Context(), router.LocalAdmin{})))
		})
	}
	return auth.Middleware(a, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		next.ServeHTTP(w, r.WithContext(router.WithCaller(r.Context(), router.StaticCaller{Subject: p.Subject, Admin: p.All})))
	}), func(w http.ResponseWriter, msg string) {
		httpx.WriteError(w, httpx.Unauthorized("%s", msg), false)
	})
}
