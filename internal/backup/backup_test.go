package backup_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/backup"
	"github.com/openchoreo/obsplane/internal/config"
	"github.com/openchoreo/obsplane/internal/servetest"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

func TestMain(m *testing.M) {
	code := m.Run()
	servetest.Cleanup()
	os.Exit(code)
}

func TestCompare(t *testing.T) {
	a := []backup.Table{{Name: "otel_logs", Rows: 10, Checksum: 7}, {Name: "otel_traces", Rows: 3, Checksum: 9}}
	if err := backup.Compare(a, a); err != nil {
		t.Fatalf("equal tables: %v", err)
	}
	for name, got := range map[string][]backup.Table{
		"rows differ":      {{Name: "otel_logs", Rows: 11, Checksum: 7}, {Name: "otel_traces", Rows: 3, Checksum: 9}},
		"checksum differs": {{Name: "otel_logs", Rows: 10, Checksum: 8}, {Name: "otel_traces", Rows: 3, Checksum: 9}},
		"table missing":    {{Name: "otel_logs", Rows: 10, Checksum: 7}},
		"table extra":      append(append([]backup.Table{}, a...), backup.Table{Name: "x"}),
	} {
		if err := backup.Compare(a, got); err == nil {
			t.Errorf("%s: no difference reported", name)
		}
	}
}

// rowsWritten reads obsplane_gateway_store_rows_written_total for table.
func rowsWritten(t *testing.T, srv *servetest.Server, table string) uint64 {
	t.Helper()
	_, body := srv.Get(t, "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	prefix := fmt.Sprintf(`obsplane_gateway_store_rows_written_total{table=%q} `, table)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return uint64(f)
		}
	}
	return 0
}

// TestRoundTripWhileIngesting backs up a running obsplane through its API
// while telemetrygen sends logs and traces over OTLP, restores the backup
// into a new data directory with obsplane restore, and compares every
// table's rows and checksum in the restored store with the backup's
// manifest; the backup holds every row acknowledged before it began and none
// acknowledged after it ended.
func TestRoundTripWhileIngesting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs obsplane and telemetrygen")
	}
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	srv := servetest.Start(t, servetest.Options{Args: []string{"--backup-dir", backups}})

	// Load for ~20 s: logs and traces, rate-limited so that the backup
	// lands in the middle of it.
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(2)
	go func() {
		defer wg.Done()
		srv.Send(t, "logs", "--rate", "1500", "--workers", "2", "--duration", "20s", "--body", "backup round trip")
	}()
	go func() {
		defer wg.Done()
		srv.Send(t, "traces", "--rate", "200", "--workers", "1", "--duration", "20s", "--batch=false")
	}()
	go func() { wg.Wait(); close(done) }()

	deadline := time.Now().Add(60 * time.Second)
	for rowsWritten(t, srv, "otel_logs") < 5000 {
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not start\n%s", srv.Output())
		}
		time.Sleep(250 * time.Millisecond)
	}
	before := rowsWritten(t, srv, "otel_logs")
	target := filepath.Join(backups, "b1")
	out, err := exec.Command(servetest.Binary(t), "backup", "--server", "http://"+srv.HTTP, "--to", target).CombinedOutput()
	if err != nil {
		t.Fatalf("obsplane backup: %v\n%s", err, out)
	}
	after := rowsWritten(t, srv, "otel_logs")
	select {
	case <-done:
		t.Fatal("the load ended before the backup did; the backup was not taken under ingest")
	default:
	}
	t.Logf("obsplane backup while ingesting:\n%s", out)
	<-done
	// The gateway flushes its last batches within the batch timeout.
	var final uint64
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		if final = rowsWritten(t, srv, "otel_logs"); final > after {
			break
		}
	}
	srv.Stop(t)

	m, err := backup.ReadManifest(target)
	if err != nil {
		t.Fatal(err)
	}
	var logs backup.Table
	for _, tb := range m.Tables {
		if tb.Name == "otel_logs" {
			logs = tb
		}
	}
	// Acknowledged before the backup began: in it. After it ended: not.
	if logs.Rows < before || logs.Rows > after {
		t.Errorf("backup holds %d logs; %d were acknowledged when it began and %d when it ended", logs.Rows, before, after)
	}
	// Logs kept arriving after the backup: it was taken mid-stream.
	if final <= logs.Rows {
		t.Errorf("the backup holds %d logs and %d were acknowledged by the end of the load; want more after the backup", logs.Rows, final)
	}

	restored := filepath.Join(dir, "restored")
	out, err = exec.Command(servetest.Binary(t), "restore", "--data", restored, "--from", target).CombinedOutput()
	if err != nil {
		t.Fatalf("obsplane restore: %v\n%s", err, out)
	}
	t.Logf("obsplane restore:\n%s", out)

	// Count and checksum the restored store here, independently of the
	// restore command's own check.
	st, err := chdb.Open(chdb.Config{LibPath: config.DefaultChdbLib(), DataDir: restored})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := backup.Summarize(context.Background(), st, m.Database)
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Compare(m.Tables, got); err != nil {
		t.Fatalf("restored store differs from the backup:\n%v", err)
	}
	var total uint64
	for _, tb := range got {
		total += tb.Rows
		t.Logf("%-36s rows %8d  checksum %016x (backup: %8d %016x)", tb.Name, tb.Rows, tb.Checksum, tb.Rows, tb.Checksum)
	}
	if logs.Rows == 0 || total == 0 {
		t.Fatal("empty backup")
	}
	b, _ := json.Marshal(got)
	t.Logf("%d tables, %d rows restored equal to the backup taken under ingest (logs acknowledged: %d at its start, %d at its end, %d at the end of the load); summary %d bytes", len(got), total, before, after, final, len(b))
}

// TestRestoreRefusesAStoreWithTables: a restore never mixes a backup into
// existing data.
func TestRestoreRefusesAStoreWithTables(t *testing.T) {
	dir := t.TempDir()
	bin := servetest.Binary(t)
	src := filepath.Join(dir, "src")
	if out, err := exec.Command(bin, "schema", "apply", "--data", src).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	target := filepath.Join(dir, "b")
	if out, err := exec.Command(bin, "backup", "--data", src, "--to", target).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := exec.Command(bin, "restore", "--data", src, "--from", target).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "restore into a new data directory") {
		t.Fatalf("restore into a store with tables: err %v\n%s", err, out)
	}
	// A backup into a directory that holds something is refused too.
	out, err = exec.Command(bin, "backup", "--data", src, "--to", target).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not empty") {
		t.Fatalf("backup into a used directory: err %v\n%s", err, out)
	}
}
