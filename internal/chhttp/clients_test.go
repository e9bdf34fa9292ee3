package chhttp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/openchoreo/obsplane/internal/schema"
)

var otelOnce sync.Once

// withOtel gives the store ClickStack's schema and three log lines, two of
// service checkout with "failed" in them.
func withOtel(t *testing.T) {
	t.Helper()
	var err error
	otelOnce.Do(func() {
		ctx := context.Background()
		if _, err = schema.Apply(ctx, st, schema.Options{Database: "otel"}); err != nil {
			return
		}
		err = st.Exec(ctx, `INSERT INTO otel.otel_logs (Timestamp, ServiceName, SeverityText, SeverityNumber, Body, LogAttributes) VALUES
			('2026-03-01 10:00:00', 'checkout', 'ERROR', 17, 'payment failed for order 1', {'order': '1'}),
			('2026-03-01 10:00:01', 'checkout', 'ERROR', 17, 'card check failed', {'order': '2'}),
			('2026-03-01 10:00:02', 'cart', 'INFO', 9, 'cart ok', {})`, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// install runs the pinned installer and returns the path it prints.
func install(t *testing.T, what string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "install-clickhouse-clients.sh"), what)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("install %s: %v", what, err)
	}
	return strings.TrimSpace(string(out))
}

func runClient(t *testing.T, cmd *exec.Cmd, user, pw string, steps ...string) {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "CH_URL=http://"+addr, "CH_USER="+user, "CH_PASSWORD="+pw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
	for _, s := range steps {
		if !strings.Contains(string(out), "ok "+s) {
			t.Fatalf("step %q missing:\n%s", s, out)
		}
	}
	t.Logf("%s", out)
}

// TestHyperDXClient runs HyperDX's connect, schema-browse and search queries
// through @clickhouse/client (npm, pinned), as the admin and as the
// read-only user HyperDX and Grafana get (readonly=2), whose writes and
// reads of files and URLs must be refused.
func TestHyperDXClient(t *testing.T) {
	withOtel(t)
	path, _ := secretFile(t)
	modules := install(t, "js")
	script := filepath.Join(repoRoot(t), "internal", "chhttp", "testdata", "js", "hyperdx.mjs")
	// ESM resolves packages from the script's directory upwards, so the
	// script runs from a copy beside the installed node_modules.
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(filepath.Dir(modules), "hyperdx.mjs")
	if err := os.WriteFile(copied, b, 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"ping", "system.settings", "show databases/tables", "system.tables", "data_skipping_indices",
		"explain estimate", "otel_logs search 2", "multipart params", "settings", "error code", "abort"}
	for _, u := range []struct {
		user, pw, readonly string
		steps              []string
	}{
		{"default", "pw", "0", []string{"insert and stream 1000"}},
		{"viewer", "v", "1", []string{"refused", "stream 1000"}},
	} {
		t.Run(u.user, func(t *testing.T) {
			cmd := exec.Command("node", copied)
			cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "CH_READONLY="+u.readonly, "CH_SECRET_FILE="+path)
			runClient(t, cmd, u.user, u.pw, append(common, u.steps...)...)
		})
	}
}

// TestClickHouseConnect runs the same through clickhouse-connect (PyPI,
// pinned), which reads Native over HTTP, with lz4, zstd and without
// compression, as the admin; and as the read-only user, with HyperDX's
// settings on every request in the session clickhouse-connect opens by
// itself.
func TestClickHouseConnect(t *testing.T) {
	withOtel(t)
	path, _ := secretFile(t)
	python := install(t, "python")
	script := filepath.Join(repoRoot(t), "internal", "chhttp", "testdata", "python", "connect.py")
	common := []string{"version", "hello", "show databases/tables", "system.tables", "otel_logs search 2", "error code"}
	for _, tc := range []struct {
		user, pw, readonly, comp string
		steps                    []string
	}{
		{"default", "pw", "0", "lz4", []string{"native insert 5000"}},
		{"default", "pw", "0", "zstd", []string{"native insert 5000"}},
		{"default", "pw", "0", "false", []string{"native insert 5000"}},
		{"viewer", "v", "1", "lz4", []string{"settings and session", "refused"}},
	} {
		t.Run(tc.user+"/"+tc.comp, func(t *testing.T) {
			cmd := exec.Command(python, script)
			cmd.Env = append(os.Environ(), "CH_COMPRESS="+tc.comp, "CH_READONLY="+tc.readonly, "CH_SECRET_FILE="+path)
			runClient(t, cmd, tc.user, tc.pw, append(common, tc.steps...)...)
		})
	}
}
