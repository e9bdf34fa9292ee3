package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func sign(t *testing.T, kid string, k *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwksServer serves the JWKS doc holds; delay, when set, is how long each
// fetch after the first takes.
type jwksServer struct {
	*httptest.Server
	doc     atomic.Value // []byte
	header  atomic.Value // http.Header
	fetches atomic.Int32
	delay   atomic.Int64
	release chan struct{}
}

func newJWKSServer(t *testing.T, doc []byte) *jwksServer {
	s := &jwksServer{release: make(chan struct{})}
	s.doc.Store(doc)
	s.header.Store(http.Header{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := s.fetches.Add(1); n > 1 {
			select {
			case <-time.After(time.Duration(s.delay.Load())):
			case <-s.release:
			}
		}
		for k, v := range s.header.Load().(http.Header) {
			w.Header()[k] = v
		}
		_, _ = w.Write(s.doc.Load().([]byte))
	}))
	t.Cleanup(func() { close(s.release); s.Close() })
	return s
}

// TestJWKSFetchAndRotate serves a JWKS over HTTP, validates a token, then
// rotates the key and checks that an unknown kid triggers a refetch.
func TestJWKSFetchAndRotate(t *testing.T) {
	k1, k2 := rsaKey(t), rsaKey(t)
	srv := newJWKSServer(t, jwk(jwkEntry("k1", &k1.PublicKey)))
	j := NewJWT(NewJWKS(srv.URL, JWKSOptions{MinInterval: time.Nanosecond}), JWTOptions{})
	p, err := j.Authenticate(bearer(sign(t, "k1", k1, jwt.MapClaims{"sub": "a", "namespaces": "ns-a, ns-b"})))
	if err != nil || p.All || len(p.Namespaces) != 2 || !p.Allows("ns-b") || p.Allows("ns-c") {
		t.Fatalf("k1: %+v %v", p, err)
	}
	srv.doc.Store(jwk(jwkEntry("k2", &k2.PublicKey)))
	if _, err := j.Authenticate(bearer(sign(t, "k2", k2, jwt.MapClaims{"namespaces": []string{"*"}}))); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if srv.fetches.Load() != 2 {
		t.Fatalf("fetches = %d", srv.fetches.Load())
	}
	// HS256 with the public key as secret (alg confusion) is refused.
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "namespaces": []string{"*"}})
	tok.Header["kid"] = "k2"
	s, _ := tok.SignedString([]byte("secret"))
	if _, err := j.Authenticate(bearer(s)); err == nil {
		t.Fatal("HS256 accepted")
	}
	// No exp is refused; a claim of the wrong type is refused.
	if _, err := j.Authenticate(bearer(sign(t, "k2", k2, jwt.MapClaims{"exp": nil, "namespaces": []string{"*"}}))); err == nil {
		t.Fatal("token without exp accepted")
	}
	if _, err := j.Authenticate(bearer(sign(t, "k2", k2, jwt.MapClaims{"namespaces": []any{1}}))); err == nil {
		t.Fatal("numeric namespaces accepted")
	}
}

