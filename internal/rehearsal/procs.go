package rehearsal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// lockedBuffer collects a child's output; the process writes while the
// harness reads its tail.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// server is the running `obsplane serve` the rehearsal migrates.
type server struct {
	HTTP, OTLPGRPC, Forward, ClickHouseHTTP string
	// LogsAdapter and TracingAdapter are the APIs the Observer reads
	// through; the rehearsal's reads go there.
	LogsAdapter, TracingAdapter string
	cmd                         *exec.Cmd
	out                         *lockedBuffer
	logFile                     *os.File
	done                        chan error
}

// startServe runs `obsplane serve` with every listener on a free loopback
// port, the OpenSearch being migrated from as the primary backend, and the
// migration's timings shortened so a rehearsal takes minutes.
func startServe(ctx context.Context, cfg Config, osURL string) (*server, error) {
	s := &server{out: &lockedBuffer{}, done: make(chan error, 1)}
	addrs := map[string]*string{"http": &s.HTTP, "grpc": &s.OTLPGRPC, "fwd": &s.Forward, "ch": &s.ClickHouseHTTP,
		"logs": &s.LogsAdapter, "tracing": &s.TracingAdapter}
	other := make([]string, 3)
	// Every port is held until all are chosen, so no two listeners are
	// given the same one.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	pick := func() (string, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		held = append(held, l)
		return l.Addr().String(), nil
	}
	for _, p := range addrs {
		a, err := pick()
		if err != nil {
			return nil, err
		}
		*p = a
	}
	for i := range other {
		a, err := pick()
		if err != nil {
			return nil, err
		}
		other[i] = a
	}
	for _, l := range held {
		l.Close()
	}
	held = nil
	args := []string{"serve", "--data", filepath.Join(cfg.Work, "data"),
		"--http-addr", s.HTTP, "--otlp-grpc-addr", s.OTLPGRPC, "--otlp-http-addr", other[0],
		"--forward-addr", s.Forward, "--remote-write-addr", other[1], "--logs-adapter-addr", s.LogsAdapter,
		"--tracing-adapter-addr", s.TracingAdapter, "--metrics-adapter-addr", other[2],
		"--clickhouse-http-addr", s.ClickHouseHTTP,
		"--opensearch-url", osURL, "--backend", "opensearch",
		// Every read the rehearsal makes is also answered by the other
		// backend and compared: the console's latency chart and the
		// router's mismatch samples come from these.
		"--dual-read",
		"--flag-refresh", cfg.FlagRefresh.String(),
		// Short auto-rollback windows: a trigger that fires during the
		// ramp halts the cutover within seconds, as it would in hours.
		"--rollback-check-interval", cfg.RollbackCheck.String(),
		"--rollback-eval-window", cfg.RollbackWindow.String(),
		"--rollback-error-rate-for", cfg.RollbackWindow.String(),
		"--rollback-latency-for", cfg.RollbackWindow.String(),
		"--log-format", "json",
	}
	args = append(args, cfg.ServeArgs...)
	logPath := filepath.Join(cfg.Work, "serve.log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	s.logFile = f
	s.cmd = exec.Command(cfg.Obsplane, args...)
	s.cmd.Stdout = io.MultiWriter(s.out, f)
	s.cmd.Stderr = io.MultiWriter(s.out, f)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s serve: %w", cfg.Obsplane, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	deadline := time.Now().Add(cfg.StartTimeout)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			return nil, fmt.Errorf("obsplane serve exited during start: %v (log %s)\n%s", err, logPath, tail(s.out.String(), 30))
		case <-ctx.Done():
			s.stop(10 * time.Second)
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		if code, _ := httpGet(ctx, "http://"+s.HTTP+"/readyz"); code == http.StatusOK {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop(10 * time.Second)
			return nil, fmt.Errorf("obsplane serve not ready within %v (log %s)\n%s", cfg.StartTimeout, logPath, tail(s.out.String(), 30))
		}
	}
}

// alive reports an error when serve has exited.
func (s *server) alive() error {
	select {
	case err := <-s.done:
		s.done <- err
		return fmt.Errorf("obsplane serve exited: %v\n%s", err, tail(s.out.String(), 30))
	default:
		return nil
	}
}

// stop sends SIGTERM (serve drains its queues into the store) and kills
// only after grace.
func (s *server) stop(grace time.Duration) error {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	defer s.logFile.Close()
	if s.alive() != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		return errors.New("obsplane serve did not stop within " + grace.String() + "; killed")
	}
}

func httpGet(ctx context.Context, url string) (int, []byte) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// openSearchScript runs scripts/opensearch.sh with the rehearsal's own port
// and home, and returns what it printed last (the URL for start).
func openSearchScript(ctx context.Context, cfg Config, arg string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(cfg.Repo, "scripts", "opensearch.sh"), arg)
	cmd.Env = append(os.Environ(), "OPENSEARCH_PORT="+cfg.OpenSearchPort, "OPENSEARCH_HOME_DIR="+cfg.OpenSearchHome)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/opensearch.sh %s (port %s, home %s): %w", arg, cfg.OpenSearchPort, cfg.OpenSearchHome, err)
	}
	f := strings.Fields(out.String())
	if len(f) == 0 {
		return "", nil
	}
	return f[len(f)-1], nil
}
