package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tool runs one of scripts/install-*.sh and returns the path it prints.
func tool(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join("..", "..", "scripts", script)).Output()
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return strings.TrimSpace(string(out))
}

// TestSchemathesis runs schemathesis (pinned, scripts/schemathesis.lock)
// against /api/openapi.json of a serve with telemetry in it: every request
// the document allows must be accepted, every one it forbids refused with a
// 4xx, every answer must match the document, undeclared methods must be
// 405 with Allow, and nothing may be a 5xx. SCHEMATHESIS_TIME bounds the
// run (default 90s). What a JSON Schema cannot state (constraints between
// parameters, the grammars of cursor, q and PPL) is in
// scripts/schemathesis/obsplane_hooks.py and schemathesis.toml.
func TestSchemathesis(t *testing.T) {
	st := tool(t, "install-schemathesis.sh")
	tgen := tool(t, "install-telemetrygen.sh")
	httpAddr, grpcAddr := freePort(t), freePort(t)
	startServe(t, httpAddr, "--data", t.TempDir(), "--otlp-grpc-addr", grpcAddr)
	for _, args := range [][]string{
		{"logs", "--logs", "200", "--body", "level=error schemathesis fixture"},
		{"traces", "--traces", "50", "--child-spans", "2", "--batch=false"},
	} {
		args = append(args, "--otlp-endpoint", grpcAddr, "--otlp-insecure", "--rate", "0")
		if out, err := exec.Command(tgen, args...).CombinedOutput(); err != nil {
			t.Fatalf("telemetrygen %v: %v\n%s", args, err, out)
		}
	}
	budget := os.Getenv("SCHEMATHESIS_TIME")
	if budget == "" {
		budget = "90"
	}
	hooks, err := filepath.Abs(filepath.Join("..", "..", "scripts", "schemathesis"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(st, "--config-file", filepath.Join(hooks, "schemathesis.toml"), "run", "http://"+httpAddr+"/api/openapi.json", "--checks", "all",
		"--workers", "2", "--max-time", budget, "--seed", "15", "--no-color")
	// The hooks state what the document cannot: constraints between
	// parameters and the grammars of cursor, q and PPL.
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=obsplane_hooks", "PYTHONPATH="+hooks)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("schemathesis ran %s", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("schemathesis found failures (%v):\n%s", err, out)
	}
	if i := strings.LastIndex(string(out), "Test cases:"); i >= 0 {
		t.Logf("%s", strings.TrimSpace(string(out[i:])))
	}
}
