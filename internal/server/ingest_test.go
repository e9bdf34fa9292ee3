package server_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

const recordsPerRequest = 200

// serveIngest starts obsplane serve with the OTLP gRPC receiver on.
func serveIngest(t *testing.T, data, grpcAddr string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	return startServe(t, freePort(t), "--data", data, "--otlp-grpc-addr", grpcAddr)
}

func request(id int) plogotlp.ExportRequest {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "durability")
	recs := rl.ScopeLogs().AppendEmpty().LogRecords()
	now := time.Now()
	for i := range recordsPerRequest {
		lr := recs.AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i))))
		lr.Body().SetStr(fmt.Sprintf("req-%d-%d", id, i))
	}
	return plogotlp.NewExportRequestFromLogs(ld)
}

// TestKill9DuringIngestKeepsEveryAcknowledgedRecordOnce kills serve with
// SIGKILL while a client is sending, restarts it on the same data, and
// checks that every request the receiver acknowledged is in otel_logs with
// all its records exactly once (and no request is there twice or in part).
func TestKill9DuringIngestKeepsEveryAcknowledgedRecordOnce(t *testing.T) {
	data := t.TempDir()
	grpcAddr := freePort(t)
	first, _ := serveIngest(t, data, grpcAddr)

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	var mu sync.Mutex
	acked := map[int]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := w; ctx.Err() == nil && id < 100000; id += 2 {
				rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := client.Export(rctx, request(id))
				rcancel()
				if err != nil {
					continue // refused or cut off: not acknowledged
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	time.Sleep(3 * time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d requests were acknowledged before the kill; the test proves nothing", len(acked))
	}

	// The restarted process drains the disk queue into the store.
	second, secondLogs := serveIngest(t, data, "127.0.0.1:0")
	time.Sleep(8 * time.Second) // > the queue's 5 s flush timeout
	_ = second.Process.Signal(syscall.SIGTERM)
	_ = second.Wait()
	// The replayed batches are re-grouped, so their tokens are new: only
	// the crash recovery (rows already stored are skipped) keeps them once.
	if !strings.Contains(secondLogs.String(), "did not shut down cleanly") {
		t.Errorf("the restart after kill -9 did not enter crash recovery:\n%s", secondLogs.String())
	}

	st, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Query(context.Background(), `SELECT toUInt32(splitByChar('-', Body)[2]) AS req, count() AS n, uniqExact(Body) AS u
		FROM otel.otel_logs GROUP BY req`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	stored := map[int]bool{}
	for rows.Next() {
		var r struct{ Req, N, U int }
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		if r.N != recordsPerRequest || r.U != recordsPerRequest {
			t.Errorf("request %d: %d rows, %d distinct, want %d of each (duplicated or partial)", r.Req, r.N, r.U, recordsPerRequest)
		}
		stored[r.Req] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var lost []int
	for id := range acked {
		if !stored[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		t.Fatalf("%d of %d acknowledged requests lost after kill -9, e.g. %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
	t.Logf("%d requests acknowledged before kill -9, all stored once; %d stored in all", len(acked), len(stored))
}
