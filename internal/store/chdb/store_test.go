package chdb

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/storetest"
)

// One engine per process: every test shares st, on distinct databases.
var st *Store

func libPath() string {
	if p := os.Getenv("CHDB_LIB"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache/obsplane/chdb/26.5.3/libchdb.so")
}

func TestMain(m *testing.M) {
	if os.Getenv("CHDB_HELPER_PROCESS") == "1" {
		helperProcess()
		return
	}
	dir, err := os.MkdirTemp("", "chdb-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st, err = Open(Config{LibPath: libPath(), DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	st.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestArrayParamsAreLiterals(t *testing.T) {
	out, err := st.QueryBytes(context.Background(),
		"SELECT length({a:Array(String)}), {a:Array(String)}[2] = {s:String}, {m:Map(String, UInt8)}['k']", "TSVRaw",
		store.Params{"a": `['x', 'it\'s \\ odd']`, "s": `it's \ odd`, "m": `{'k': 7}`})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "2\t1\t7\n" {
		t.Fatalf("got %q", got)
	}
}

// TestTimesRenderInUTC: the APIs parse the engine's rendering of a
// zone-less DateTime64 as UTC, so every connection renders in UTC whatever
// the machine's TZ.
func TestTimesRenderInUTC(t *testing.T) {
	for i := 0; i < 4; i++ { // more queries than one pool's connections
		got := count(t, "SELECT concat(getSetting('session_timezone'), ' ', toString(toDateTime64(86400, 9)))")
		if got != "UTC 1970-01-02 00:00:00.000000000" {
			t.Fatalf("session zone and rendering: %q, want UTC", got)
		}
	}
}

func TestConcurrentQueriesRunInParallel(t *testing.T) {
	ctx := context.Background()
	// A slow scan on one read connection must not hold an insert or a
	// second read behind it.
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := st.QueryBytes(ctx, "SELECT count() FROM numbers(100000000) WHERE sipHash64(number) % 7 = 3", "TSV", nil)
		if err != nil {
			t.Error(err)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	if _, err := st.QueryBytes(ctx, "SELECT 1", "TSV", nil); err != nil {
		t.Fatal(err)
	}
	quick := time.Since(t0)
	wg.Wait()
	slow := time.Since(start)
	if quick > slow/2 {
		t.Fatalf("SELECT 1 took %v while a %v scan ran: queries are serialized", quick, slow)
	}
}

func TestSecondProcessOnSameDirGetsClearError(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CHDB_HELPER_PROCESS=1", "CHDB_HELPER_DIR="+filepath.Dir(st.Dir()+"/x"))
	out, _ := cmd.CombinedOutput()
	want := fmt.Sprintf("is in use by pid %d", os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Fatalf("second process said %q, want it to contain %q", out, want)
	}
}

func helperProcess() {
	_, err := Open(Config{LibPath: libPath(), DataDir: os.Getenv("CHDB_HELPER_DIR")})
	fmt.Println(err)
}

func TestMissingLibraryIsAClearError(t *testing.T) {
	_, err := loadLib("/nonexistent/libchdb.so")
	if err == nil || !strings.Contains(err.Error(), "install-chdb.sh") {
		t.Fatalf("got %v", err)
	}
	bad := filepath.Join(t.TempDir(), "libchdb.so")
	os.WriteFile(bad, []byte("not a library"), 0o644)
	if _, err := loadLib(bad); err == nil || !strings.Contains(err.Error(), "install-chdb.sh") {
		t.Fatalf("got %v", err)
	}
}

func mustExec(t *testing.T, sql string) {
	t.Helper()
	if err := st.Exec(context.Background(), sql, nil); err != nil {
		t.Fatal(err)
	}
}

func count(t *testing.T, sql string) string {
	t.Helper()
	out, err := st.QueryBytes(context.Background(), sql, "TSV", nil)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestStoreContract runs the behaviour every store must have on the
// embedded one (the remote store runs it against the HTTP interface).
func TestStoreContract(t *testing.T) {
	storetest.Run(t, st, "t_contract", storetest.Options{SkipStored: true})
}
