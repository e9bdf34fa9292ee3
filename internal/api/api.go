// Package api holds what the HTTP APIs share at wiring time: the
// authenticators of the auth modes (one JWKS for both). server.Run builds the APIs (packages
// obsplaneapi, logsadapter, metricsadapter, tracingadapter, flagsapi) and passes each what
// it needs: the read model, the authenticator, the alert manager.
//
// The adapter ports authenticate with --adapter-auth (default none): the
// unmodified Observer calls them without a token and authorizes its own
// callers, exactly as with the upstream adapters, so they belong on a
// private address. The :8080 API always uses --auth.
package api

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/openchoreo/obsplane/internal/api/auth"
)

// JWTSettings configure JWT validation: the JWKS and the claim checks.
type JWTSettings struct {
	JWKSURL string
	Issuer  string
	// Audiences, when any, must include one of a token's aud.
	Audiences []string
	JWKS      auth.JWKSOptions
}

// Authenticators returns the authenticators of the :8080 API (apiMode,
// --auth) and of the adapter ports (adapterMode, --adapter-auth). Both JWT
// modes share one key set; jwks is it (nil when neither uses JWT), and its
// Run keeps it fresh. JWT without an issuer or an audience is logged loudly:
// any token the JWKS signs would pass.
func Authenticators(apiMode, adapterMode string, s JWTSettings, log *slog.Logger) (apiAuth, adapterAuth auth.Authenticator, jwks *auth.JWKS, err error) {
	var j *auth.JWT
	pick := func(flag, mode string) (auth.Authenticator, error) {
		switch mode {
		case "none", "":
			return auth.None{}, nil
		case "jwt":
			if s.JWKSURL == "" {
				return nil, fmt.Errorf("--%s=jwt needs --jwks-url", flag)
			}
			if j == nil {
				jwks = auth.NewJWKS(s.JWKSURL, s.JWKS)
				j = auth.NewJWT(jwks, auth.JWTOptions{Issuer: s.Issuer, Audiences: s.Audiences})
				if s.Issuer == "" || len(s.Audiences) == 0 {
					log.Warn("JWT ISSUER OR AUDIENCE NOT CHECKED: without --jwt-issuer and --jwt-audience any token signed by a key in the JWKS is accepted, including tokens the identity provider issued to other services; set both in production",
						"jwtIssuer", s.Issuer, "jwtAudience", strings.Join(s.Audiences, ","))
				}
			}
			return j, nil
		}
		return nil, fmt.Errorf("--%s=%q: want jwt or none", flag, mode)
	}
	if apiAuth, err = pick("auth", apiMode); err != nil {
		return nil, nil, nil, err
	}
	if adapterAuth, err = pick("adapter-auth", adapterMode); err != nil {
		return nil, nil, nil, err
	}
	return apiAuth, adapterAuth, jwks, nil
}
