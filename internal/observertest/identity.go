package observertest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Identity stands in for OpenChoreo's identity provider (Thunder): it signs
// real RS256 JWTs with a key it publishes as a JWKS, which the Observer's
// JWT middleware fetches and verifies, and it answers the OAuth2 client
// credentials grant the Observer's UID resolver uses to call openchoreo-api.
type Identity struct {
	// URL is the server's base URL; JWKSURL and TokenURL its endpoints.
	URL, JWKSURL, TokenURL string
	// Issuer and Audience go into every token (the Observer checks both).
	Issuer, Audience string

	key     *rsa.PrivateKey
	kid     string
	clients map[string]string // client id -> secret

	mu     sync.Mutex
	grants int
}

// NewIdentity starts the issuer on a loopback port; clients maps the OAuth2
// client ids it accepts to their secrets.
func NewIdentity(t testing.TB, clients map[string]string) *Identity {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{key: key, kid: "observertest-1", clients: clients, Audience: "openchoreo-observer"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/jwks", id.jwks)
	mux.HandleFunc("POST /oauth2/token", id.token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	id.URL = srv.URL
	id.Issuer = srv.URL
	id.JWKSURL = srv.URL + "/oauth2/jwks"
	id.TokenURL = srv.URL + "/oauth2/token"
	return id
}

// Token signs a token for subject with the given extra claims (groups, ...)
// valid for an hour.
func (id *Identity) Token(t testing.TB, subject string, claims map[string]any) string {
	t.Helper()
	tok, err := id.sign(subject, claims, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (id *Identity) sign(subject string, extra map[string]any, ttl time.Duration) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"iss": id.Issuer, "aud": id.Audience, "sub": subject, "iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = id.kid
	return tok.SignedString(id.key)
}

// Verify checks a bearer token the way a resource server would: signature,
// expiry, issuer and audience. It returns the claims.
func (id *Identity) Verify(header string) (jwt.MapClaims, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, fmt.Errorf("no bearer token")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return &id.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(id.Issuer), jwt.WithAudience(id.Audience), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// Grants counts the client credentials grants served.
func (id *Identity) Grants() int {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.grants
}

func (id *Identity) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := id.key.PublicKey
	b64 := base64.RawURLEncoding.EncodeToString
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": id.kid,
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// token answers RFC 6749's client credentials grant (section 4.4), with
// the client's credentials in the form as the Observer sends them.
func (id *Identity) token(w http.ResponseWriter, r *http.Request) {
	oauthError := func(code int, e string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": e})
	}
	if err := r.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	client := r.PostForm.Get("client_id")
	if secret, ok := id.clients[client]; !ok || secret != r.PostForm.Get("client_secret") {
		oauthError(http.StatusUnauthorized, "invalid_client")
		return
	}
	const ttl = 10 * time.Minute
	tok, err := id.sign(client, map[string]any{"client_id": client}, ttl)
	if err != nil {
		oauthError(http.StatusInternalServerError, "server_error")
		return
	}
	id.mu.Lock()
	id.grants++
	id.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
}
