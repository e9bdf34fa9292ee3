package bench

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// VictoriaLogs is the peer log store of the benchmark: the real
// victoria-logs binary (scripts/install-victorialogs.sh builds it from its
// Go module at a pinned version), run on loopback with its own data
// directory, fed the same OTLP/protobuf requests as obsplane.
type VictoriaLogs struct {
	URL     string
	Dir     string
	Version string
	cmd     *exec.Cmd
	client  *http.Client
}

// VLStreamFields are the stream fields VictoriaLogs is told to use: the
// OpenChoreo labels, which is how its docs say to pick them (few values,
// present on every line, what queries select by).
var VLStreamFields = []string{"openchoreo.namespace", "openchoreo.project", "openchoreo.component", "openchoreo.environment"}

// StartVictoriaLogs runs bin with its data under dir (emptied first) on a
// free loopback port and waits until it answers.
func StartVictoriaLogs(ctx context.Context, bin, dir string) (*VictoriaLogs, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	// The benchmark's data is dated in the past; retention must keep it.
	cmd := exec.Command(bin, "-storageDataPath="+filepath.Join(dir, "data"), "-httpListenAddr="+addr,
		"-retentionPeriod=100y", "-loggerLevel=WARN", "-search.maxQueryDuration=5m")
	logf, err := os.Create(filepath.Join(dir, "victoria-logs.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	vl := &VictoriaLogs{URL: "http://" + addr, Dir: dir, cmd: cmd, client: &http.Client{Timeout: 10 * time.Minute}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := vl.get(ctx, "/health"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			vl.Stop()
			return nil, fmt.Errorf("victoria-logs did not answer on %s within 30 s (log: %s)", addr, logf.Name())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The module version the binary was built from (go install records it).
	if bi, err := buildinfo.ReadFile(bin); err == nil {
		vl.Version = bi.Main.Version
	}
	return vl, nil
}

// Stop ends the process.
func (v *VictoriaLogs) Stop() {
	if v.cmd != nil && v.cmd.Process != nil {
		_ = v.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = v.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = v.cmd.Process.Kill()
			<-done
		}
		v.cmd = nil
	}
}

func (v *VictoriaLogs) do(req *http.Request) ([]byte, error) {
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return b, fmt.Errorf("victoria-logs %s %s: %d %.300s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return b, nil
}

func (v *VictoriaLogs) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.URL+path, nil)
	if err != nil {
		return nil, err
	}
	return v.do(req)
}

// SendOTLP posts one OTLP/protobuf logs request, OpenChoreo labels as
// stream fields.
func (v *VictoriaLogs) SendOTLP(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+"/insert/opentelemetry/v1/logs", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("VL-Stream-Fields", strings.Join(VLStreamFields, ","))
	_, err = v.do(req)
	return err
}

// Query runs a LogsQL query and returns its JSON lines.
func (v *VictoriaLogs) Query(ctx context.Context, q string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+"/select/logsql/query", strings.NewReader(url.Values{"query": {q}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// Count returns the number of stored logs (all time).
func (v *VictoriaLogs) Count(ctx context.Context) (int, error) {
	b, err := v.Query(ctx, "* | stats count() n")
	if err != nil {
		return 0, err
	}
	var r struct{ N string }
	if err := json.Unmarshal(bytes.TrimSpace(b), &r); err != nil {
		return 0, fmt.Errorf("victoria-logs count: %w (%q)", err, b)
	}
	return strconv.Atoi(r.N)
}

// Compact flushes buffered rows and merges every partition into as few
// parts as it can (the /internal/force_merge of its docs), then waits
// until no merge runs, so its size on disk is the size after merges.
func (v *VictoriaLogs) Compact(ctx context.Context) error {
	if _, err := v.get(ctx, "/internal/force_flush"); err != nil {
		return err
	}
	if _, err := v.get(ctx, "/internal/force_merge"); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		b, err := v.get(ctx, "/metrics")
		if err != nil {
			return err
		}
		busy := false
		for _, l := range strings.Split(string(b), "\n") {
			if (strings.HasPrefix(l, "vl_active_force_merges ") || strings.HasPrefix(l, "vl_active_merges{")) && !strings.HasSuffix(l, " 0") {
				busy = true
			}
		}
		if !busy {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("victoria-logs: merges still running after 10 min")
}

// DiskBytes is the size of the data directory.
func (v *VictoriaLogs) DiskBytes() (int64, error) {
	return dirBytes(filepath.Join(v.Dir, "data"))
}

func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}
