package rehearsal

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/fluent/fluent-logger-golang/fluent"
)

// Source is one stream of live records the rehearsal sends and counts.
type Source string

const (
	OTLPLogs    Source = "logs/otlp"
	ForwardLogs Source = "logs/forward"
	OTLPTraces  Source = "traces/otlp"
	// History sources are the documents seeded into OpenSearch for the
	// backfill.
	HistoryLogs   Source = "logs/history"
	HistoryTraces Source = "traces/history"
)

// Load bounds the live traffic of one phase: counts and rates are fixed, so
// every loop ends.
type Load struct {
	OTLPLogs, ForwardLogs, Traces int
	// Rate is records (spans for traces) per second per source; 0 is not
	// allowed (an unthrottled burst is not live traffic).
	Rate float64
}

// sent is what one source's client reports: records offered and records
// the gateway acknowledged to it.
type sent struct {
	Sent, Acked int
	Err         error
}

// telemetrygen sends n logs or traces over OTLP/gRPC, tagged with the pod
// name, one export per record (--batch=false), so an exit 0 of the logs
// run means each record was acknowledged. Traces export errors do not
// fail telemetrygen; the gateway's accepted counters count those.
func telemetrygen(ctx context.Context, bin, endpoint, signal, tag string, n int, rate float64) sent {
	args := []string{signal, "--otlp-endpoint", endpoint, "--otlp-insecure", "--workers", "1",
		"--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--batch=false",
		"--otlp-attributes", `k8s.pod.name="` + tag + `"`,
		"--otlp-attributes", `k8s.namespace.name="` + rehearsalNamespace + `"`,
		"--otlp-attributes", `openchoreo.dev/namespace="default-org"`,
		"--service", "rehearsal",
		"--telemetry-attributes", `rehearsal.source="` + tag + `"`,
	}
	want := n
	switch signal {
	case "logs":
		args = append(args, "--logs", strconv.Itoa(n), "--body", "rehearsal "+tag)
	case "traces":
		// Each trace is a parent and one child span.
		args = append(args, "--traces", strconv.Itoa((n+1)/2), "--child-spans", "1")
		want = (n + 1) / 2 * 2
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(float64(want)/rate*float64(time.Second))+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return sent{Sent: want, Err: fmt.Errorf("telemetrygen %s: %v\n%s", signal, err, tail(out.String(), 15))}
	}
	res := sent{Sent: want, Acked: want}
	// The SDK's simple span processor reports a failed export on stderr
	// and goes on; every such line is a span not acknowledged.
	if signal == "traces" {
		if k := strings.Count(out.String(), "traces export"); k > 0 {
			res.Err = fmt.Errorf("telemetrygen traces: %d export errors\n%s", k, tail(out.String(), 15))
			res.Acked = -1 // unknown: the gateway's counters tell
		}
	}
	return res
}

// forwardLogs sends n Fluent Bit-shaped container lines over the forward
// protocol with the fluent-logger client, each waiting for its ack
// (RequestAck, as Fluent Bit's Require_ack_response). Every body carries
// the tag and the record's number, the record's unique id.
func forwardLogs(ctx context.Context, addr, tag string, n int, rate float64) sent {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return sent{Sent: n, Err: err}
	}
	port, _ := strconv.Atoi(portText)
	logger, err := fluent.New(fluent.Config{FluentHost: host, FluentPort: port, RequestAck: true,
		Timeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxRetry: 3})
	if err != nil {
		return sent{Sent: n, Err: fmt.Errorf("fluent-logger: %w", err)}
	}
	defer logger.Close()
	res := sent{Sent: n}
	every := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i := 0; i < n; i++ {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				res.Err = ctx.Err()
				return res
			case <-time.After(d):
			}
		}
		next = next.Add(every)
		rec := map[string]any{
			"log":    fmt.Sprintf("%s line %06d", tag, i),
			"stream": "stdout",
			"logtag": "F",
			"kubernetes": map[string]any{
				"pod_name":       tag,
				"namespace_name": rehearsalNamespace,
				"host":           "rehearsal-node",
				"container_name": "main",
				"labels": map[string]any{
					"openchoreo.dev/component":   "rehearsal",
					"openchoreo.dev/project":     "default-project",
					"openchoreo.dev/environment": "development",
					"openchoreo.dev/namespace":   "default-org",
				},
			},
		}
		if err := logger.PostWithTime("kube.var.log.containers."+tag+".log", time.Now(), rec); err != nil {
			res.Err = fmt.Errorf("forward record %d: %w", i, err)
			continue
		}
		res.Acked++
	}
	return res
}

// rehearsalNamespace is the Kubernetes namespace every rehearsal record
// names (an OpenChoreo data-plane namespace's shape).
const rehearsalNamespace = "dp-default-org-default-project-development-rehearsal"
