package chhttp

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// as returns the headers that authenticate a request as user.
func as(user, pw string) map[string]string {
	return map[string]string{"X-ClickHouse-User": user, "X-ClickHouse-Key": pw, "Authorization": ""}
}

// secretFile writes a file only the obsplane process should read and
// returns its path and content.
func secretFile(t *testing.T) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret.txt")
	content := "s3cr3t-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, content
}

// readers are the three kinds of read-only request: a readonly=2 user (what
// Grafana and HyperDX get), a readonly=1 user, and a GET of a writing user.
var readers = []struct {
	name, method string
	hdr          map[string]string
}{
	{"viewer", "POST", as("viewer", "v")},
	{"strict", "POST", as("strict", "s")},
	{"GET", "GET", nil},
}

// TestReadOnlyRefusals: a read-only request can reach neither the server's
// files (file() as a table function, a function, by name, through a
// parameter or a setting; format templates), nor the network (url(), s3()),
// nor write, create, kill or lift readonly. Each gets ClickHouse's READONLY
// (164) with 403, and no answer holds the file's content; the same file is
// readable by a writing user's POST, so the vectors are real.
func TestReadOnlyRefusals(t *testing.T) {
	path, secret := secretFile(t)
	lit := "'" + path + "'"
	do(t, "POST", q("CREATE TABLE ro_t (a UInt8) ENGINE = MergeTree ORDER BY a"), nil, nil)
	if status, _, body := do(t, "POST", q("SELECT file("+lit+")"), nil, nil); status != 200 || !strings.Contains(body, secret) {
		t.Fatalf("a writing user reads the file: %d %s", status, body)
	}
	for _, tc := range []struct {
		name, query string
		extra       []string
	}{
		{"file table function", "SELECT * FROM file(" + lit + ", 'LineAsString')", nil},
		{"file function", "SELECT file(" + lit + ")", nil},
		{"file quoted", `SELECT "file"(` + lit + ")", nil},
		{"file escaped", "SELECT `fi\\x6ce`(" + lit + ")", nil},
		{"implicit select", "file(" + lit + ")", nil},
		{"file by APPLY", "SELECT * APPLY(file) FROM (SELECT " + lit + " AS p)", nil},
		{"file by arrayMap", "SELECT arrayMap(file, [" + lit + "])", nil},
		{"file by parameter", "SELECT arrayMap({f:Identifier}, [" + lit + "])", []string{"param_f", "file"}},
		{"file in a URL filter", "SELECT count() FROM system.one", []string{"additional_table_filters", "{'system.one': 'file(''" + path + "'') != '''''}"}},
		{"file in a SETTINGS filter", "SELECT count() FROM system.one SETTINGS additional_result_filter = 'file(''" + path + "'') != '''''", nil},
		{"template file", "SELECT 1 FORMAT Template SETTINGS format_template_resultset = " + lit, nil},
		{"url", "SELECT * FROM url('http://127.0.0.1:1/x', 'LineAsString')", nil},
		{"s3", "SELECT * FROM s3('http://127.0.0.1:1/bucket/x.csv', 'CSV')", nil},
		{"insert", "INSERT INTO ro_t VALUES (1)", nil},
		{"insert select", "INSERT INTO ro_t SELECT 1", nil},
		{"create", "CREATE TABLE ro_x (a UInt8) ENGINE = Memory", nil},
		{"create with settings", "CREATE TABLE ro_x (a UInt8) ENGINE = MergeTree ORDER BY a SETTINGS index_granularity = 64", nil},
		{"temporary table", "CREATE TEMPORARY TABLE ro_tmp (a UInt8)", nil},
		{"drop", "DROP TABLE ro_t", nil},
		{"readonly in SETTINGS", "SELECT 1 SETTINGS readonly = 0", nil},
		{"readonly in URL", "SELECT 1", []string{"readonly", "0"}},
		{"SET readonly", "SET readonly = 0", nil},
		{"other dialect", "SELECT 1 SETTINGS dialect = 'prql'", nil},
		{"kill", "KILL QUERY WHERE 1", nil},
		{"system", "SYSTEM DROP DNS CACHE", nil},
	} {
		for _, who := range readers {
			t.Run(tc.name+"/"+who.name, func(t *testing.T) {
				if who.name == "strict" && tc.name == "SET readonly" {
					t.Skip("readonly=1 refuses every SET; covered by TestUsers")
				}
				status, hdr, body := do(t, who.method, q(tc.query, tc.extra...), nil, who.hdr)
				if strings.Contains(body, secret) {
					t.Fatalf("the file's content reached a read-only request: %s", body)
				}
				wantException(t, status, hdr, body, http.StatusForbidden, codeReadonly)
			})
		}
	}
	if _, _, body := do(t, "POST", q("SELECT count() FROM ro_t"), nil, nil); body != "0\n" {
		t.Fatalf("a read-only request inserted: %q", body)
	}
}

