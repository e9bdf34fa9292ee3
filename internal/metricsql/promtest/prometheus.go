package promtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Binary installs (if needed) and returns the pinned Prometheus binary.
func Binary() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "install-prometheus.sh")
	out, err := exec.Command(script).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: %v\n%s", script, err, ee.Stderr)
		}
		return "", fmt.Errorf("%s: %w", script, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Job is one scrape job.
type Job struct {
	Name, Target, Path string
}

// Jobs are the example cluster's scrape jobs at target (host:port).
func Jobs(target string) []Job {
	return []Job{{Name: "kube-state-metrics", Target: target, Path: "/ksm"}, {Name: "cadvisor", Target: target, Path: "/cadvisor"}, {Name: "hubble", Target: target, Path: "/hubble"}}
}

// Config is what the Prometheus under test runs with.
type Config struct {
	// Dir holds the config file and the TSDB.
	Dir string
	// ScrapeInterval of every job.
	ScrapeInterval time.Duration
	Jobs           []Job
	// RemoteWriteURL, when set, gets every sample (remote write 1.0).
	RemoteWriteURL string
	// Receiver turns on Prometheus's own remote write receiver (the
	// benchmark writes the same samples into it and into obsplane).
	Receiver bool
	// Retention keeps data this long (default 15d).
	Retention time.Duration
}

// Prometheus is a running Prometheus on a loopback port.
type Prometheus struct {
	URL  string
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Start runs Prometheus with c and waits until it is ready.
func Start(ctx context.Context, c Config) (*Prometheus, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var y strings.Builder
	fmt.Fprintf(&y, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: 1m\n", c.ScrapeInterval, c.ScrapeInterval*9/10)
	if len(c.Jobs) > 0 {
		y.WriteString("scrape_configs:\n")
		for _, j := range c.Jobs {
			fmt.Fprintf(&y, "  - job_name: %q\n    honor_timestamps: true\n    metrics_path: %q\n    static_configs:\n      - targets: [%q]\n", j.Name, j.Path, j.Target)
		}
	}
	if c.RemoteWriteURL != "" {
		fmt.Fprintf(&y, "remote_write:\n  - url: %q\n    queue_config:\n      batch_send_deadline: 1s\n      max_samples_per_send: 2000\n      min_backoff: 30ms\n      max_backoff: 1s\n    metadata_config:\n      send: true\n      send_interval: 10s\n", c.RemoteWriteURL)
	}
	cfgFile := filepath.Join(c.Dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(y.String()), 0o644); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	retention := c.Retention
	if retention == 0 {
		retention = 15 * 24 * time.Hour
	}
	args := []string{"--config.file=" + cfgFile, "--storage.tsdb.path=" + filepath.Join(c.Dir, "data"),
		"--web.listen-address=" + addr, "--storage.tsdb.retention.time=" + strconv.Itoa(int(retention.Hours())) + "h", "--log.level=warn"}
	if c.Receiver {
		args = append(args, "--web.enable-remote-write-receiver")
	}
	logf, err := os.Create(filepath.Join(c.Dir, "prometheus.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	p := &Prometheus{URL: "http://" + addr, cmd: cmd, done: make(chan error, 1), log: logf}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("prometheus exited: %v\n%s", err, b)
		case <-ctx.Done():
			p.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			return nil, errors.New("prometheus not ready after 60s")
		}
	}
}

// SelfMetrics returns Prometheus's own metrics whose names start with
// prefix, as exposition lines (for failure messages).
func (p *Prometheus) SelfMetrics(prefix string) string {
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Log returns what Prometheus logged so far.
func (p *Prometheus) Log() string {
	b, _ := os.ReadFile(p.log.Name())
	return string(b)
}

// Stop ends Prometheus.
func (p *Prometheus) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.log.Close()
}

// Series is one series of a query result.
type Series struct {
	Metric map[string]string
	Points []Point
}

// Point is a value at a time.
type Point struct {
	T time.Time
	V float64
}

// QueryRange runs query_range and returns every series.
func (p *Prometheus) QueryRange(ctx context.Context, q string, start, end time.Time, step time.Duration) ([]Series, error) {
	v := url.Values{"query": {q}, "start": {formatTime(start)}, "end": {formatTime(end)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	return p.api(ctx, "/api/v1/query_range", v)
}

// Query runs an instant query at t.
func (p *Prometheus) Query(ctx context.Context, q string, t time.Time) ([]Series, error) {
	return p.api(ctx, "/api/v1/query", url.Values{"query": {q}, "time": {formatTime(t)}})
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func (p *Prometheus) api(ctx context.Context, path string, v url.Values) ([]Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", path, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus %s: %s", path, body.Error)
	}
	var out []Series
	for _, r := range body.Data.Result {
		s := Series{Metric: r.Metric}
		vals := r.Values
		if len(vals) == 0 && r.Value[0] != nil {
			vals = [][2]any{r.Value}
		}
		for _, pv := range vals {
			ts, _ := pv[0].(float64)
			str, _ := pv[1].(string)
			f, err := strconv.ParseFloat(str, 64)
			if err != nil {
				return nil, fmt.Errorf("prometheus %s: value %q: %w", path, str, err)
			}
			s.Points = append(s.Points, Point{T: time.UnixMilli(int64(ts*1000 + 0.5)).UTC(), V: f})
		}
		out = append(out, s)
	}
	return out, nil
}
