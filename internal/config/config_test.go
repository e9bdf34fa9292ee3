package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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
		{"", []string{"--trusted-tenant-labels=yes"}, "--trusted-tenant-labels"},
		{"", []string{"--trusted-tenant-labels"}, "--otlp-bearer-token-file"},
		{"", []string{"--otlp-tls-cert-file", "c.pem"}, "--otlp-tls-key-file"},
		{"", []string{"--otlp-tls-client-ca-file", "ca.pem"}, "client certificates need TLS"},
		{"", []string{"--hybrid"}, "--hybrid need --opensearch-url"},
		{"", []string{"--hybrid-opensearch-days", "0"}, "--hybrid-opensearch-days"},
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

// TestTypedValues: booleans, durations, integers, fractions and byte sizes
// are parsed by type from every source, and a bad value names its key.
func TestTypedValues(t *testing.T) {
	file := "observer:\n  telemetry:\n    dualRead: true\n    backend: opensearch\nopensearch:\n  url: http://os:9200\n" +
		"query:\n  maxMemory: 512MiB\n  maxRange: 48h\nrouter:\n  rollback:\n    errorRate: 0.2\n    minRequests: 7\n"
	t.Setenv("OBSPLANE_DUAL_READ_TIMEOUT", "3s")
	c, err := load(t, file, "--shadow-write", "--query-max-rows", "42")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Observer.Telemetry.DualRead || !c.Migration.ShadowWrite.Enabled || c.Query.MaxResultRows != 42 ||
		c.Query.MaxMemory != 512<<20 || c.Query.MaxRange != 48*time.Hour || c.Router.Rollback.ErrorRate != 0.2 ||
		c.Router.Rollback.MinRequests != 7 || c.Router.DualReadTimeout != 3*time.Second {
		t.Fatalf("typed values not applied: %+v", c)
	}
	for _, tc := range []struct {
		file string
		args []string
		want string
	}{
		{"", []string{"--dual-read=maybe"}, "--dual-read"},
		{"", []string{"--query-max-memory", "lots"}, "--query-max-memory"},
		{"", []string{"--query-max-rows", "0"}, "--query-max-rows"},
		{"", []string{"--rollback-error-rate", "5"}, "--rollback-error-rate"},
		{"", []string{"--database", "otel; DROP"}, "--database"},
		{"router:\n  rollback:\n    minRequests: many\n", nil, "router.rollback.minRequests"},
		{"router:\n  rolback:\n    enabled: false\n", nil, "router.rolback.enabled"},
	} {
		_, err := load(t, tc.file, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %q: got %v, want an error mentioning %s", tc.args, tc.file, err, tc.want)
		}
	}
}

// TestEveryKeyHasEverySource: each setting is accepted under its YAML path,
// its environment variable and its flag, and config print shows it.
func TestEveryKeyHasEverySource(t *testing.T) {
	def := Default()
	out := def.Print()
	for _, k := range keys {
		v := k.value(def).String()
		if !strings.Contains(out, k.name+": ") || !strings.Contains(out, "# "+k.path+"\n") {
			t.Errorf("config print lacks %s (%s)", k.name, k.path)
		}
		// The default, spelled out, is valid from each source.
		parts := strings.Split(k.path, ".")
		var y strings.Builder
		for i, p := range parts {
			y.WriteString(strings.Repeat("  ", i) + p + ":")
			if i < len(parts)-1 {
				y.WriteString("\n")
			}
		}
		y.WriteString(" " + strconv.Quote(v) + "\n")
		if _, err := load(t, y.String()); err != nil {
			t.Errorf("%s from YAML %q: %v", k.name, y.String(), err)
		}
		t.Setenv(EnvName(k.name), v)
		if _, err := load(t, ""); err != nil {
			t.Errorf("%s from %s: %v", k.name, EnvName(k.name), err)
		}
		os.Unsetenv(EnvName(k.name))
		if _, err := load(t, "", "--"+k.name+"="+v); err != nil {
			t.Errorf("--%s=%s: %v", k.name, v, err)
		}
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		out  string
	}{{"2GiB", 2 << 30, "2GiB"}, {"1536MiB", 1536 << 20, "1536MiB"}, {"1000", 1000, "1000"}, {"64 KiB", 64 << 10, "64KiB"}} {
		b, err := ParseByteSize(tc.in)
		if err != nil || b != tc.want || b.String() != tc.out {
			t.Errorf("%q: got %d %q %v, want %d %q", tc.in, b, b.String(), err, tc.want, tc.out)
		}
	}
	for _, bad := range []string{"", "2GB", "-1", "1.5GiB", "99999999999TiB"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
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

func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"2GiB", "0", "1KiB", "  7 MiB ", "9223372036854775807", "1TiBB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if b < 0 {
			t.Fatalf("%q parsed to negative %d", s, b)
		}
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Fatalf("%q -> %d -> %q -> %d, %v", s, b, b.String(), back, err)
		}
	})
}

// TestJWTAndListenerSettings: issuer, audience, JWKS and listener limits
// come from YAML, env and flags like every other key.
func TestJWTAndListenerSettings(t *testing.T) {
	file := "jwt:\n  issuer: https://idp.example/\n  audience: observer\n  jwksRefresh: 2m\nlisten:\n  readTimeout: 5s\n  maxConns: 64\n"
	t.Setenv("OBSPLANE_JWT_AUDIENCE", "obsplane,observer")
	t.Setenv("OBSPLANE_LISTEN_WRITE_TIMEOUT", "15s")
	c, err := load(t, file, "--listen-max-conns", "32", "--auth", "jwt", "--jwks-url", "https://idp.example/jwks")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ got, want any }{
		{c.JWT.Issuer, "https://idp.example/"},
		{c.JWT.Audience, "obsplane,observer"},
		{c.JWT.JWKSRefresh, 2 * time.Minute},
		{c.JWT.JWKSWait, 2 * time.Second},
		{c.Listen.ReadTimeout, 5 * time.Second},
		{c.Listen.WriteTimeout, 15 * time.Second},
		{c.Listen.MaxConns, 32},
		{c.Listen.IdleTimeout, 120 * time.Second},
	} {
		if tc.got != tc.want {
			t.Errorf("got %v, want %v", tc.got, tc.want)
		}
	}
}
