package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/openchoreo/obsplane/internal/store"
)

// flakyStore fails every insert (as an unreachable server does: retryable)
// while down is set, and passes through to the engine otherwise.
type flakyStore struct {
	store.Store
	down             atomic.Bool
	failed, accepted atomic.Int64
}

func (f *flakyStore) Insert(ctx context.Context, b *store.Batch) error {
	if f.down.Load() {
		f.failed.Add(1)
		return &store.Error{Code: 210, Message: "Code: 210. DB::NetException: Connection refused (NETWORK_ERROR)"}
	}
	f.accepted.Add(1)
	return f.Store.Insert(ctx, b)
}

// TestE2EStoreOutage60s: with the store unavailable for 60 s the disk queue
// holds what was acknowledged, and once it is full the receiver refuses
// with a retryable status (back-pressure, not loss); after recovery every
// acknowledged record arrives, exactly once.
func TestE2EStoreOutage60s(t *testing.T) {
	const outage = 60 * time.Second
	db := "outage"
	st := &flakyStore{Store: engine}
	st.down.Store(true)
	// A small queue so the outage fills it and back-pressure shows.
	g := startGatewayWith(t, db, Params{QueueSize: 4, QueueWorkers: 1, BatchSize: 500}, st)
	defer g.stop(t)

	conn, err := grpc.NewClient(g.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	var (
		mu        sync.Mutex
		acked     int
		refusals  = map[codes.Code]int{}
		stopSend  = time.Now().Add(outage + 5*time.Second)
		requestID int
	)
	for time.Now().Before(stopSend) && requestID < 2000 {
		ld := plog.NewLogs()
		recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for i := range 100 {
			lr := recs.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
			lr.Body().SetStr(fmt.Sprintf("outage %d-%d", requestID, i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
		cancel()
		mu.Lock()
		if err == nil {
			acked++
			requestID++
		} else {
			// Not acknowledged: a client retries the same request.
			refusals[status.Code(err)]++
		}
		mu.Unlock()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
		}
		if time.Since(stopSend.Add(-outage-5*time.Second)) > outage && st.down.Load() {
			st.down.Store(false) // the store is back
		}
	}
	st.down.Store(false)
	if len(refusals) == 0 {
		t.Fatalf("the receiver never pushed back during a %v outage (%d requests acknowledged)", outage, acked)
	}
	for code := range refusals {
		switch code {
		case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded:
		default:
			t.Errorf("refusal with non-retryable status %v", code)
		}
	}
	want := acked * 100
	waitCount(t, "SELECT count() AS n FROM outage.otel_logs", want)
	if got, distinct := count(t, "SELECT count() AS n FROM outage.otel_logs"), count(t, "SELECT uniqExact(Body) AS n FROM outage.otel_logs"); got != want || distinct != want {
		t.Fatalf("%d rows (%d distinct) after recovery, want %d acknowledged records exactly once", got, distinct, want)
	}
	t.Logf("%d requests acknowledged, %d inserts refused by the store; refusals to the client during the outage: %v", acked, st.failed.Load(), refusals)
}
