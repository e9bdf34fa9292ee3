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
// through @clickhouse/client (npm, pinned), as the read-only user HyperDX
// and Grafana get (readonly=2) and as the admin.
func TestHyperDXClient(t *testing.T) {
	withOtel(t)
	modules := install(t, "js")
	script := filepath.Join(repoRoot(t), "internal", "chhttp", "testdata", "js", "hyperdx.mjs")
	for _, u := range [][2]string{{"default", "pw"}} {
		cmd := exec.Command("node", script)
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		// ESM resolves packages from the script's directory upwards, so the
		// script runs from a copy beside the installed node_modules.
		dir := filepath.Dir(modules)
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "hyperdx.mjs"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd.Args[1] = filepath.Join(dir, "hyperdx.mjs")
		runClient(t, cmd, u[0], u[1], "ping", "system.settings", "show databases/tables", "system.tables", "data_skipping_indices",
			"explain estimate", "otel_logs search 2", "multipart params", "insert and stream 1000", "error code", "abort")
	}
}

// TestClickHouseConnect runs the same through clickhouse-connect (PyPI,
// pinned), which reads Native over HTTP, with lz4 and without compression.
func TestClickHouseConnect(t *testing.T) {
	withOtel(t)
	python := install(t, "python")
	script := filepath.Join(repoRoot(t), "internal", "chhttp", "testdata", "python", "connect.py")
	for _, comp := range []string{"lz4", "zstd", "false"} {
		cmd := exec.Command(python, script)
		cmd.Env = append(os.Environ(), "CH_COMPRESS="+comp)
		runClient(t, cmd, "default", "pw", "version", "hello", "show databases/tables", "system.tables", "otel_logs search 2", "native insert 5000", "error code")
	}
}

// TestViewerHyperDX: the read-only user Grafana and HyperDX get
// (readonly=2) reads with their settings, and the engine refuses its writes.
func TestViewerHyperDX(t *testing.T) {
	withOtel(t)
	python := install(t, "python")
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(python, "-c", `
import os, clickhouse_connect
c = clickhouse_connect.get_client(host=os.environ["H"], port=int(os.environ["P"]), username="viewer", password="v")
print("count", c.query("SELECT count() FROM otel.otel_logs WHERE hasToken(Body, 'failed')", settings={"max_threads": 2}).result_rows[0][0])
try:
    c.command("DROP TABLE otel.otel_logs")
    print("dropped")
except Exception as e:
    print("refused", "READONLY" in str(e))
`)
	cmd.Env = append(os.Environ(), "H="+host, "P="+port)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "count 2") || !strings.Contains(string(out), "refused True") {
		t.Fatalf("%v\n%s", err, out)
	}
}