// TestReadOnlySettings: a locked request (readonly=2, or a GET) still has
// ClickHouse's readonly=2 settings: from the URL, from the query's own
// SETTINGS clause, maps included; a user's limits bind, a request may ask
// for less but not for more.
func TestReadOnlySettings(t *testing.T) {
	for _, who := range []struct {
		method string
		hdr    map[string]string
	}{{"POST", as("viewer", "v")}, {"GET", nil}} {
		status, _, body := do(t, who.method, q("SELECT getSetting('max_threads'), getSetting('date_time_output_format'), getSetting('readonly')",
			"max_threads", "3", "date_time_output_format", "iso", "readonly", "2"), nil, who.hdr)
		if status != 200 || body != "3\tiso\t1\n" {
			t.Fatalf("%s URL settings: %d %q", who.method, status, body)
		}
		status, _, body = do(t, who.method, q("SELECT getSetting('max_threads'), count() FROM system.one SETTINGS max_threads = 5, additional_table_filters = {'system.one': 'dummy = 0'}, max_execution_time = 2.5 FORMAT TSV"), nil, who.hdr)
		if status != 200 || body != "5\t1\n" {
			t.Fatalf("%s SETTINGS clause: %d %q", who.method, status, body)
		}
		// HyperDX's JSON-paths query: SETTINGS in a CTE (metadata.ts).
		status, _, body = do(t, who.method, q("WITH p AS (SELECT DISTINCT number FROM numbers(10) LIMIT {n:Int32} SETTINGS timeout_overflow_mode = 'break', max_execution_time = 2) SELECT count() FROM p",
			"param_n", "3", "max_execution_time", "60"), nil, who.hdr)
		if status != 200 || body != "3\n" {
			t.Fatalf("%s SETTINGS in a CTE: %d %q", who.method, status, body)
		}
	}
	lim := as("limited", "l")
	status, hdr, body := do(t, "POST", q("SELECT number FROM numbers(100)"), nil, lim)
	wantException(t, status, hdr, body, 500, 396)
	status, hdr, body = do(t, "POST", q("SELECT number FROM numbers(100)", "max_result_rows", "0"), nil, lim)
	wantException(t, status, hdr, body, 500, 396)
	if status, _, body := do(t, "POST", q("SELECT number FROM numbers(5) SETTINGS max_result_rows = 5"), nil, lim); status != 200 || body != "0\n1\n2\n3\n4\n" {
		t.Fatalf("a limit asked within: %d %q", status, body)
	}
	if status, _, body := do(t, "POST", q("SELECT getSetting('max_result_rows')", "max_result_rows", "3"), nil, lim); status != 200 || body != "3\n" {
		t.Fatalf("a lower limit from the URL: %d %q", status, body)
	}
	status, hdr, body = do(t, "POST", q("SELECT 1 SETTINGS max_result_rows = 100"), nil, lim)
	wantException(t, status, hdr, body, 403, codeReadonly)
}

