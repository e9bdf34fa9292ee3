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
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
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
			onErr(w, err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// JWT validates bearer tokens against a JWKS.
type JWT struct {
	keys *JWKS
	// Audience and Issuer, when set, must match the token's claims.
	Audience string
	Issuer   string
	// Leeway tolerates clock skew on exp/nbf/iat.
	Leeway time.Duration
}

// NewJWT validates tokens with keys from the JWKS at url.
func NewJWT(url string) *JWT {
	return &JWT{keys: NewJWKS(url, nil), Leeway: 30 * time.Second}
}

// NewJWTWithKeys uses an existing key set (tests, static keys).
func NewJWTWithKeys(k *JWKS) *JWT { return &JWT{keys: k, Leeway: 30 * time.Second} }

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
		jwt.WithLeeway(j.Leeway),
		jwt.WithExpirationRequired(),
	}
	if j.Audience != "" {
		opts = append(opts, jwt.WithAudience(j.Audience))
	}
	if j.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(j.Issuer))
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

// JWKS is a JSON Web Key Set fetched from a URL and cached. An unknown key
// id triggers a refetch (key rotation), at most once per MinRefresh.
type JWKS struct {
	url    string
	client *http.Client

	mu         sync.Mutex
	keys       map[string]any // kid -> *rsa.PublicKey | *ecdsa.PublicKey
	fetched    time.Time
	lastTry    time.Time
	MaxAge     time.Duration
	MinRefresh time.Duration
}

// NewJWKS returns a key set read from url with client (nil: a 10 s client).
func NewJWKS(url string, client *http.Client) *JWKS {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &JWKS{url: url, client: client, MaxAge: time.Hour, MinRefresh: 10 * time.Second}
}

// StaticJWKS is a key set that never fetches.
func StaticJWKS(keys map[string]any) *JWKS {
	return &JWKS{keys: keys, fetched: time.Now().Add(100 * 365 * 24 * time.Hour)}
}

// Keyfunc returns the jwt.Keyfunc that picks a key by the token's kid and
// checks that the key type fits the algorithm.
func (k *JWKS) Keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		key, err := k.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		switch t.Method.Alg() {
		case "RS256":
			if _, ok := key.(*rsa.PublicKey); !ok {
				return nil, errors.New("key " + kid + " is not an RSA key")
			}
		case "ES256":
			if _, ok := key.(*ecdsa.PublicKey); !ok {
				return nil, errors.New("key " + kid + " is not an EC key")
			}
		}
		return key, nil
	}
}

func (k *JWKS) key(ctx context.Context, kid string) (any, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	stale := k.keys == nil || (k.url != "" && now.Sub(k.fetched) > k.MaxAge)
	_, known := k.lookup(kid)
	if (stale || !known) && k.url != "" && now.Sub(k.lastTry) >= k.MinRefresh {
		k.lastTry = now
		keys, err := k.fetch(ctx)
		if err != nil && k.keys == nil {
			return nil, fmt.Errorf("fetching JWKS: %w", err)
		}
		if err == nil {
			k.keys, k.fetched = keys, now
		}
	}
	key, ok := k.lookup(kid)
	if !ok {
		return nil, fmt.Errorf("no key %q in the JWKS", kid)
	}
	return key, nil
}

// lookup finds kid; a token without kid matches a set of exactly one key.
func (k *JWKS) lookup(kid string) (any, bool) {
	if kid == "" && len(k.keys) == 1 {
		for _, v := range k.keys {
			return v, true
		}
	}
	v, ok := k.keys[kid]
	return v, ok
}

func (k *JWKS) fetch(ctx context.Context) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", k.url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return ParseJWKS(b)
}

// ParseJWKS reads the RSA and P-256 EC signing keys of a JWKS document;
// other keys are skipped.
func ParseJWKS(b []byte) (map[string]any, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not JSON: %w", err)
	}
	out := map[string]any{}
	for _, jk := range doc.Keys {
		if jk.Use != "" && jk.Use != "sig" {
			continue
		}
		switch jk.Kty {
		case "RSA":
			n, err1 := b64int(jk.N)
			e, err2 := b64int(jk.E)
			if err1 != nil || err2 != nil || !e.IsInt64() {
				continue
			}
			out[jk.Kid] = &rsa.PublicKey{N: n, E: int(e.Int64())}
		case "EC":
			if jk.Crv != "P-256" {
				continue
			}
			x, err1 := b64int(jk.X)
			y, err2 := b64int(jk.Y)
			if err1 != nil || err2 != nil {
				continue
			}
			out[jk.Kid] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("JWKS has no usable RSA or P-256 signing key")
	}
	return out, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}
