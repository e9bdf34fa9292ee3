// Package auth authenticates API callers and says which OpenChoreo
// namespaces they may read (docs/DESIGN.md, Tenancy).
//
// With --auth=jwt every request carries "Authorization: Bearer <JWT>",
// signed RS256 or ES256 by a key in the JWKS at --jwks-url. The namespaces a
// caller may read come from the token's "namespaces" claim: a JSON array of
// OpenChoreo namespace names (a single string, space- or comma-separated, is
// accepted too). The value "*" grants every namespace; it is meant for
// service identities such as the OpenChoreo Observer, which authorizes users
// itself before calling the adapter APIs. A token without the claim may read
// nothing (403), never everything.
//
// With --auth=none (local use only; serve logs a loud warning) every caller
// reads every namespace.
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// NamespacesClaim is the JWT claim listing the readable namespaces.
const NamespacesClaim = "namespaces"

// AllNamespaces in the claim grants every namespace.
const AllNamespaces = "*"

// Principal is an authenticated caller.
type Principal struct {
	Subject string
	// All is true when the caller may read every namespace.
	All bool
	// Namespaces are the namespaces the caller may read (when !All).
	Namespaces []string
}

// Allows reports whether p may read namespace ns.
func (p *Principal) Allows(ns string) bool {
	return p.All || slices.Contains(p.Namespaces, ns)
}

// Authenticator decides who a request is.
type Authenticator interface {
	// Authenticate returns the caller, or an error whose text can be shown
	// to the caller (the token is never echoed).
	Authenticate(r *http.Request) (*Principal, error)
}

// None lets every caller read everything.
type None struct{}

// Authenticate implements Authenticator.
func (None) Authenticate(*http.Request) (*Principal, error) {
	return &Principal{Subject: "anonymous", All: true}, nil
}

// LocalAdmin is the caller of every request when authentication is off.
const LocalAdmin = "local-admin"

// Caller names who makes the request in ctx (which Middleware over a set)
// and whether it is an admin: a principal granting every namespace, or,
// with authentication off, LocalAdmin.
func Caller(a Authenticator, ctx context.Context) (id string, admin bool) {
	if _, none := a.(None); none {
		return LocalAdmin, true
	}
	p := FromContext(ctx)
	return p.Subject, p.All
}

type ctxKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the caller stored by Middleware. A context without one
// gets a principal that may read nothing, so a handler mounted without the
// middleware fails closed.
func FromContext(ctx context.Context) *Principal {
	if p, ok := ctx.Value(ctxKey{}).(*Principal); ok {
		return p
	}
	return &Principal{}
}

// Middleware authenticates each request and stores the caller in its
// context; onErr writes the 401 in the API's own error shape.
func Middleware(a Authenticator, next http.Handler, onErr func(w http.ResponseWriter, msg string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="obsplane"`)
			if r.ContentLength != 0 {
				// The body of a refused request is never read: close the
				// connection after the answer instead of draining what an
				// unauthenticated client sends, and stop reading at once.
				w.Header().Set("Connection", "close")
				defer func() { _ = http.NewResponseController(w).SetReadDeadline(time.Now()) }()
			}
			onErr(w, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// JWT validates bearer tokens against a JWKS.
type JWT struct {
	keys *JWKS
	opts JWTOptions
}

// JWTOptions are the claim checks beyond the signature and exp.
type JWTOptions struct {
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audiences, when any are set, must include one of the token's aud.
	Audiences []string
	// Leeway tolerates clock skew on exp/nbf/iat (default 30 s).
	Leeway time.Duration
}

// NewJWT validates tokens with keys from k.
func NewJWT(k *JWKS, o JWTOptions) *JWT {
	if o.Leeway == 0 {
		o.Leeway = 30 * time.Second
	}
	return &JWT{keys: k, opts: o}
}

// NewJWTWithKeys uses an existing key set and checks no iss or aud (tests,
// static keys).
func NewJWTWithKeys(k *JWKS) *JWT { return NewJWT(k, JWTOptions{}) }

// Authenticate implements Authenticator.
func (j *JWT) Authenticate(r *http.Request) (*Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, errors.New("missing bearer token (Authorization: Bearer <JWT>)")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, errors.New("authorization header is not a bearer token")
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256", "ES256"}),
		jwt.WithLeeway(j.opts.Leeway),
		jwt.WithExpirationRequired(),
	}
	if len(j.opts.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(j.opts.Audiences...))
	}
	if j.opts.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(j.opts.Issuer))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(strings.TrimSpace(tok), claims, j.keys.Keyfunc(r.Context()), opts...)
	if err != nil {
		return nil, fmt.Errorf("invalid token: %v", cleanJWTErr(err))
	}
	p := &Principal{}
	p.Subject, _ = claims.GetSubject()
	ns, err := namespacesFrom(claims[NamespacesClaim])
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		if n == AllNamespaces {
			p.All = true
		}
	}
	if !p.All {
		p.Namespaces = ns
	}
	return p, nil
}

func cleanJWTErr(err error) string {
	s := err.Error()
	// jwt wraps errors as "token is malformed: ..."; keep it short and
	// never include the token.
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func namespacesFrom(v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		return strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == ',' }), nil
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("invalid token: claim %q must be an array of strings", NamespacesClaim)
			}
			if s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("invalid token: claim %q must be an array of strings", NamespacesClaim)
}