// TestReadOnlySessions: a read-only user's session keeps what its SET and
// USE chose (checked by the engine), though each request runs on a fresh
// locked connection; temporary tables are not available to it. A GET in a
// writing user's session is read-only too: it sees the session's settings,
// its SET reaches the session, but it cannot write or reach files, nor see
// the session's temporary tables.
func TestReadOnlySessions(t *testing.T) {
	v := as("viewer", "v")
	sq := func(method, sid, sql string, hdr map[string]string, extra ...string) (int, http.Header, string) {
		return do(t, method, q(sql, append([]string{"session_id", sid}, extra...)...), nil, hdr)
	}
	ok := func(status int, _ http.Header, body string) string {
		t.Helper()
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		return body
	}
	ok(sq("POST", "ro1", "SET max_threads = 3, param_x = 'p''s'", v))
	ok(sq("POST", "ro1", "USE system", v))
	if b := ok(sq("POST", "ro1", "SELECT getSetting('max_threads'), currentDatabase(), {x:String}, count() FROM one", v)); b != "3\tsystem\tp\\'s\t1\n" {
		t.Fatalf("session state: %q", b)
	}
	if b := ok(sq("POST", "ro1", "SELECT getSetting('max_threads')", v, "max_threads", "2")); b != "2\n" {
		t.Fatalf("URL setting in a session: %q", b)
	}
	if b := ok(sq("POST", "ro1", "SELECT getSetting('max_threads')", v)); b != "3\n" {
		t.Fatalf("URL setting stayed in the session: %q", b)
	}
	status, hdr, body := sq("POST", "ro1", "SET no_such_setting = 1", v)
	wantException(t, status, hdr, body, 404, 115)
	status, hdr, body = sq("POST", "ro1", "SET max_threads = (SELECT 1)", v)
	wantException(t, status, hdr, body, 403, codeReadonly)
	status, hdr, body = sq("POST", "ro1", "SET readonly = 0", v)
	wantException(t, status, hdr, body, 403, codeReadonly)
	status, hdr, body = sq("POST", "ro1", "CREATE TEMPORARY TABLE tmp_ro (a UInt8)", v)
	wantException(t, status, hdr, body, 403, codeReadonly)
	status, hdr, body = sq("POST", "ro1", "USE no_such_db", v)
	wantException(t, status, hdr, body, 404, codeUnknownDatabase)
	if b := ok(sq("POST", "ro1", "SELECT getSetting('max_threads'), currentDatabase()", v)); b != "3\tsystem\n" {
		t.Fatalf("a failed SET or USE changed the session: %q", b)
	}
	if b := ok(sq("POST", "ro2", "SELECT getSetting('max_threads') = 3, currentDatabase()", v)); b != "0\tdefault\n" {
		t.Fatalf("another session sees the first one's state: %q", b)
	}
	// A session belongs to its user.
	if b := ok(sq("POST", "ro1", "SELECT getSetting('max_threads') = 3", nil)); b != "0\n" {
		t.Fatalf("another user's session of the same id: %q", b)
	}
	ok(sq("POST", "ro1", "SELECT 1", v, "close_session", "1"))
	status, hdr, body = sq("POST", "ro1", "SELECT 1", v, "session_check", "1")
	wantException(t, status, hdr, body, 404, codeSessionNotFound)

	// A session's query parameter cannot name file either (SET param_ is
	// allowed even at readonly=1).
	path, secret := secretFile(t)
	for _, who := range []map[string]string{v, as("strict", "s")} {
		status, hdr, body = sq("POST", "ro3", "SET param_f = 'file'", who)
		wantException(t, status, hdr, body, 403, codeReadonly)
		status, hdr, body = sq("POST", "ro3", "SET param_f = 'fi\\x6ce'", who)
		wantException(t, status, hdr, body, 403, codeReadonly)
		status, hdr, body = sq("POST", "ro3", "SELECT arrayMap({f:Identifier}, ['"+path+"'])", who)
		if status == 200 || strings.Contains(body, secret) {
			t.Fatalf("a session parameter named file: %d %s", status, body)
		}
	}

	// A GET in a writing user's session.
	ok(sq("POST", "w1", "CREATE TEMPORARY TABLE tmp_w (a UInt8)", nil))
	ok(sq("POST", "w1", "INSERT INTO tmp_w VALUES (1)", nil))
	ok(sq("POST", "w1", "SET max_threads = 3", nil))
	if b := ok(sq("GET", "w1", "SELECT getSetting('max_threads'), getSetting('readonly')", nil)); b != "3\t1\n" {
		t.Fatalf("GET in a session: %q", b)
	}
	ok(sq("GET", "w1", "SET max_threads = 4", nil))
	if b := ok(sq("POST", "w1", "SELECT getSetting('max_threads'), getSetting('readonly'), count() FROM tmp_w", nil)); b != "4\t0\t1\n" {
		t.Fatalf("a GET's SET did not reach the session, or the session became read-only: %q", b)
	}
	for _, sql := range []string{"SELECT file('" + path + "')", "INSERT INTO tmp_w VALUES (2)", "CREATE TEMPORARY TABLE tmp_w2 (a UInt8)"} {
		status, hdr, body = sq("GET", "w1", sql, nil)
		if strings.Contains(body, secret) {
			t.Fatalf("%s: %s", sql, body)
		}
		wantException(t, status, hdr, body, 403, codeReadonly)
	}
	status, hdr, body = sq("GET", "w1", "SELECT count() FROM tmp_w", nil)
	wantException(t, status, hdr, body, 404, 60)
	ok(sq("POST", "w1", "SELECT 1", nil, "close_session", "1"))
}

