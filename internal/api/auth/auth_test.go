package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestJWKSFetchAndRotate serves a JWKS over HTTP, validates a token, then
// rotates the key and checks that an unknown kid triggers a refetch.
func TestJWKSFetchAndRotate(t *testing.T) {
	k1, _ := rsa.GenerateKey(rand.Reader, 2048)
	k2, _ := rsa.GenerateKey(rand.Reader, 2048)
	var cur atomic.Value
	cur.Store(jwk("k1", &k1.PublicKey))
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(cur.Load().([]byte))
	}))
	defer srv.Close()
	j := NewJWT(srv.URL)
	j.keys.MinRefresh = 0
	sign := func(kid string, k *rsa.PrivateKey, claims jwt.MapClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = kid
		s, _ := tok.SignedString(k)
		return s
	}
	req := func(tok string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	exp := time.Now().Add(time.Hour).Unix()
	p, err := j.Authenticate(req(sign("k1", k1, jwt.MapClaims{"sub": "a", "exp": exp, "namespaces": "ns-a, ns-b"})))
	if err != nil || p.All || len(p.Namespaces) != 2 || !p.Allows("ns-b") || p.Allows("ns-c") {
		t.Fatalf("k1: %+v %v", p, err)
	}
	cur.Store(jwk("k2", &k2.PublicKey))
	if _, err := j.Authenticate(req(sign("k2", k2, jwt.MapClaims{"exp": exp, "namespaces": []string{"*"}}))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if fetches.Load() != 2 {
		t.Fatalf("fetches = %d", fetches.Load())
	}
	// HS256 with the public key as secret (alg confusion) is refused.
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": exp, "namespaces": []string{"*"}})
	tok.Header["kid"] = "k2"
	s, _ := tok.SignedString([]byte("secret"))
	if _, err := j.Authenticate(req(s)); err == nil {
		t.Fatal("HS256 accepted")
	}
	// No exp is refused; a claim of the wrong type is refused.
	if _, err := j.Authenticate(req(sign("k2", k2, jwt.MapClaims{"namespaces": []string{"*"}}))); err == nil {
		t.Fatal("token without exp accepted")
	}
	if _, err := j.Authenticate(req(sign("k2", k2, jwt.MapClaims{"exp": exp, "namespaces": []any{1}}))); err == nil {
		t.Fatal("numeric namespaces accepted")
	}
}

func jwk(kid string, k *rsa.PublicKey) []byte {
	b, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}}})
	return b
}
