package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rssMiB reads a process's resident set size from /proc.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestPPLAnswersStreamInBoundedMemory: 8 concurrent PPL answers of 100,000
// rows each (the row cap) are streamed, so serve's resident memory grows by
// a bounded amount rather than by the size of the answers (buffered whole,
// these 8 answers of three columns raised it by about 900 MiB).
func TestPPLAnswersStreamInBoundedMemory(t *testing.T) {
	const rows, clients = 100000, 8
	tgen := tool(t, "install-telemetrygen.sh")
	httpAddr, grpcAddr := freePort(t), freePort(t)
	cmd, logs := startServe(t, httpAddr, "--data", t.TempDir(), "--otlp-grpc-addr", grpcAddr, "--query-max-rows", strconv.Itoa(rows))
	body := strings.Repeat("a log line of some length, ", 8)
	if out, err := exec.Command(tgen, "logs", "--otlp-endpoint", grpcAddr, "--otlp-insecure", "--rate", "0",
		"--workers", "4", "--logs", strconv.Itoa(rows/4), "--body", body).CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}
	count := func() int {
		res, err := http.Post("http://"+httpAddr+"/api/v1/ppl", "application/json", strings.NewReader(`{"query":"source=logs | stats count() as n"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Datarows [][]int }
		_ = json.NewDecoder(res.Body).Decode(&out)
		if len(out.Datarows) != 1 {
			return 0
		}
		return out.Datarows[0][0]
	}
	deadline := time.Now().Add(2 * time.Minute)
	for count() < rows && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
	}
	if n := count(); n < rows {
		t.Fatalf("%d of %d rows stored\n%s", n, rows, logs)
	}

	pid := cmd.Process.Pid
	base := rssMiB(t, pid)
	var peak atomic.Int64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if v := int64(rssMiB(t, pid)); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	q := fmt.Sprintf(`{"query":"source=logs | fields @timestamp, log, severityText | head %d"}`, rows)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post("http://"+httpAddr+"/api/v1/ppl", "application/json", strings.NewReader(q))
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				b, _ := io.ReadAll(res.Body)
				errs <- fmt.Errorf("%d %s", res.StatusCode, b)
				return
			}
			n, total, cols, err := countPPL(bufio.NewReader(res.Body))
			if err != nil {
				errs <- err
				return
			}
			if n != rows || total != rows || cols != 3 {
				errs <- fmt.Errorf("%d rows, total %d, %d columns", n, total, cols)
			}
		}()
	}
	wg.Wait()
	close(stop)
	sampler.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	grew := float64(peak.Load()) - base
	t.Logf("serve RSS %.0f MiB before, peak %d MiB during %d concurrent %d-row PPL answers (+%.0f MiB)", base, peak.Load(), clients, rows, grew)
	if grew > maxPPLGrowthMiB {
		t.Fatalf("RSS grew by %.0f MiB serving %d answers of %d rows; streamed answers should stay under %d MiB", grew, clients, rows, maxPPLGrowthMiB)
	}
}

// maxPPLGrowthMiB bounds the test's growth: well under what the answers
// cost held whole, with room for a shared machine's noise.
const maxPPLGrowthMiB = 400

// countPPL reads a PPL answer a value at a time, counting datarows, so the
// test's own memory does not hold 8 answers.
func countPPL(r io.Reader) (rows, total, cols int, err error) {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return 0, 0, 0, err
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, 0, 0, err
		}
		switch k {
		case "datarows":
			if _, err := dec.Token(); err != nil {
				return 0, 0, 0, err
			}
			for dec.More() {
				var row json.RawMessage
				if err := dec.Decode(&row); err != nil {
					return 0, 0, 0, err
				}
				rows++
			}
			if _, err := dec.Token(); err != nil {
				return 0, 0, 0, err
			}
		case "schema":
			var s []json.RawMessage
			if err := dec.Decode(&s); err != nil {
				return 0, 0, 0, err
			}
			cols = len(s)
		case "total":
			if err := dec.Decode(&total); err != nil {
				return 0, 0, 0, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	return rows, total, cols, nil
}