// TestSummary: X-ClickHouse-Summary counts the whole query when the answer
// fits the response buffer or is held (wait_end_of_query), as ClickHouse's
// does, and what was done when the headers left for a longer one.
func TestSummary(t *testing.T) {
	get := func(hdr http.Header) map[string]uint64 {
		t.Helper()
		var m map[string]string
		if err := json.Unmarshal([]byte(hdr.Get("X-ClickHouse-Summary")), &m); err != nil {
			t.Fatalf("summary %q: %v", hdr.Get("X-ClickHouse-Summary"), err)
		}
		out := map[string]uint64{}
		for _, k := range []string{"read_rows", "read_bytes", "written_rows", "written_bytes", "total_rows_to_read", "result_rows", "result_bytes", "elapsed_ns"} {
			v, ok := m[k]
			if !ok {
				t.Fatalf("summary lacks %s: %v", k, m)
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				t.Fatalf("%s=%q", k, v)
			}
			out[k] = n
		}
		return out
	}
	do(t, "POST", q("CREATE TABLE summ (a UInt64) ENGINE = MergeTree ORDER BY a"), nil, nil)
	_, hdr, _ := do(t, "POST", q("INSERT INTO summ SELECT number FROM numbers(1000)"), nil, nil)
	if s := get(hdr); s["written_rows"] != 1000 || s["written_bytes"] != 8000 {
		t.Fatalf("insert: %v", s)
	}
	for _, tc := range []struct {
		name, query string
		extra       []string
		result      uint64
	}{
		{"small", "SELECT a FROM summ WHERE a % 10 = 0", nil, 100},
		{"small JSON", "SELECT a FROM summ WHERE a < 7 FORMAT JSON", nil, 7},
		{"show", "SHOW TABLES LIKE 'summ'", nil, 1},
		{"held", "SELECT number FROM numbers(300000)", []string{"wait_end_of_query", "1"}, 300000},
		{"held by setting", "SELECT number FROM numbers(300000)", []string{"http_wait_end_of_query", "1"}, 300000},
		{"fits the buffer", "SELECT number FROM numbers(100000)", nil, 100000},
	} {
		status, hdr, body := do(t, "POST", q(tc.query, tc.extra...), nil, nil)
		s := get(hdr)
		if status != 200 || s["result_rows"] != tc.result || s["result_bytes"] == 0 || s["elapsed_ns"] == 0 {
			t.Fatalf("%s: %d %v %.100q", tc.name, status, s, body)
		}
		if strings.HasPrefix(tc.query, "SELECT a FROM summ") && (s["read_rows"] != 1000 || s["read_bytes"] != 8000) {
			t.Fatalf("%s read: %v", tc.name, s)
		}
	}
	// Longer than the buffer: the headers left with part of the answer.
	status, hdr, body := do(t, "POST", q("SELECT number FROM numbers(1000000)", "buffer_size", "100000"), nil, nil)
	s := get(hdr)
	if status != 200 || s["result_rows"] == 0 || s["result_rows"] >= 1000000 || strings.Count(body, "\n") != 1000000 {
		t.Fatalf("streamed: %d %v, %d lines", status, s, strings.Count(body, "\n"))
	}
	// An error in an answer that fits the buffer gets its own status.
	status, hdr, body = do(t, "POST", q("SELECT throwIf(number = 5, 'boom') FROM numbers(10)"), nil, nil)
	wantException(t, status, hdr, body, 500, 395)
}
