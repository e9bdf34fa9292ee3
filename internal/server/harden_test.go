package server_test

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksFixture serves a JWKS of one RSA key and signs tokens with it.
type jwksFixture struct {
	url  string
	key  *rsa.PrivateKey
	sign func(claims jwt.MapClaims) string
}

func newJWKSFixture(t *testing.T) *jwksFixture {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "use": "sig",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	t.Cleanup(srv.Close)
	return &jwksFixture{url: srv.URL, key: key, sign: func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}}
}

// TestServeEnforcesIssuerAudienceAndReadTimeout: serve with --jwt-issuer
// and --jwt-audience refuses tokens of another issuer or audience on :8080
// and on the adapter ports, and cuts a slow request body off at
// --listen-read-timeout.
func TestServeEnforcesIssuerAudienceAndReadTimeout(t *testing.T) {
	f := newJWKSFixture(t)
	httpAddr, logsAddr := freePort(t), freePort(t)
	_, logs := startServe(t, httpAddr, "--data", t.TempDir(), "--auth", "jwt", "--adapter-auth", "jwt", "--jwks-url", f.url,
		"--jwt-issuer", "https://idp.example/", "--jwt-audience", "obsplane,observer",
		"--logs-adapter-addr", logsAddr, "--listen-read-timeout", "2s")
	if strings.Contains(logs.String(), "JWT ISSUER OR AUDIENCE NOT CHECKED") {
		t.Fatalf("warned although both are set:\n%s", logs)
	}
	good := f.sign(jwt.MapClaims{"iss": "https://idp.example/", "aud": "observer", "namespaces": []string{"ns-a"}})
	for _, tc := range []struct {
		tok  string
		code int
		word string
	}{
		{good, 200, ""},
		{f.sign(jwt.MapClaims{"iss": "https://other.example/", "aud": "observer", "namespaces": []string{"*"}}), 401, "iss"},
		{f.sign(jwt.MapClaims{"iss": "https://idp.example/", "aud": "grafana", "namespaces": []string{"*"}}), 401, "aud"},
		{f.sign(jwt.MapClaims{"namespaces": []string{"*"}}), 401, "iss"},
	} {
		code, body := getWithToken(t, "http://"+httpAddr+"/api/logs", tc.tok)
		if code != tc.code || !strings.Contains(body, tc.word) {
			t.Errorf(":8080 %d %s, want %d naming %q", code, body, tc.code, tc.word)
		}
		req, _ := http.NewRequest("POST", "http://"+logsAddr+"/api/v1/logs/query", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tc.tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if (tc.code == 401) != (res.StatusCode == 401) {
			t.Errorf("logs adapter: %d for a token :8080 answers %d", res.StatusCode, tc.code)
		}
	}

	// A PPL request with a valid token whose body trickles in.
	c, err := net.Dial("tcp", httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"query":"source=logs"}`
	start := time.Now()
	fmt.Fprintf(c, "POST /api/v1/ppl HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", good, len(body))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(body); i++ {
			if _, err := c.Write([]byte{body[i]}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("no answer to a slow body after %s: %v", took, err)
	}
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || took < 1500*time.Millisecond || took > 6*time.Second {
		t.Fatalf("slow body: %d %s after %s, want 408 after about 2s", res.StatusCode, b, took)
	}

	code, metrics := get(t, "http://"+httpAddr+"/metrics")
	if code != 200 || !strings.Contains(metrics, `obsplane_jwks_fetches_total{result="ok"}`) || !strings.Contains(metrics, "obsplane_jwks_keys 1") {
		t.Fatalf("JWKS metrics missing:\n%.2000s", metrics)
	}
}

// TestServeWarnsWithoutIssuerAndAudience: JWT auth without --jwt-issuer and
// --jwt-audience starts, and says loudly that any token of the JWKS passes.
func TestServeWarnsWithoutIssuerAndAudience(t *testing.T) {
	f := newJWKSFixture(t)
	httpAddr := freePort(t)
	_, logs := startServe(t, httpAddr, "--data", t.TempDir(), "--auth", "jwt", "--jwks-url", f.url)
	if !strings.Contains(logs.String(), "JWT ISSUER OR AUDIENCE NOT CHECKED") {
		t.Fatalf("no warning:\n%s", logs)
	}
}
