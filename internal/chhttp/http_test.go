package chhttp

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// do sends a request as user default and returns status, headers and body.
func do(t *testing.T, method, rawQuery string, body io.Reader, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/?"+rawQuery, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("default", "pw")
	for k, v := range hdr {
		if k == "Authorization" && v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func q(sql string, extra ...string) string {
	v := url.Values{"query": {sql}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func wantException(t *testing.T, status int, hdr http.Header, body string, wantStatus, wantCode int) {
	t.Helper()
	if status != wantStatus || hdr.Get("X-ClickHouse-Exception-Code") != fmt.Sprint(wantCode) ||
		!strings.HasPrefix(body, fmt.Sprintf("Code: %d. DB::Exception: ", wantCode)) || !strings.Contains(body, "(version ") {
		t.Fatalf("want %d with code %d, got %d code %q: %s", wantStatus, wantCode, status, hdr.Get("X-ClickHouse-Exception-Code"), body)
	}
}

func TestPingAndHeaders(t *testing.T) {
	resp, err := http.Get("http://" + addr + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "Ok.\n" {
		t.Fatalf("ping: %d %q", resp.StatusCode, b)
	}
	status, hdr, body := do(t, "POST", q("SELECT 1 AS x", "query_id", "my-query-1"), nil, map[string]string{"X-ClickHouse-Format": "JSONEachRow"})
	if status != 200 || body != "{\"x\":1}\n" || hdr.Get("X-ClickHouse-Query-Id") != "my-query-1" || hdr.Get("X-ClickHouse-Format") != "JSONEachRow" ||
		hdr.Get("X-ClickHouse-Timezone") == "" || !strings.Contains(hdr.Get("X-ClickHouse-Summary"), `"read_rows"`) || hdr.Get("X-ClickHouse-Exception-Code") != "" {
		t.Fatalf("%d %v %q", status, hdr, body)
	}
	// The query's FORMAT wins over default_format.
	_, hdr, body = do(t, "GET", q("SELECT 1 AS x FORMAT CSVWithNames", "default_format", "JSON"), nil, nil)
	if body != "\"x\"\n1\n" || hdr.Get("X-ClickHouse-Format") != "CSVWithNames" {
		t.Fatalf("%v %q", hdr, body)
	}
}

func TestInsertFormatsAndNoPartialInsert(t *testing.T) {
	do(t, "POST", q("CREATE TABLE fmt (a UInt32, s String) ENGINE = MergeTree ORDER BY a"), nil, nil)
	for _, tc := range []struct{ query, body string }{
		{"INSERT INTO fmt FORMAT TabSeparated", "1\tone\n2\ttwo\n"},
		{"INSERT INTO fmt FORMAT CSV", "3,three\n4,\"fo,ur\"\n"},
		{"INSERT INTO fmt FORMAT JSONEachRow", `{"a":5,"s":"five"}` + "\n" + `{"a":6,"s":"six"}`},
		{"INSERT INTO fmt (a, s) VALUES", "(7, 'seven'), (8, 'eight')"},
		{"", "INSERT INTO fmt FORMAT CSV\n9,nine\n10,ten\n"},
		{"INSERT INTO fmt SETTINGS input_format_skip_unknown_fields = 1 FORMAT JSONEachRow", `{"a":11,"s":"x","extra":1}`},
	} {
		status, _, body := do(t, "POST", q(tc.query), strings.NewReader(tc.body), nil)
		if status != 200 {
			t.Fatalf("%s: %d %s", tc.query, status, body)
		}
	}
	// A RowBinary body.
	var rb bytes.Buffer
	rb.Write([]byte{12, 0, 0, 0, 6})
	rb.WriteString("twelve")
	if status, _, body := do(t, "POST", q("INSERT INTO fmt FORMAT RowBinary"), &rb, nil); status != 200 {
		t.Fatalf("RowBinary: %d %s", status, body)
	}
	_, _, body := do(t, "GET", q("SELECT count(), sum(a) FROM fmt"), nil, nil)
	if body != "12\t78\n" {
		t.Fatalf("after inserts: %q", body)
	}
	// A body whose row 200000 is broken inserts nothing of the rows before.
	var big strings.Builder
	for i := 0; i < 300000; i++ {
		if i == 200000 {
			big.WriteString("oops\tbroken\n")
			continue
		}
		fmt.Fprintf(&big, "%d\tr\n", 1000+i)
	}
	status, hdr, body := do(t, "POST", q("INSERT INTO fmt FORMAT TabSeparated"), strings.NewReader(big.String()), nil)
	wantException(t, status, hdr, body, 400, 27)
	if _, _, body := do(t, "GET", q("SELECT count() FROM fmt"), nil, nil); body != "12\n" {
		t.Fatalf("a failed insert left rows: %q", body)
	}
}

func TestBadInput(t *testing.T) {
	do(t, "POST", q("CREATE TABLE bad (a UInt32) ENGINE = MergeTree ORDER BY a"), nil, nil)
	gz := func(b string) *bytes.Buffer {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write([]byte(b))
		w.Close()
		return &out
	}
	truncated := gz(strings.Repeat("1\n", 10000))
	truncated.Truncate(truncated.Len() / 2)
	for _, tc := range []struct {
		name     string
		method   string
		query    string
		body     io.Reader
		hdr      map[string]string
		status   int
		code     int
		contains string
	}{
		{"syntax", "GET", q("SELEC 1"), nil, nil, 400, 62, "Syntax error"},
		{"empty", "POST", "", strings.NewReader("  "), nil, 400, 62, "Empty query"},
		{"multi", "GET", q("SELECT 1; SELECT 2"), nil, nil, 400, 62, "Multi-statements"},
		{"unknown format", "GET", q("SELECT 1", "default_format", "NoSuchFormat"), nil, nil, 404, 73, "NoSuchFormat"},
		{"unknown format in query", "GET", q("SELECT 1 FORMAT NoSuchFormat"), nil, nil, 404, 73, "NoSuchFormat"},
		{"unknown setting", "GET", q("SELECT 1", "no_such_setting", "1"), nil, nil, 404, 115, "no_such_setting"},
		{"bad setting value", "GET", q("SELECT 1", "max_threads", "many"), nil, nil, 400, 27, ""},
		{"bad setting name", "GET", q("SELECT 1") + "&bad%20name=1", nil, nil, 404, 115, "bad name"},
		{"bad query string", "GET", "query=SELECT%zz", nil, nil, 400, 36, "query string"},
		{"bad bool", "GET", q("SELECT 1", "compress", "maybe"), nil, nil, 400, 36, "compress"},
		{"bad session timeout", "GET", q("SELECT 1", "session_id", "s", "session_timeout", "-1"), nil, nil, 400, 374, "session timeout"},
		{"session too long", "GET", q("SELECT 1", "session_id", "s", "session_timeout", "99999"), nil, nil, 400, 374, "max_session_timeout"},
		{"missing param", "GET", q("SELECT {x:UInt8}"), nil, nil, 400, 456, ""},
		{"bad param", "GET", q("SELECT {x:UInt8}", "param_x", "abc"), nil, nil, 400, 457, ""},
		{"corrupt gzip", "POST", q("INSERT INTO bad FORMAT TSV"), strings.NewReader("not gzip at all"), map[string]string{"Content-Encoding": "gzip"}, 400, 354, "gzip"},
		{"truncated gzip", "POST", q("INSERT INTO bad FORMAT TSV"), truncated, map[string]string{"Content-Encoding": "gzip"}, 400, 354, "truncated"},
		{"corrupt zstd", "POST", q("INSERT INTO bad FORMAT TSV"), strings.NewReader("\x28\xb5\x2f\xfd garbage"), map[string]string{"Content-Encoding": "zstd"}, 400, 561, "zstd"},
		{"unknown encoding", "POST", q("INSERT INTO bad FORMAT TSV"), strings.NewReader("1\n"), map[string]string{"Content-Encoding": "rot13"}, 400, 89, "rot13"},
		{"corrupt native", "POST", q("INSERT INTO bad FORMAT TSV", "decompress", "1"), strings.NewReader(strings.Repeat("x", 100)), nil, 400, 271, ""},
		{"oversized body", "POST", q("INSERT INTO bad FORMAT TSV"), strings.NewReader(strings.Repeat("1\n", 33<<20)), nil, 413, 229, "max-body-bytes"},
		{"zip bomb", "POST", q("INSERT INTO bad FORMAT TSV"), gz(strings.Repeat("1\n", 33<<20)), map[string]string{"Content-Encoding": "gzip"}, 413, 229, "decompressed"},
		{"wrong password", "GET", q("SELECT 1"), nil, map[string]string{"Authorization": "Basic " + "ZGVmYXVsdDpub3Bl"}, 403, 516, "Authentication failed"},
		{"unknown user", "GET", q("SELECT 1", "user", "mallory", "password", "x"), nil, map[string]string{"Authorization": ""}, 403, 516, "Authentication failed"},
		{"mixed auth", "GET", q("SELECT 1", "user", "default"), nil, map[string]string{"X-ClickHouse-User": "default"}, 403, 516, "simultaneously"},
		{"bearer", "GET", q("SELECT 1"), nil, map[string]string{"Authorization": "Bearer abc"}, 403, 516, "Bearer"},
		{"into outfile", "GET", q("SELECT 1 INTO OUTFILE '/tmp/x'"), nil, nil, 403, 358, "INTO OUTFILE"},
		{"from infile", "POST", q("INSERT INTO bad FROM INFILE '/etc/passwd' FORMAT LineAsString"), nil, nil, 403, 358, "FROM INFILE"},
		{"write on GET", "GET", q("INSERT INTO bad VALUES (1)"), nil, nil, 403, 164, "readonly"},
		{"external table", "POST", q("SELECT 1"), strings.NewReader("--b\r\nContent-Disposition: form-data; name=\"t\"; filename=\"t\"\r\n\r\n1\r\n--b--\r\n"), map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, 501, 48, "External tables"},
		{"bad multipart", "POST", q("SELECT 1"), strings.NewReader("garbage"), map[string]string{"Content-Type": "multipart/form-data"}, 400, 36, "boundary"},
		{"unknown path", "GET", "", nil, nil, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unknown path" {
				resp, err := http.Get("http://" + addr + "/nope")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 404 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				return
			}
			status, hdr, body := do(t, tc.method, tc.query, tc.body, tc.hdr)
			wantException(t, status, hdr, body, tc.status, tc.code)
			if !strings.Contains(body, tc.contains) {
				t.Fatalf("body does not name %q: %s", tc.contains, body)
			}
		})
	}
	if _, _, body := do(t, "GET", q("SELECT count() FROM bad"), nil, nil); body != "0\n" {
		t.Fatalf("bad input inserted rows: %q", body)
	}
	// The server still answers.
	if _, _, body := do(t, "GET", q("SELECT 1"), nil, nil); body != "1\n" {
		t.Fatalf("after bad input: %q", body)
	}
}

// TestSlowClient: a body that trickles slower than the read timeout is cut
// off with SOCKET_TIMEOUT (408) and inserts nothing.
func TestSlowClient(t *testing.T) {
	do(t, "POST", q("CREATE TABLE slow (a UInt32) ENGINE = MergeTree ORDER BY a"), nil, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	path := "/?" + q("INSERT INTO slow FORMAT TSV")
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ZGVmYXVsdDpwdw==\r\nContent-Length: 1000\r\n\r\n1\n2\n", path)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := io.ReadAll(c)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatal(err)
	}
	if !strings.Contains(string(resp), " 408 ") || !strings.Contains(string(resp), "Code: 209.") {
		t.Fatalf("slow client got: %q", resp)
	}
	if _, _, body := do(t, "GET", q("SELECT count() FROM slow"), nil, nil); body != "0\n" {
		t.Fatalf("a cut-off body inserted rows: %q", body)
	}
}

func TestUsers(t *testing.T) {
	as := func(user, pw string) map[string]string {
		return map[string]string{"X-ClickHouse-User": user, "X-ClickHouse-Key": pw, "Authorization": ""}
	}
	do(t, "POST", q("CREATE TABLE users_t (a UInt32) ENGINE = MergeTree ORDER BY a"), nil, nil)
	// strict (readonly=1) reads, but neither writes nor changes a setting.
	if status, _, body := do(t, "GET", q("SELECT count() FROM users_t"), nil, as("strict", "s")); status != 200 || body != "0\n" {
		t.Fatalf("strict read: %d %s", status, body)
	}
	status, hdr, body := do(t, "POST", q("INSERT INTO users_t VALUES (1)"), nil, as("strict", "s"))
	wantException(t, status, hdr, body, 403, 164)
	status, hdr, body = do(t, "POST", q("SELECT 1", "max_threads", "1"), nil, as("strict", "s"))
	wantException(t, status, hdr, body, 403, 164)
	status, hdr, body = do(t, "POST", q("SET max_threads = 1"), nil, as("strict", "s"))
	wantException(t, status, hdr, body, 403, 164)
	status, hdr, body = do(t, "POST", q("SELECT 1 SETTINGS readonly = 0"), nil, as("strict", "s"))
	wantException(t, status, hdr, body, 403, 164)
	// viewer (readonly=2) changes settings, still cannot write or lift readonly.
	if status, _, body := do(t, "POST", q("SELECT getSetting('max_threads')", "max_threads", "3"), nil, as("viewer", "v")); status != 200 || body != "3\n" {
		t.Fatalf("viewer setting: %d %s", status, body)
	}
	status, hdr, body = do(t, "POST", q("INSERT INTO users_t VALUES (1)", "readonly", "0"), nil, as("viewer", "v"))
	wantException(t, status, hdr, body, 403, 164)
	status, hdr, body = do(t, "POST", q("DROP TABLE users_t"), nil, as("viewer", "v"))
	wantException(t, status, hdr, body, 403, 164)
	// small's limits hold.
	status, hdr, body = do(t, "POST", q("SELECT number FROM numbers(1000)"), nil, as("small", "m"))
	wantException(t, status, hdr, body, 500, 396)
	// Settings of one request do not reach the next.
	if _, _, body := do(t, "POST", q("SELECT getSetting('max_threads')"), nil, as("viewer", "v")); body == "3\n" {
		t.Fatal("a setting leaked into the next request")
	}
}

func TestSessions(t *testing.T) {
	sq := func(sql, sid string, extra ...string) (int, string) {
		status, _, body := do(t, "POST", q(sql, append([]string{"session_id", sid}, extra...)...), nil, nil)
		return status, body
	}
	if s, b := sq("CREATE TEMPORARY TABLE tmp (a UInt8)", "s1"); s != 200 {
		t.Fatalf("%d %s", s, b)
	}
	sq("INSERT INTO tmp VALUES (1), (2)", "s1")
	sq("SET max_threads = 3", "s1")
	if s, b := sq("SELECT count(), getSetting('max_threads') FROM tmp", "s1"); b != "2\t3\n" {
		t.Fatalf("session state: %d %q", s, b)
	}
	// A URL setting holds for one request of the session only.
	if _, b := sq("SELECT getSetting('max_threads')", "s1", "max_threads", "2"); b != "2\n" {
		t.Fatalf("%q", b)
	}
	if _, b := sq("SELECT getSetting('max_threads')", "s1"); b != "3\n" {
		t.Fatalf("URL setting stayed in the session: %q", b)
	}
	// Another session sees none of it; session_check refuses an unknown one.
	if s, _ := sq("SELECT count() FROM tmp", "s2"); s == 200 {
		t.Fatal("another session sees the temporary table")
	}
	status, hdr, body := do(t, "POST", q("SELECT 1", "session_id", "nope", "session_check", "1"), nil, nil)
	wantException(t, status, hdr, body, 404, 372)
	// A busy session is locked.
	done := make(chan struct{})
	go func() {
		defer close(done)
		sq("SELECT sleep(2)", "s1")
	}()
	time.Sleep(500 * time.Millisecond)
	status, hdr, body = do(t, "POST", q("SELECT 1", "session_id", "s1"), nil, nil)
	wantException(t, status, hdr, body, 409, 373)
	<-done
	// close_session ends it.
	sq("SELECT 1", "s1", "close_session", "1")
	status, hdr, body = do(t, "POST", q("SELECT 1", "session_id", "s1", "session_check", "1"), nil, nil)
	wantException(t, status, hdr, body, 404, 372)
}

func TestCompression(t *testing.T) {
	do(t, "POST", q("CREATE TABLE comp (a UInt32) ENGINE = MergeTree ORDER BY a"), nil, nil)
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write([]byte("1\n2\n3\n"))
	zw.Close()
	if status, _, body := do(t, "POST", q("INSERT INTO comp FORMAT TSV"), &zb, map[string]string{"Content-Encoding": "zstd"}); status != 200 {
		t.Fatalf("zstd body: %d %s", status, body)
	}
	for _, enc := range []string{"gzip", "deflate", "br", "zstd", "lz4"} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/?"+q("SELECT sum(a) FROM comp", "enable_http_compression", "1"), nil)
		req.SetBasicAuth("default", "pw")
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != enc {
			t.Fatalf("%s: Content-Encoding %q", enc, resp.Header.Get("Content-Encoding"))
		}
		r, _, err := decodeBody(bytes.NewReader(raw), enc)
		if err != nil {
			t.Fatal(err)
		}
		if plain, err := io.ReadAll(r); err != nil || string(plain) != "6\n" {
			t.Fatalf("%s: %q %v", enc, plain, err)
		}
	}
	// Without enable_http_compression the answer is plain.
	req, _ := http.NewRequest("GET", "http://"+addr+"/?"+q("SELECT 1"), nil)
	req.SetBasicAuth("default", "pw")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatal("compressed without enable_http_compression")
	}
}

// TestEmptyResults: an answer with no rows is the format's whole empty
// answer, nothing more.
func TestEmptyResults(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"CSVWithNames", "\"x\"\n"},
		{"JSONEachRow", ""},
		{"TabSeparated", ""},
	} {
		_, hdr, body := do(t, "GET", q("SELECT 1 AS x WHERE 0 FORMAT "+tc.format), nil, nil)
		if body != tc.want {
			t.Fatalf("%s: %q (%v)", tc.format, body, hdr)
		}
	}
	_, _, body := do(t, "GET", q("SELECT 1 AS x WHERE 0 FORMAT JSON"), nil, nil)
	if !strings.Contains(body, `"rows": 0`) || strings.Contains(body, "__exception__") {
		t.Fatalf("JSON: %q", body)
	}
	// And one with rows ends where the format ends.
	_, _, body = do(t, "GET", q("SELECT number AS x FROM numbers(3) FORMAT JSON"), nil, nil)
	if !strings.Contains(body, `"rows": 3`) || strings.Contains(body, "__exception__") || !strings.HasSuffix(body, "}\n") {
		t.Fatalf("JSON: %q", body)
	}
}
