package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tryTelemetrygen runs telemetrygen and returns its output and error
// instead of failing: refused sends are what some tests expect.
func tryTelemetrygen(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(telemetrygen(t), args...).CombinedOutput()
	return string(out), err
}

// TestE2ETrustedTenantLabels: with a bearer token on OTLP and trusted tenant
// labels, telemetrygen without the token is refused; with it, the tenant
// labels it sets itself (openchoreo.namespace, openchoreo.dev/namespace) are
// dropped and only the pod labels a k8sattributes collector would add count;
// on the forward port only Fluent Bit's kubernetes record counts, not
// flattened keys an application's JSON line could smuggle in.
func TestE2ETrustedTenantLabels(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-ingest-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, "gw_trust", Params{TrustedLabels: true, OTLPAuth: OTLPAuth{BearerTokenFile: tokenFile}})
	spoofed := []string{"--otlp-attributes", `openchoreo.namespace="ns-b"`, "--otlp-attributes", `openchoreo.dev/namespace="ns-b"`,
		"--otlp-attributes", `openchoreo.project="bank"`}
	auth := []string{"--otlp-header", `Authorization="Bearer s3cret-ingest-token"`}

	// No token, a wrong token: refused over gRPC and HTTP.
	for _, args := range [][]string{
		{"logs", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--logs", "2", "--body", "no token"},
		{"logs", "--otlp-endpoint", g.http, "--otlp-http", "--otlp-insecure", "--logs", "2", "--body", "no token"},
		{"logs", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--logs", "2", "--body", "no token", "--otlp-header", `Authorization="Bearer guess"`},
	} {
		// A short timeout: a refused send is retried until it.
		if out, err := tryTelemetrygen(t, append(args, "--timeout", "2s")...); err == nil {
			t.Errorf("telemetrygen %v succeeded:\n%s", args, out)
		}
	}

	// With the token: accepted, the spoofed labels dropped.
	runTelemetrygen(t, append(append([]string{"logs", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--rate", "0", "--logs", "20", "--body", "spoofed over grpc"}, auth...), spoofed...)...)
	runTelemetrygen(t, append(append([]string{"logs", "--otlp-endpoint", g.http, "--otlp-http", "--otlp-insecure", "--rate", "0", "--logs", "20", "--body", "spoofed over http"}, auth...), spoofed...)...)
	// As a collector agent running k8sattributes sends it: the pod label
	// is believed, the spoofed openchoreo.* beside it still is not.
	runTelemetrygen(t, append(append([]string{"traces", "--otlp-endpoint", g.grpc, "--otlp-insecure", "--rate", "0", "--traces", "10", "--batch=false",
		"--otlp-attributes", `k8s.pod.label.openchoreo.dev/namespace="ns-a"`}, auth...), spoofed...)...)

	// Forward: a record with the kubernetes filter's map plus a flattened
	// key from the app's merged JSON, and one with only the flattened key.
	now := time.Now()
	rec := fluentRecord("api-0", "api", "fluent bit line")
	rec["kubernetes.labels.openchoreo.dev/namespace"] = "ns-b"
	sendAcked(t, g.forward, mp(t, []any{"kube.x", eventTime(now), rec, map[string]any{"chunk": "t1"}}), "t1")
	sendAcked(t, g.forward, mp(t, []any{"kube.x", eventTime(now), map[string]any{"log": "smuggled line",
		"kubernetes.labels.openchoreo.dev/namespace": "ns-b", "kubernetes.pod_name": "evil-0"}, map[string]any{"chunk": "t2"}}), "t2")

	waitCount(t, "SELECT count() AS n FROM gw_trust.otel_logs", 20+20+2)
	waitCount(t, "SELECT count() AS n FROM gw_trust.otel_traces", 20)
	for _, tc := range []struct{ sql string }{
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE Body = 'no token'"},
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE OpenChoreoNamespace = 'ns-b' OR OpenChoreoProject = 'bank'"},
		{"SELECT count() AS n FROM gw_trust.otel_traces WHERE OpenChoreoNamespace != 'ns-a'"},
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE Body LIKE 'spoofed%' AND OpenChoreoNamespace != ''"},
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE Body = 'fluent bit line' AND OpenChoreoNamespace != 'default-org'"},
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE Body = 'smuggled line' AND OpenChoreoNamespace != ''"},
		{"SELECT count() AS n FROM gw_trust.otel_logs WHERE mapContains(ResourceAttributes, 'openchoreo.dev/namespace')"},
	} {
		if n := count(t, tc.sql); n != 0 {
			t.Errorf("%s: %d rows", tc.sql, n)
		}
	}
	g.running(t)
}

// TestE2EOTLPMutualTLS: with a server certificate and a client CA, only a
// sender presenting a certificate signed by that CA gets data in.
func TestE2EOTLPMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	leaf(t, dir, "server", ca, caKey, true)
	leaf(t, dir, "client", ca, caKey, false)
	other, otherKey := newCA(t)
	leaf(t, dir, "stranger", other, otherKey, false)

	g := startGateway(t, "gw_mtls", Params{OTLPAuth: OTLPAuth{CertFile: filepath.Join(dir, "server.pem"),
		KeyFile: filepath.Join(dir, "server-key.pem"), ClientCAFile: filepath.Join(dir, "ca.pem")}})
	base := []string{"logs", "--otlp-endpoint", g.grpc, "--ca-cert", filepath.Join(dir, "ca.pem"), "--logs", "5", "--rate", "0"}
	for _, args := range [][]string{
		append(base, "--body", "no client cert", "--timeout", "2s"),
		append(base, "--body", "stranger cert", "--timeout", "2s", "--mtls",
			"--client-cert", filepath.Join(dir, "stranger.pem"), "--client-key", filepath.Join(dir, "stranger-key.pem")),
	} {
		if out, err := tryTelemetrygen(t, args...); err == nil {
			t.Errorf("telemetrygen %v succeeded:\n%s", args, out)
		}
	}
	runTelemetrygen(t, append(base, "--body", "client cert", "--mtls",
		"--client-cert", filepath.Join(dir, "client.pem"), "--client-key", filepath.Join(dir, "client-key.pem"))...)
	waitCount(t, "SELECT count() AS n FROM gw_mtls.otel_logs", 5)
	if n := count(t, "SELECT count() AS n FROM gw_mtls.otel_logs WHERE Body != 'client cert'"); n != 0 {
		t.Fatalf("%d rows from senders without a valid client certificate", n)
	}
	g.running(t)
}

// TestDefaultConfigRefusesUnauthenticatedTrust: trusted labels with an open
// OTLP port would believe any sender's pod labels, so the config is refused.
func TestDefaultConfigRefusesUnauthenticatedTrust(t *testing.T) {
	_, err := DefaultConfig(Params{TrustedLabels: true})
	if err == nil || !strings.Contains(err.Error(), "bearer token or client certificates") {
		t.Fatalf("trusted labels on open OTLP: %v", err)
	}
	if _, err := DefaultConfig(Params{TrustedLabels: true, OTLPGRPCAddr: Off, OTLPHTTPAddr: Off}); err != nil {
		t.Fatalf("trusted labels, forward only: %v", err)
	}
	if _, err := DefaultConfig(Params{OTLPAuth: OTLPAuth{ClientCAFile: "ca.pem"}}); err == nil {
		t.Fatal("client CA without a server certificate accepted")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func leaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, server bool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(dir, name+"-key.pem"), "EC PRIVATE KEY", kb)
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
