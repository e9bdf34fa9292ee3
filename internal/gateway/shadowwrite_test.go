package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/internal/gateway/exporter/opensearchexporter"
	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/opensearch/opensearchtest"
	"github.com/openchoreo/obsplane/internal/router/flags"
	"github.com/openchoreo/obsplane/internal/schema"
)

// sent is one OTLP request of the gate test and what the gate said around
// it: the gate is asked while the request is in the pipeline, so a request
// that found it on before and after must be in OpenSearch, one that found
// it off both times must not, and one that saw it flip may be either (but
// whole, and once).
type sent struct {
	ids           []string
	before, after bool
}

// TestE2EShadowWriteGate runs the built-in pipeline with the dual-write
// exporter gated by the shadow_write flag and flips the flag, through a
// second flag service over the same store (as `migrate shadow-write` does
// from another process), while OTLP logs and traces keep arriving: what was
// sent while on is in OpenSearch exactly once, what was sent while off is
// not, ClickHouse has everything, and the gateway never restarted.
func TestE2EShadowWriteGate(t *testing.T) {
	osURL, skip, err := opensearchtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	if skip != "" {
		t.Skip(skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const db = "gw_shadow"
	if _, err := schema.Apply(ctx, engine, schema.Options{Database: db}); err != nil {
		t.Fatal(err)
	}
	defs := []flags.Definition{{Name: flags.ShadowWrite, Enabled: true}}
	fl, err := flags.New(engine, db, defs, nil, nil) // the gateway process's
	if err != nil {
		t.Fatal(err)
	}
	cli, err := flags.New(engine, db, defs, nil, nil) // the operator's
	if err != nil {
		t.Fatal(err)
	}
	if err := fl.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	defer stopRefresh()
	go fl.Run(refreshCtx, 20*time.Millisecond)

	tel := opensearchexporter.NewTelemetry(nil)
	g := startGatewayExporters(t, db, Params{
		LogExporters: []string{"opensearch"}, TraceExporters: []string{"opensearch"},
		ExporterConfigs: map[string]any{"opensearch": OpenSearchExporterConfig(osURL, true)},
	}, engine, OpenSearchExporter(fl, opensearchexporter.WithTelemetry(tel)))

	conn, err := grpc.NewClient(g.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	logsC, tracesC := plogotlp.NewGRPCClient(conn), ptraceotlp.NewGRPCClient(conn)
	gate := func() bool { f, _ := fl.Get(flags.ShadowWrite); return f.Enabled }

	ns := fmt.Sprintf("shadow-%d", rand.Uint32())
	const requests, perRequest, spansPerRequest, maxFlips = 150, 20, 2, 100
	var logReqs, spanReqs []sent

	// The operator flips the flag every 150ms while the sender sends (at
	// most maxFlips times).
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		on := true
		for range maxFlips {
			select {
			case <-done:
				return
			case <-time.After(150 * time.Millisecond):
			}
			on = !on
			if _, _, err := cli.Update(ctx, flags.ShadowWrite, flags.Change{Enabled: &on}, "test", "flip while sending"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range requests {
		ld, ids := gateLogs(ns, i, perRequest)
		s := sent{ids: ids, before: gate()}
		if _, err := logsC.Export(ctx, plogotlp.NewExportRequestFromLogs(ld)); err != nil {
			t.Fatal(err)
		}
		s.after = gate()
		logReqs = append(logReqs, s)

		td, names := gateTraces(ns, i, spansPerRequest)
		s = sent{ids: names, before: gate()}
		if _, err := tracesC.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td)); err != nil {
			t.Fatal(err)
		}
		s.after = gate()
		spanReqs = append(spanReqs, s)
		time.Sleep(10 * time.Millisecond)
	}
	close(done)
	wg.Wait()

	var onReqs, offReqs int
	for _, s := range append(append([]sent{}, logReqs...), spanReqs...) {
		switch {
		case s.before && s.after:
			onReqs++
		case !s.before && !s.after:
			offReqs++
		}
	}
	if onReqs == 0 || offReqs == 0 {
		t.Fatalf("the flips did not interleave with the sends: %d requests wholly on, %d wholly off", onReqs, offReqs)
	}

	// ClickHouse has every record, whatever the gate said.
	waitCount(t, "SELECT count() AS n FROM "+db+".otel_logs", requests*perRequest)
	waitCount(t, "SELECT count() AS n FROM "+db+".otel_traces", requests*spansPerRequest)

	// Everything queued while on drains, also after the flag ends off.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, pending := tel.Lag(); pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dual-write queue did not drain in 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c, err := opensearch.New(osURL, opensearch.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, []string{"container-logs-*", "otel-traces-*"}, opensearch.RetryOptions{}); err != nil {
		t.Fatal(err)
	}
	inLogs := osField(t, c, "container-logs-*", "kubernetes.labels.openchoreo_dev/namespace", ns, "log")
	inSpans := osField(t, c, "otel-traces-*", "resource.openchoreo.dev/namespace", ns, "name")
	absent := checkGate(t, "log", logReqs, inLogs) + checkGate(t, "span", spanReqs, inSpans)

	// Every record the gate kept out is counted, and nothing else was lost
	// or dropped on the way.
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("off")); int(got) != absent {
		t.Errorf("outcome=off counted %v records, %d are absent from OpenSearch", got, absent)
	}
	if got := testutil.ToFloat64(tel.Docs.WithLabelValues("dropped")); got != 0 {
		t.Errorf("%v records dropped", got)
	}
	g.running(t)
	t.Logf("%d log and %d span requests: %d wholly on, %d wholly off; %d records kept out by the gate", len(logReqs), len(spanReqs), onReqs, offReqs, absent)
}

// checkGate compares what OpenSearch holds (id -> copies) with the requests
// and returns how many records are absent.
func checkGate(t *testing.T, what string, reqs []sent, in map[string]int) (absent int) {
	t.Helper()
	for i, s := range reqs {
		found := 0
		for _, id := range s.ids {
			switch n := in[id]; {
			case n > 1:
				t.Errorf("%s %q is in OpenSearch %d times", what, id, n)
				found++
			case n == 1:
				found++
			}
		}
		absent += len(s.ids) - found
		switch {
		case s.before && s.after && found != len(s.ids):
			t.Errorf("%s request %d was sent while shadow_write was on: %d of %d in OpenSearch", what, i, found, len(s.ids))
		case !s.before && !s.after && found != 0:
			t.Errorf("%s request %d was sent while shadow_write was off: %d of %d in OpenSearch", what, i, found, len(s.ids))
		case found != 0 && found != len(s.ids):
			t.Errorf("%s request %d is split: %d of %d in OpenSearch (the gate decides per batch)", what, i, found, len(s.ids))
		}
	}
	return absent
}

// osField returns how often each value of field occurs in the documents of
// pattern whose term field equals value.
func osField(t *testing.T, c *opensearch.Client, pattern, term, value, field string) map[string]int {
	t.Helper()
	res, err := c.Search(context.Background(), []string{pattern}, map[string]any{
		"size": 10000, "_source": []string{field}, "query": map[string]any{"term": map[string]any{term: value}},
	}, opensearch.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, h := range res.Hits.Hits {
		var doc map[string]any
		if err := json.Unmarshal(h.Source, &doc); err != nil {
			t.Fatal(err)
		}
		v, _ := doc[field].(string)
		out[v]++
	}
	return out
}

func gateLogs(ns string, req, n int) (plog.Logs, []string) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	for k, v := range map[string]string{"openchoreo.namespace": ns, "openchoreo.component": "api", "openchoreo.project": "shop",
		"k8s.namespace.name": "dp-" + ns, "k8s.pod.name": "api-1", "k8s.container.name": "main"} {
		rl.Resource().Attributes().PutStr(k, v)
	}
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := time.Now()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s req=%d rec=%d", ns, req, i)
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Microsecond)))
		lr.Body().SetStr(ids[i])
	}
	return ld, ids
}

func gateTraces(ns string, req, n int) (ptrace.Traces, []string) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("openchoreo.dev/namespace", ns)
	rs.Resource().Attributes().PutStr("service.name", "api")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now()
	names := make([]string, n)
	for i := range n {
		var tid pcommon.TraceID
		var sid pcommon.SpanID
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
		binary.BigEndian.PutUint64(sid[:], rand.Uint64()|1)
		names[i] = fmt.Sprintf("%s req=%d span=%d", ns, req, i)
		sp := spans.AppendEmpty()
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName(names[i])
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(5 * time.Millisecond)))
	}
	return td, names
}
