package bench

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// GatewayResult holds the end-to-end ingestion figures.
type GatewayResult struct {
	Logs, PerRequest, Clients int
	EndToEnd                  time.Duration // first send -> every row queryable
	Send                      time.Duration // first send -> last acknowledgement
	EngineInsertSelect        time.Duration // the engine's own INSERT ... SELECT of the same rows
	Err                       string
}

// Gateway measures sustained OTLP logs ingestion through the in-process
// gateway (receiver -> memory_limiter -> openchoreo -> batch ->
// clickhousestore -> engine) until every row is queryable, with the load
// generator on the same machine: the collector's own OTLP gRPC client
// sending requests of perRequest records from clients goroutines. In the same
// run it times the engine copying the ingested rows with INSERT ... SELECT,
// the raw insert rate the gateway is held to.
func Gateway(ctx context.Context, st *chdb.Store, dataDir string, logs, perRequest, clients int, progress func(string)) (*GatewayResult, error) {
	res := &GatewayResult{Logs: logs, PerRequest: perRequest, Clients: clients}
	if err := freshLogTables(ctx, st, "bench_copy"); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	yaml, err := gateway.DefaultConfig(gateway.Params{OTLPGRPCAddr: addr, OTLPHTTPAddr: gateway.Off, ForwardAddr: gateway.Off, DataDir: dataDir})
	if err != nil {
		return nil, err
	}
	gctx, stop := context.WithCancel(ctx)
	defer stop()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- gateway.Run(gctx, gateway.Settings{Store: st, ConfigYAML: yaml, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		return nil, fmt.Errorf("gateway: %w", err)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("gateway not ready after 60 s")
	}

	// Requests are built before the clock starts: the generator's cost is
	// not the gateway's.
	nreq := (logs + perRequest - 1) / perRequest
	reqs := make([]plogotlp.ExportRequest, nreq)
	start := time.Now().Add(-time.Hour)
	for i := range reqs {
		n := min(perRequest, logs-i*perRequest)
		reqs[i] = plogotlp.NewExportRequestFromLogs(otlpLogs(n, i*perRequest, start))
	}
	progress(fmt.Sprintf("gateway: sending %d logs in %d requests from %d clients", logs, nreq, clients))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	next := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// Back-pressure answers are retryable; a real client retries.
				for attempt := 0; ; attempt++ {
					_, err := client.Export(ctx, reqs[i])
					if err == nil {
						break
					}
					if attempt == 50 {
						errs <- err
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Send = time.Since(t0)
	select {
	case err := <-errs:
		return nil, fmt.Errorf("send: %w", err)
	default:
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if err := expectCount(ctx, st, "otel_logs", logs); err == nil {
			break
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("rows not all queryable after 5 min: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.EndToEnd = time.Since(t0)
	stop()
	if err := <-done; err != nil {
		return nil, err
	}
	if res.EngineInsertSelect, err = engineCopy(ctx, st, progress); err != nil {
		return nil, err
	}
	return res, nil
}

// otlpLogs builds n log records shaped like Fluent Bit/SDK output from
// OpenChoreo workloads: eight components across three namespaces, one
// resource per component.
func otlpLogs(n, offset int, start time.Time) plog.Logs {
	ld := plog.NewLogs()
	comps := []string{"gateway", "orders", "payments", "catalog", "users", "search", "cart", "auth"}
	byComp := map[string]plog.LogRecordSlice{}
	for _, c := range comps {
		rl := ld.ResourceLogs().AppendEmpty()
		a := rl.Resource().Attributes()
		ns := []string{"default", "acme", "globex"}[len(c)%3]
		a.PutStr("service.name", c)
		a.PutStr("k8s.namespace.name", "dp-"+ns+"-"+c)
		a.PutStr("k8s.pod.name", c+"-7d9f8b6c5-x2x9z")
		a.PutStr("k8s.container.name", c)
		a.PutStr("openchoreo.namespace", ns)
		a.PutStr("openchoreo.project", "shop")
		a.PutStr("openchoreo.component", c)
		a.PutStr("openchoreo.environment", "development")
		byComp[c] = rl.ScopeLogs().AppendEmpty().LogRecords()
	}
	words := strings.Fields("request served user order payment timeout cache miss db query retry connection reset upstream latency")
	for i := range n {
		j := offset + i
		lr := byComp[comps[j%len(comps)]].AppendEmpty()
		ts := start.Add(time.Duration(j) * time.Microsecond)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.SetSeverityText("INFO")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		var b strings.Builder
		fmt.Fprintf(&b, "%s INFO", ts.Format(time.RFC3339Nano))
		for w := 0; w < 10; w++ {
			b.WriteByte(' ')
			b.WriteString(words[(j*7+w*3)%len(words)])
		}
		fmt.Fprintf(&b, " id=%d", j)
		lr.Body().SetStr(b.String())
		lr.Attributes().PutStr("log.iostream", "stdout")
	}
	return ld
}

// Markdown renders the gateway section of docs/BENCHMARKS.md.
func (r *GatewayResult) Markdown(cmd string) string {
	var b strings.Builder
	e2e := rate(r.Logs, r.EndToEnd)
	eng := rate(r.Logs, r.EngineInsertSelect)
	fmt.Fprintf(&b, "## Ingestion, end to end (OTLP in -> rows queryable)\n\n")
	fmt.Fprintf(&b, "Measured %s (%s); load generator on the same machine: the collector's OTLP gRPC client, %d clients, %d records per request, %d logs in all; gateway in-process on the embedded store with its persistent queue. Reproduce: `%s`.\n\n",
		time.Now().UTC().Format("2006-01-02"), Machine(), r.Clients, r.PerRequest, r.Logs, cmd)
	fmt.Fprintf(&b, "| path | seconds | logs/s | vs raw engine insert |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| engine's own `INSERT ... SELECT` of the same rows (baseline) | %.2f | %.0f | 1.00x |\n", r.EngineInsertSelect.Seconds(), eng)
	fmt.Fprintf(&b, "| gateway: first request -> last acknowledgement | %.2f | %.0f | %.2fx |\n", r.Send.Seconds(), rate(r.Logs, r.Send), rate(r.Logs, r.Send)/eng)
	fmt.Fprintf(&b, "| **gateway: first request -> every row queryable** | %.2f | %.0f | %.2fx |\n", r.EndToEnd.Seconds(), e2e, e2e/eng)
	fmt.Fprintf(&b, "\nGoals (issue: gateway): at least 100,000 logs/s on 2 cores, and at least 0.5x the raw insert rate: **%.0f logs/s, %.2fx**.\n", e2e, e2e/eng)
	return b.String()
}
