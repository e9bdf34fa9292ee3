// Package servetest runs the real obsplane binary for the tests of what ships
// around it — the Prometheus rules, the Grafana dashboards, backups, the
// container image: the binary is built once per test process, serves on free
// loopback ports, and is fed with telemetrygen, the collector project's load
// generator.
package servetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds ./cmd/obsplane once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := opensearchtest.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "obsplane-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "obsplane")
		cmd := exec.Command("go", "build", "-trimpath", "-o", buildPath, "./cmd/obsplane")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Cleanup removes the binary Binary built; a TestMain calls it after m.Run.
func Cleanup() {
	if buildPath != "" {
		_ = os.RemoveAll(filepath.Dir(buildPath))
	}
}

// FreePort returns a loopback address with a port free at the time of the
// call.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Options configure Start.
type Options struct {
	// Data is the data directory; a temporary one when empty.
	Data string
	// Args are more flags for `obsplane serve`.
	Args []string
	// Env is added to the process environment.
	Env []string
	// ClickHouseHTTP serves the ClickHouse HTTP interface on a free port.
	ClickHouseHTTP bool
}

// Server is a running `obsplane serve`. Addresses are host:port.
type Server struct {
	HTTP, OTLPGRPC, OTLPHTTP, Forward, RemoteWrite              string
	LogsAdapter, TracingAdapter, MetricsAdapter, ClickHouseHTTP string
	Data                                                        string

	*Process
}

// Start runs `obsplane serve` with every listener on a free loopback port
// and waits until /readyz says ready. The process is stopped when the test
// ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{
		HTTP: FreePort(t), OTLPGRPC: FreePort(t), OTLPHTTP: FreePort(t), Forward: FreePort(t),
		RemoteWrite: FreePort(t), LogsAdapter: FreePort(t), TracingAdapter: FreePort(t), MetricsAdapter: FreePort(t),
		Data: o.Data,
	}
	if s.Data == "" {
		s.Data = filepath.Join(t.TempDir(), "data")
	}
	ch := "off"
	if o.ClickHouseHTTP {
		s.ClickHouseHTTP = FreePort(t)
		ch = s.ClickHouseHTTP
	}
	args := append([]string{"serve", "--data", s.Data,
		"--http-addr", s.HTTP, "--otlp-grpc-addr", s.OTLPGRPC, "--otlp-http-addr", s.OTLPHTTP,
		"--forward-addr", s.Forward, "--remote-write-addr", s.RemoteWrite, "--logs-adapter-addr", s.LogsAdapter,
		"--tracing-adapter-addr", s.TracingAdapter, "--metrics-adapter-addr", s.MetricsAdapter,
		"--clickhouse-http-addr", ch}, o.Args...)
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), o.Env...)
	s.Process = StartProcess(t, "serve", cmd, 2*time.Minute, func() bool {
		code, _ := s.get("/readyz")
		return code == http.StatusOK
	})
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) get(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Get fetches a path of the obsplane API port and fails the test on a
// transport error.
func (s *Server) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	code, body := s.get(path)
	if code == 0 {
		t.Fatalf("GET %s: %s", path, body)
	}
	return code, body
}

// Stop sends SIGTERM and waits for a clean exit (the gateway flushes its
// queues into the store first). Stopping twice is a no-op.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.Process.Stop(90 * time.Second); err != nil {
		t.Errorf("obsplane serve: %v after SIGTERM\n%s", err, tail(s.Output(), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Telemetrygen returns the path of the pinned telemetrygen
// (scripts/install-telemetrygen.sh installs it once; TELEMETRYGEN overrides).
func Telemetrygen(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TELEMETRYGEN"); p != "" {
		return p
	}
	root, err := opensearchtest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "install-telemetrygen.sh")).Output()
	if err != nil {
		t.Fatalf("install telemetrygen: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// Send runs telemetrygen (logs, traces or metrics, then its flags) against
// the server's OTLP gRPC port, unthrottled unless args say otherwise.
func (s *Server) Send(t testing.TB, signal string, args ...string) {
	t.Helper()
	full := append([]string{signal, "--otlp-endpoint", s.OTLPGRPC, "--otlp-insecure", "--rate", "0"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Telemetrygen(t), full...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("telemetrygen %v: %v\n%s", full, err, tail(out.String(), 20))
	}
}
