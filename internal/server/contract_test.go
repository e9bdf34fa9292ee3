package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/openchoreo/obsplane/internal/servetest"
)

// TestAPIsAnswerGatewayIngestedData ingests through the real gateway — a
// Fluent Bit forward frame from an OpenChoreo pod, OTLP logs and an OTLP
// trace — and reads it back through the OpenChoreo logs and tracing adapter
// contracts and the obsplane API, as the Observer and occ would: once on
// the embedded store, once on the remote store (clickhouse-go over HTTP)
// pointed at a second obsplane's ClickHouse HTTP interface, so every path
// runs the same both ways.
func TestAPIsAnswerGatewayIngestedData(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { apisAnswerGatewayIngestedData(t) })
	t.Run("remote", func(t *testing.T) {
		chAddr := freePort(t)
		startServe(t, freePort(t), "--data", t.TempDir(), "--clickhouse-http-addr", chAddr)
		apisAnswerGatewayIngestedData(t, "--clickhouse-dsn", "http://default@"+chAddr+"/otel")
	})
}

func apisAnswerGatewayIngestedData(t *testing.T, storeArgs ...string) {
	data := t.TempDir()
	grpcAddr, fwdAddr, httpAddr, logsAddr, tracesAddr := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	startServe(t, httpAddr, append([]string{"--data", data, "--otlp-grpc-addr", grpcAddr,
		"--forward-addr", fwdAddr, "--logs-adapter-addr", logsAddr, "--tracing-adapter-addr", tracesAddr}, storeArgs...)...)

	ns := fmt.Sprintf("org-%d", rand.Uint32())
	now := time.Now().UTC().Truncate(time.Millisecond)
	traceID := pcommon.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, byte(rand.Uint32())}
	res := map[string]string{"service.name": "api", "openchoreo.namespace": ns, "openchoreo.project": "shop",
		"openchoreo.component": "api", "openchoreo.environment": "development", "k8s.namespace.name": "dp-" + ns, "k8s.pod.name": "api-0"}
	servetest.SendOrderTrace(t, grpcAddr, res, traceID, now.Add(-time.Minute), 3)
	// Fluent Bit's forward output: Message mode, the kubernetes filter's
	// record, OpenChoreo's pod labels.
	servetest.SendForward(t, fwdAddr, "kube.var.log.containers.api-0.log", now.Add(-30*time.Second), map[string]any{
		"log": "ERROR connection to db lost", "stream": "stderr",
		"kubernetes": map[string]any{"pod_name": "api-0", "namespace_name": "dp-" + ns, "container_name": "main", "host": "node-1",
			"labels": map[string]any{"openchoreo.dev/namespace": ns, "openchoreo.dev/component": "api", "openchoreo.dev/project": "shop",
				"openchoreo.dev/environment": "development"}},
	}, "c1")

	rng := map[string]any{"startTime": now.Add(-time.Hour).Format(time.RFC3339), "endTime": now.Add(time.Minute).Format(time.RFC3339)}
	logsReq := map[string]any{"searchScope": map[string]any{"namespace": ns}, "sortOrder": "asc"}
	for k, v := range rng {
		logsReq[k] = v
	}
	var lr struct {
		Logs []struct {
			Log, Level string
			Metadata   map[string]string
		}
		Total int
	}
	// The adapter counts and lists in two statements, so while the gateway
	// is still writing a poll can see the count ahead of the lines; wait
	// until both agree.
	eventually(t, "logs adapter sees 4 lines", func() bool {
		return post(t, "http://"+logsAddr+"/api/v1/logs/query", logsReq, &lr) == 200 && lr.Total == 4 && len(lr.Logs) == 4
	})
	if len(lr.Logs) != 4 {
		t.Fatalf("logs adapter: total %d but %d lines", lr.Total, len(lr.Logs))
	}
	last := lr.Logs[3]
	if last.Log != "ERROR connection to db lost" || last.Level != "ERROR" || last.Metadata["componentName"] != "api" || last.Metadata["podName"] != "api-0" {
		t.Errorf("forward line through the logs adapter: %+v", last)
	}
	tracesReq := map[string]any{"searchScope": map[string]any{"namespace": ns}}
	for k, v := range rng {
		tracesReq[k] = v
	}
	var tr struct {
		Traces []struct {
			TraceID   string `json:"traceId"`
			SpanCount int    `json:"spanCount"`
			HasErrors bool   `json:"hasErrors"`
		}
		Total int
	}
	eventually(t, "tracing adapter sees the trace", func() bool {
		return post(t, "http://"+tracesAddr+"/api/v1alpha1/traces/query", tracesReq, &tr) == 200 && tr.Total == 1
	})
	if tr.Traces[0].TraceID != traceID.String() || tr.Traces[0].SpanCount != 2 || !tr.Traces[0].HasErrors {
		t.Errorf("trace summary: %+v", tr.Traces[0])
	}
	var sp struct {
		Spans []map[string]any `json:"spans"`
	}
	if code := post(t, "http://"+tracesAddr+"/api/v1alpha1/traces/"+traceID.String()+"/spans/query", tracesReq, &sp); code != 200 || len(sp.Spans) != 2 {
		t.Errorf("spans of the trace: %d %v", code, sp.Spans)
	}
	var byID struct {
		Spans []map[string]any `json:"spans"`
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/traces/"+traceID.String(), &byID); code != 200 || len(byID.Spans) != 2 {
		t.Errorf("/api/traces/{id}: %d %v", code, byID)
	}
	var corr struct {
		Logs []map[string]any `json:"logs"`
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/traces/"+traceID.String()+"/logs", &corr); code != 200 || len(corr.Logs) != 3 {
		t.Errorf("logs of the trace: %d %v", code, corr)
	}
	var api struct {
		Logs []map[string]any `json:"logs"`
	}
	if code := getJSON(t, "http://"+httpAddr+"/api/logs?namespace="+ns+"&component=api&level=ERROR&since=2h", &api); code != 200 || len(api.Logs) != 1 {
		t.Errorf("/api/logs level=ERROR: %d %v", code, api)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func post(t *testing.T, url string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, rb)
		}
	} else {
		t.Logf("%s: %d %.600s", url, resp.StatusCode, rb)
	}
	return resp.StatusCode
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, rb)
		}
	} else {
		t.Logf("%s: %d %s", url, resp.StatusCode, rb)
	}
	return resp.StatusCode
}
