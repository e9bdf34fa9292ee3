package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func load(t *testing.T, file string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	RegisterFlags(fs)
	if file != "" {
		p := filepath.Join(t.TempDir(), "obsplane.yaml")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", p)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return Load(fs)
}

func TestPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	file := "listen:\n  http: 127.0.0.1:1111\n  forward: 127.0.0.1:2222\n  otlpGRPC: 127.0.0.1:3333\ndata: /from/file\n"
	t.Setenv("OBSPLANE_FORWARD_ADDR", "127.0.0.1:4444")
	t.Setenv("OBSPLANE_OTLP_GRPC_ADDR", "off")
	c, err := load(t, file, "--otlp-grpc-addr", "127.0.0.1:5555")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{c.Listen.HTTP, "127.0.0.1:1111"},     // file over default
		{c.Listen.Forward, "127.0.0.1:4444"},  // env over file
		{c.Listen.OTLPGRPC, "127.0.0.1:5555"}, // flag over env
		{c.DataDir, "/from/file"},
		{c.Listen.OTLPHTTP, ":4318"}, // default
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestBadInputNamesTheSetting(t *testing.T) {
	for _, tc := range []struct {
		file string
		args []string
		want string
	}{
		{"", []string{"--http-addr", "8080"}, "--http-addr"},
		{"", []string{"--auth", "jwt"}, "--jwks-url"},
		{"", []string{"--components", "gateway,ui"}, `"ui"`},
		{"", []string{"--clickhouse-dsn", "mysql://h/db"}, "scheme"},
		{"", []string{"--clickhouse-dsn", "clickhouse:///otel"}, "no host"},
		{"", []string{"--retention-delete", "13 months"}, "--retention-delete"},
		{"", []string{"--log-level", "loud"}, "--log-level"},
		{"", []string{"--listen-read-timeout", "0s"}, "--listen-read-timeout"},
		{"", []string{"--listen-max-conns", "many"}, "--listen-max-conns"},
		{"", []string{"--jwks-refresh", "-1m"}, "--jwks-refresh"},
		{"", []string{"--jwks-url", "file:///etc/jwks.json"}, "--jwks-url"},
		{"", []string{"--trusted-tenant-labels", "yes"}, "--trusted-tenant-labels"},
		{"", []string{"--trusted-tenant-labels", "true"}, "--otlp-bearer-token-file"},
		{"", []string{"--otlp-tls-cert-file", "c.pem"}, "--otlp-tls-key-file"},
		{"", []string{"--otlp-tls-client-ca-file", "ca.pem"}, "client certificates need TLS"},
		{"listen:\n  htp: x\n", nil, "htp"},
		{"data: [1, 2\n", nil, "config"},
	} {
		_, err := load(t, tc.file, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %q: got %v, want an error mentioning %s", tc.args, tc.file, err, tc.want)
		}
	}
}

func TestPrintMasksSecrets(t *testing.T) {
	c, err := load(t, "", "--clickhouse-dsn", "clickhouse://otel:hunter2@ch:9000/otel")
	if err != nil {
		t.Fatal(err)
	}
	out := c.Print()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "otel:***@ch:9000") {
		t.Fatalf("print:\n%s", out)
	}
}

func TestHas(t *testing.T) {
	c := Default()
	if !c.Has("gateway") || !c.Has("query") {
		t.Fatal("all must include every component")
	}
	c.Components = "gateway"
	if c.Has("query") || !c.Has("gateway") {
		t.Fatal("gateway only")
	}
}

func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"clickhouse://u:p@h:9000/otel", "http://h:8123", "tcp://h", "://", "clickhouse://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		u, err := ParseDSN(dsn)
		if err == nil && (u.Host == "" || u.Scheme == "") {
			t.Fatalf("accepted %q without host or scheme", dsn)
		}
		if err != nil {
			if pw := passwordOf(dsn); len(pw) > 3 && strings.Contains(err.Error(), pw) {
				t.Fatalf("error for %q leaks the password: %v", dsn, err)
			}
		}
	})
}

func passwordOf(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	i := strings.Index(dsn, "://")
	if at < 0 || i < 0 || i+3 > at {
		return ""
	}
	if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
		return dsn[i+3+c+1 : at]
	}
	return ""
}

// TestJWTAndListenerSettings: issuer, audience, JWKS and listener limits
// come from YAML, env and flags like every other key.
func TestJWTAndListenerSettings(t *testing.T) {
	file := "jwtIssuer: https://idp.example/\njwtAudience: observer\njwksRefresh: 2m\nlisten:\n  readTimeout: 5s\n  maxConns: 64\n"
	t.Setenv("OBSPLANE_JWT_AUDIENCE", "obsplane,observer")
	t.Setenv("OBSPLANE_LISTEN_WRITE_TIMEOUT", "15s")
	c, err := load(t, file, "--listen-max-conns", "32", "--auth", "jwt", "--jwks-url", "https://idp.example/jwks")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want string }{
		{c.JWTIssuer, "https://idp.example/"},
		{c.JWTAudience, "obsplane,observer"},
		{c.JWKSRefresh, "2m"},
		{c.JWKSWait, "2s"},
		{c.Listen.ReadTimeout, "5s"},
		{c.Listen.WriteTimeout, "15s"},
		{c.Listen.MaxConns, "32"},
		{c.Listen.IdleTimeout, "120s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, k := range []string{"jwt-issuer: ", "jwt-audience: ", "listen-read-timeout: ", "jwks-refresh: "} {
		if !strings.Contains(c.Print(), k) {
			t.Errorf("config print lacks %s", k)
		}
	}
}