// TestSlowJWKSDoesNotDelayValidTokens: a token with a random kid makes the
// server refetch from an endpoint that takes 8 s to answer; requests with a
// valid token meanwhile are answered from the key set already held, each
// within 100 ms, and the random-kid request itself gives up after Wait.
func TestSlowJWKSDoesNotDelayValidTokens(t *testing.T) {
	k1, other := rsaKey(t), rsaKey(t)
	srv := newJWKSServer(t, jwk(jwkEntry("k1", &k1.PublicKey)))
	srv.delay.Store(int64(8 * time.Second))
	j := NewJWT(NewJWKS(srv.URL, JWKSOptions{MinInterval: time.Nanosecond, Wait: 500 * time.Millisecond}), JWTOptions{})
	valid := sign(t, "k1", k1, jwt.MapClaims{"namespaces": []string{"ns-a"}})
	if _, err := j.Authenticate(bearer(valid)); err != nil { // first fetch, fast
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	var randomErr error
	var randomTook time.Duration
	go func() {
		defer wg.Done()
		t0 := time.Now()
		_, randomErr = j.Authenticate(bearer(sign(t, "random-kid-4711", other, jwt.MapClaims{"namespaces": []string{"*"}})))
		randomTook = time.Since(t0)
	}()
	// Let the random-kid request start its fetch.
	deadline := time.Now().Add(5 * time.Second)
	for srv.fetches.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if srv.fetches.Load() < 2 {
		t.Fatal("the random kid did not trigger a refetch")
	}
	for i := 0; i < 20; i++ {
		t0 := time.Now()
		p, err := j.Authenticate(bearer(valid))
		if took := time.Since(t0); err != nil || took > 100*time.Millisecond {
			t.Fatalf("valid token during the slow fetch: %v after %s (principal %+v)", err, took, p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if randomErr == nil || !strings.Contains(randomErr.Error(), "did not answer within") {
		t.Fatalf("random kid: %v", randomErr)
	}
	if randomTook > 3*time.Second {
		t.Fatalf("random kid waited %s, want about the 500ms Wait", randomTook)
	}
	// More random kids while the fetch still runs start no second fetch.
	for i := 0; i < 5; i++ {
		_, _ = j.Authenticate(bearer(sign(t, fmt.Sprintf("r%d", i), other, jwt.MapClaims{})))
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one in flight, joined by the rest)", n)
	}
}

// TestUnknownKidRefetchesAreRateLimited: tokens with random kids start at
// most one fetch per MinInterval.
func TestUnknownKidRefetchesAreRateLimited(t *testing.T) {
	k1, other := rsaKey(t), rsaKey(t)
	srv := newJWKSServer(t, jwk(jwkEntry("k1", &k1.PublicKey)))
	j := NewJWT(NewJWKS(srv.URL, JWKSOptions{MinInterval: time.Hour}), JWTOptions{})
	if _, err := j.Authenticate(bearer(sign(t, "k1", k1, jwt.MapClaims{}))); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := j.Authenticate(bearer(sign(t, fmt.Sprintf("kid-%d", i), other, jwt.MapClaims{}))); err == nil || !strings.Contains(err.Error(), "no key") {
			t.Fatalf("random kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 50 random kids within MinInterval, want 1", n)
	}
}

// TestIssuerAndAudience: with an issuer and audiences configured, a token
// from another issuer, for another audience, or without either claim is
// refused; without them configured, any iss and aud pass.
func TestIssuerAndAudience(t *testing.T) {
	k1 := rsaKey(t)
	set := StaticJWKS(map[string]any{"k1": &k1.PublicKey})
	strict := NewJWT(set, JWTOptions{Issuer: "https://idp.example/", Audiences: []string{"obsplane", "observer"}})
	for _, tc := range []struct {
		claims jwt.MapClaims
		want   string // "" accepted, else a word of the error
	}{
		{jwt.MapClaims{"iss": "https://idp.example/", "aud": "obsplane"}, ""},
		{jwt.MapClaims{"iss": "https://idp.example/", "aud": []string{"x", "observer"}}, ""},
		{jwt.MapClaims{"iss": "https://evil.example/", "aud": "obsplane"}, "iss"},
		{jwt.MapClaims{"aud": "obsplane"}, "iss"},
		{jwt.MapClaims{"iss": "https://idp.example/", "aud": "grafana"}, "aud"},
		{jwt.MapClaims{"iss": "https://idp.example/"}, "aud"},
	} {
		_, err := strict.Authenticate(bearer(sign(t, "k1", k1, tc.claims)))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v refused: %v", tc.claims, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want an error naming %s", tc.claims, err, tc.want)
		}
	}
	lax := NewJWTWithKeys(set)
	if _, err := lax.Authenticate(bearer(sign(t, "k1", k1, jwt.MapClaims{"iss": "anyone", "aud": "anything"}))); err != nil {
		t.Fatalf("without iss/aud settings: %v", err)
	}
}

// TestRemovedKeyRefusedWithinRefresh: Run refetches on schedule, so a key
// the endpoint stops listing is refused within Refresh (here 1 s), with no
// unknown kid needed to trigger it.
func TestRemovedKeyRefusedWithinRefresh(t *testing.T) {
	k1, k2 := rsaKey(t), rsaKey(t)
	srv := newJWKSServer(t, jwk(jwkEntry("k1", &k1.PublicKey), jwkEntry("k2", &k2.PublicKey)))
	const refresh = time.Second
	k := NewJWKS(srv.URL, JWKSOptions{Refresh: refresh, MinInterval: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = k.Run(ctx) }()
	j := NewJWT(k, JWTOptions{})
	tok1 := sign(t, "k1", k1, jwt.MapClaims{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := j.Authenticate(bearer(tok1)); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.doc.Store(jwk(jwkEntry("k2", &k2.PublicKey))) // k1 revoked
	removed := time.Now()
	for {
		_, err := j.Authenticate(bearer(tok1))
		if err != nil {
			if !strings.Contains(err.Error(), "no key") {
				t.Fatalf("removed key refused for the wrong reason: %v", err)
			}
			break
		}
		if time.Since(removed) > refresh+time.Second {
			t.Fatalf("removed key still accepted %s after removal (refresh %s)", time.Since(removed), refresh)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := j.Authenticate(bearer(sign(t, "k2", k2, jwt.MapClaims{}))); err != nil {
		t.Fatalf("the key still listed: %v", err)
	}
}

// TestCacheHeadersShortenRefresh: max-age below Refresh makes Run refetch
// sooner; above it changes nothing.
func TestCacheHeadersShortenRefresh(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{http.Header{}, 0, false},
		{http.Header{"Cache-Control": {"public, max-age=120"}}, 120 * time.Second, true},
		{http.Header{"Cache-Control": {"max-age=120"}, "Age": {"100"}}, 20 * time.Second, true},
		{http.Header{"Cache-Control": {"no-store"}}, 0, true},
		{http.Header{"Cache-Control": {"max-age=x"}}, 0, true},
		{http.Header{"Expires": {now.Add(time.Minute).Format(http.TimeFormat)}, "Date": {now.Format(http.TimeFormat)}}, time.Minute, true},
	} {
		got, ok := cacheLifetime(tc.h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%v: %s %v, want %s %v", tc.h, got, ok, tc.want, tc.ok)
		}
	}

	k1 := rsaKey(t)
	srv := newJWKSServer(t, jwk(jwkEntry("k1", &k1.PublicKey)))
	srv.header.Store(http.Header{"Cache-Control": {"max-age=1"}})
	k := NewJWKS(srv.URL, JWKSOptions{Refresh: time.Hour, MinInterval: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = k.Run(ctx) }()
	time.Sleep(2500 * time.Millisecond)
	if n := srv.fetches.Load(); n < 2 || n > 4 {
		t.Fatalf("%d fetches in 2.5 s with max-age=1, want about 3", n)
	}
}

// TestRefusedBodyIsNotRead: a request refused by the middleware is answered
// at once and its connection closed, without waiting for its body.
func TestRefusedBodyIsNotRead(t *testing.T) {
	j := NewJWTWithKeys(StaticJWKS(map[string]any{}))
	srv := httptest.NewServer(Middleware(j, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached without a token")
	}), func(w http.ResponseWriter, msg string) { http.Error(w, msg, http.StatusUnauthorized) }))
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte("{")) }() // the rest never comes
	req, _ := http.NewRequest("POST", srv.URL, pr)
	t0 := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || !res.Close || time.Since(t0) > 2*time.Second {
		t.Fatalf("%d %v after %s", res.StatusCode, res.Header, time.Since(t0))
	}
}

func jwkEntry(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
	}
}

func jwk(keys ...map[string]string) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}
