package gateway

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// downStore is a store whose inserts fail as a ClickHouse server that
// cannot be reached does (retryable), counting the attempts.
type downStore struct {
	store.Store
	attempts atomic.Int64
}

func (d *downStore) Insert(context.Context, *store.Batch) error {
	d.attempts.Add(1)
	return &store.Error{Code: 210, Message: "Code: 210. DB::NetException: Connection refused (NETWORK_ERROR)"}
}

// TestE2EPersistentQueueSurvivesRestart: records acknowledged while the
// store is down wait in the file_storage queue; a gateway started later on
// the same data directory writes them, once each.
func TestE2EPersistentQueueSurvivesRestart(t *testing.T) {
	const db = "gw_durable"
	dataDir := t.TempDir()
	down := &downStore{Store: engine}

	// First gateway: store down. Send with the fluent-logger client,
	// waiting for each ack (RequestAck), as Fluent Bit does with Require_ack_response.
	g1 := startGatewayWith(t, db, Params{DataDir: dataDir}, down)
	const n = 50
	fluentsend(t, g1.forward, n, "queued line ")
	// Wait until the exporter has tried (the batch reached the queue).
	deadline := time.Now().Add(30 * time.Second)
	for down.attempts.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if down.attempts.Load() == 0 {
		t.Fatal("the exporter never tried to insert")
	}
	if c := count(t, "SELECT count() AS n FROM gw_durable.otel_logs"); c != 0 {
		t.Fatalf("%d rows while the store was down", c)
	}
	g1.stop(t)

	// Second gateway on the same data directory, store up.
	startGatewayWith(t, db, Params{DataDir: dataDir}, engine)
	waitCount(t, "SELECT count() AS n FROM gw_durable.otel_logs", n)
	if c := count(t, "SELECT count() AS n FROM gw_durable.otel_logs WHERE OpenChoreoComponent = 'api' AND ServiceName = 'api' AND K8sPodName = 'api-0'"); c != n {
		t.Errorf("enriched rows %d, want %d", c, n)
	}
}

// fluentsend builds and runs ./internal/fluentsend (the fluent-logger-golang
// client cannot be linked into this test binary; see its doc).
func fluentsend(t *testing.T, addr string, n int, prefix string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fluentsend")
	if out, err := exec.Command("go", "build", "-o", bin, "./internal/fluentsend").CombinedOutput(); err != nil {
		t.Fatalf("build fluentsend: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "-addr", addr, "-n", strconv.Itoa(n), "-prefix", prefix).CombinedOutput(); err != nil {
		t.Fatalf("fluentsend: %v\n%s", err, out)
	}
}
