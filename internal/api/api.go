// Package api holds what the HTTP APIs share at wiring time: the
// authenticator for an auth mode. server.Run builds the APIs (packages
// obsplaneapi, logsadapter, tracingadapter, flagsapi) and passes each what
// it needs: the read model, the authenticator, the alert manager.
//
// The adapter ports authenticate with --adapter-auth (default none): the
// unmodified Observer calls them without a token and authorizes its own
// callers, exactly as with the upstream adapters, so they belong on a
// private address. The :8080 API always uses --auth.
package api

import (
	"fmt"

	"github.com/openchoreo/obsplane/internal/api/auth"
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
