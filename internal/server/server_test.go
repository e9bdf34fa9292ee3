package server_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run the real binary: what they check (signals, a second
// process, exit codes) only exists across processes.

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "obsplane-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "obsplane")
	out, err := exec.Command("go", "build", "-o", bin, "../../cmd/obsplane").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build obsplane: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// listenersOff turns every listener but the HTTP one off; flags given after
// it win, so a test turns on only what it uses.
var listenersOff = []string{"--logs-adapter-addr", "off", "--tracing-adapter-addr", "off", "--otlp-grpc-addr", "off",
	"--otlp-http-addr", "off", "--forward-addr", "off", "--clickhouse-http-addr", "off",
	"--remote-write-addr", "off", "--metrics-adapter-addr", "off"}

// startServe runs obsplane serve with HTTP on httpAddr, every other
// listener off unless args turn it on, and waits until /readyz answers 200.
// The process is killed when the test ends; its log is returned.
func startServe(t *testing.T, httpAddr string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string{"serve", "--http-addr", httpAddr}, listenersOff...), args...)...)
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, &logs
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("obsplane never became ready:\n%s", logs.String())
	return nil, nil
}

// serve starts obsplane serve on data with every listener but HTTP off.
func serve(t *testing.T, data string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	addr := freePort(t)
	cmd, logs := startServe(t, addr, "--data", data)
	return cmd, addr, logs
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return getWithToken(t, url, "")
}

// getWithToken GETs url with a bearer token ("" for none).
func getWithToken(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthMetricsAndCleanShutdown(t *testing.T) {
	data := t.TempDir()
	cmd, addr, logs := serve(t, data)
	if code, _ := get(t, "http://"+addr+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	code, body := get(t, "http://"+addr+"/metrics")
	if code != 200 || !strings.Contains(body, "obsplane_store_up 1") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics %d:\n%.500s", code, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30 s after SIGTERM\n%s", logs)
	}
	if !strings.Contains(logs.String(), "store closed") {
		t.Fatalf("shutdown did not close the store:\n%s", logs)
	}
}

func TestSecondProcessOnSameDataDirIsRefused(t *testing.T) {
	data := t.TempDir()
	first, _, _ := serve(t, data)
	out, err := exec.Command(bin, append([]string{"serve", "--data", data, "--http-addr", freePort(t)}, listenersOff...)...).CombinedOutput()
	if err == nil {
		t.Fatal("second serve on the same data directory started")
	}
	if want := fmt.Sprintf("in use by pid %d", first.Process.Pid); !strings.Contains(string(out), want) {
		t.Fatalf("got %q, want it to say %q", out, want)
	}
}

func TestKill9ThenRestartOnSameData(t *testing.T) {
	data := t.TempDir()
	first, _, _ := serve(t, data)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	// The lock died with the process: a new one starts on the same data.
	_, addr, _ := serve(t, data)
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("readyz after restart: %d", code)
	}
}

func TestBadInputIsOneLineAndLeavesDataAlone(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--data", data, "--http-addr", "nonsense"}, "--http-addr"},
		{[]string{"serve", "--data", data, "--chdb-lib", "/no/such/libchdb.so"}, "install-chdb.sh"},
		{[]string{"serve", "--clickhouse-dsn", "ftp://host/x"}, "scheme"},
		{[]string{"serve", "--data", data, "--auth", "maybe"}, "--auth"},
		{[]string{"serve", "--no-such-flag"}, "unknown flag"},
		{[]string{"serve", "--data", notADir, "--http-addr", "off", "--logs-adapter-addr", "off", "--tracing-adapter-addr", "off",
			"--otlp-grpc-addr", "off", "--otlp-http-addr", "off", "--forward-addr", "off", "--clickhouse-http-addr", "off",
			"--remote-write-addr", "off", "--metrics-adapter-addr", "off"}, "data directory"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err == nil {
			t.Errorf("%v: exit 0", tc.args)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		last := lines[len(lines)-1]
		if !strings.Contains(last, tc.want) {
			t.Errorf("%v: got %q, want it to mention %q", tc.args, out, tc.want)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("%v: created %s", tc.args, data)
		}
	}
}
