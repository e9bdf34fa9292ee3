package rehearsal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Reads bounds the reads the rehearsal makes in each phase through the APIs
// the Observer uses (the logs adapter's logs query, the tracing adapter's
// traces query). serve runs with --dual-read, so each read is answered by
// both backends and compared: that feeds the console's latency chart and
// the router's mismatch samples.
type Reads struct {
	// PerPhase is how many rounds (a logs and a traces query each) a phase
	// makes at most; Every the pause between rounds.
	PerPhase int
	Every    time.Duration
}

// window is a time range both stores hold the same records of; the reads
// ask for it, so the two answers must agree.
type window struct {
	From, To time.Time
	What     string // what it holds, for the output
	// Logs and Traces are what it holds (lines, traces), as the harness
	// counted them; -1 unknown.
	Logs, Traces int
}

// readResult is one phase's reads.
type readResult struct {
	Logs, Traces  int // reads answered 200
	Failed        []string
	LogsTotal     int // the last logs read's total
	TracesTotal   int
	Window        window
	Before, After map[string]float64 // obsplane_router_dualread_total by outcome
}

// readLoop reads win through the adapters every cfg.Reads.Every until ctx
// ends or PerPhase rounds are done.
func (r *runner) readLoop(ctx context.Context, win window, res *readResult) {
	res.Window = win
	body, _ := json.Marshal(map[string]any{
		"startTime": win.From.UTC().Format(time.RFC3339Nano), "endTime": win.To.UTC().Format(time.RFC3339Nano),
		"searchScope": map[string]any{"namespace": "default-org"}, "limit": 1000,
	})
	for i := 0; i < r.cfg.Reads.PerPhase; i++ {
		if i > 0 && !wait(ctx, r.cfg.Reads.Every) {
			return
		}
		for _, q := range []struct {
			url   string
			n     *int
			total *int
		}{
			{"http://" + r.srv.LogsAdapter + "/api/v1/logs/query", &res.Logs, &res.LogsTotal},
			{"http://" + r.srv.TracingAdapter + "/api/v1alpha1/traces/query", &res.Traces, &res.TracesTotal},
		} {
			total, err := postRead(ctx, q.url, body)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				if len(res.Failed) < 5 {
					res.Failed = append(res.Failed, err.Error())
				}
				continue
			}
			*q.n++
			*q.total = total
		}
	}
}

func postRead(ctx context.Context, url string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, tail(string(b), 3))
	}
	var out struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, fmt.Errorf("POST %s: %v", url, err)
	}
	return out.Total, nil
}

// dualReads sums serve's obsplane_router_dualread_total by outcome (match,
// mismatch, incomparable, error, unsupported).
func dualReads(ctx context.Context, httpAddr string) (map[string]float64, error) {
	code, body := httpGet(ctx, "http://"+httpAddr+"/metrics")
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: status %d: %s", code, tail(string(body), 3))
	}
	return parseDualReads(string(body))
}

func parseDualReads(text string) (map[string]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	out := map[string]float64{}
	f, ok := fams["obsplane_router_dualread_total"]
	if !ok {
		return out, nil
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "outcome" {
				out[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return out, nil
}

// Line is the phase's reads in one line for the output.
func (rr *readResult) Line() string {
	d := func(k string) int { return int(rr.After[k] - rr.Before[k]) }
	s := fmt.Sprintf("reads (dual read) of %s [%s, %s], holding %d lines and %d traces: %d logs queries (total %d), %d traces queries (total %d); compared: %d match, %d mismatch, %d incomparable, %d error, %d unsupported",
		rr.Window.What, rr.Window.From.UTC().Format("15:04:05.000"), rr.Window.To.UTC().Format("15:04:05.000"),
		rr.Window.Logs, rr.Window.Traces, rr.Logs, rr.LogsTotal, rr.Traces, rr.TracesTotal, d("match"), d("mismatch"), d("incomparable"), d("error"), d("unsupported"))
	if len(rr.Failed) > 0 {
		s += "; failed: " + strings.Join(rr.Failed, " | ")
	}
	return s
}

// mismatchSamples is serve's newest dual-read mismatch samples, a line
// each: when, which backends, how they differ.
func mismatchSamples(ctx context.Context, httpAddr string, limit int) string {
	code, body := httpGet(ctx, fmt.Sprintf("http://%s/api/v1/router/mismatches?limit=%d", httpAddr, limit))
	if code != http.StatusOK {
		return fmt.Sprintf("GET /api/v1/router/mismatches: %d %s", code, tail(string(body), 3))
	}
	var m struct {
		Mismatches []struct {
			Op, Primary, Secondary, Detail string
			At                             time.Time
			Kinds                          []string
		}
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Sprintf("GET /api/v1/router/mismatches: %v", err)
	}
	var lines []string
	for _, x := range m.Mismatches {
		lines = append(lines, fmt.Sprintf("  %s %s: primary %s, secondary %s: %s: %s", x.At.Format("15:04:05.000"), x.Op, x.Primary, x.Secondary,
			strings.Join(x.Kinds, ","), x.Detail))
	}
	return strings.Join(lines, "\n")
}

// migrationLatency is the part of GET /api/v1/migration the console's
// latency chart draws.
type migrationLatency struct {
	Latency *struct {
		DualRead   bool `json:"dualRead"`
		ClickHouse struct {
			Requests uint64  `json:"requests"`
			P50Ms    float64 `json:"p50Ms"`
		} `json:"clickhouse"`
		OpenSearch struct {
			Requests uint64  `json:"requests"`
			P50Ms    float64 `json:"p50Ms"`
		} `json:"opensearch"`
		Series []json.RawMessage `json:"series"`
	} `json:"latency"`
}

// checkLatency asks GET /api/v1/migration for the router's latency and
// fails unless both backends answered reads in its window, charted in at
// least one point.
func (r *runner) checkLatency(ctx context.Context) (string, error) {
	code, body := httpGet(ctx, "http://"+r.srv.HTTP+"/api/v1/migration")
	if code != http.StatusOK {
		return "", fmt.Errorf("GET /api/v1/migration: %d %s", code, tail(string(body), 3))
	}
	var m migrationLatency
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("GET /api/v1/migration: %v", err)
	}
	l := m.Latency
	if l == nil {
		return "", fmt.Errorf("GET /api/v1/migration has no latency (no router?)")
	}
	s := fmt.Sprintf("console latency (GET /api/v1/migration): dual read %v, ClickHouse %d reads (P50 %.1f ms), OpenSearch %d reads (P50 %.1f ms), %d chart points",
		l.DualRead, l.ClickHouse.Requests, l.ClickHouse.P50Ms, l.OpenSearch.Requests, l.OpenSearch.P50Ms, len(l.Series))
	if !l.DualRead || l.ClickHouse.Requests == 0 || l.OpenSearch.Requests == 0 || len(l.Series) == 0 {
		return s, fmt.Errorf("the console's latency lacks reads on both backends: %s", s)
	}
	return s, nil
}
