package chhttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func FuzzScanStatement(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "INSERT INTO t FORMAT CSV\n1,2", "INSERT INTO format FORMAT TSV 1\t2", "INSERT INTO t VALUES (1)",
		"INSERT INTO t SETTINGS a = 'FORMAT' FORMAT JSONEachRow {}", "SELECT 1; SELECT 2", "/* a /* b */ c */ SELECT 'x''y' FORMAT JSON",
		"INSERT INTO db.t (a, `format`) SELECT 1, 2", "SELECT $$x$$ INTO OUTFILE 'f'", "-- c\nINSERT INTO FUNCTION f('a') FORMAT Native\x00\x01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, complete := range []bool{true, false} {
			st, err := scanStatement(text, complete)
			if err != nil {
				var e *Exception
				if !errors.As(err, &e) {
					t.Fatalf("not an Exception: %v", err)
				}
				continue
			}
			if st.End > len(text) {
				t.Fatalf("End %d past %d", st.End, len(text))
			}
			if st.HasData {
				if !(0 <= st.InfileAt && st.InfileAt <= st.FormatAt && st.FormatAt < st.FormatEnd && st.FormatEnd <= st.DataStart && st.DataStart <= len(text)) {
					t.Fatalf("offsets %+v for %q", st, text)
				}
				_ = insertFromFile(text, st, "/spool/x")
			}
		}
	})
}

// FuzzDecodeRequest feeds arbitrary URLs, headers and bodies to the
// request decoder: it answers with an Exception or a body, never panics.
func FuzzDecodeRequest(f *testing.F) {
	f.Add("query=SELECT+1&max_threads=2&param_x=1", "", "", []byte("body"))
	f.Add("query=INSERT+INTO+t+FORMAT+TSV&decompress=1", "gzip", "", []byte{0x1f, 0x8b, 8, 0, 0})
	f.Add("session_id=s&session_timeout=99", "", "multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT 1\r\n--b--\r\n"))
	f.Add("user=a&password=b&%zz", "zstd", "", []byte{0x28, 0xb5, 0x2f, 0xfd})
	users := map[string]*User{"default": {Name: "default"}}
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 1 << 16
	f.Fuzz(func(t *testing.T, rawQuery, encoding, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.URL.RawQuery = rawQuery
		if encoding != "" {
			r.Header.Set("Content-Encoding", encoding)
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return
		}
		u, err := authenticate(r, q, users)
		if err != nil {
			return
		}
		req, cleanup, err := decodeRequest(r, u, q, &cfg)
		defer cleanup()
		if err != nil {
			var e *Exception
			if !errors.As(err, &e) {
				t.Fatalf("not an Exception: %v", err)
			}
			return
		}
		if _, err := io.Copy(io.Discard, req.body); err != nil {
			if e := asException(err); e.Code == codeUnknownException {
				t.Fatalf("body error without a ClickHouse code: %v", err)
			}
		}
		_, _ = scanStatement(req.query, true)
	})
}

// FuzzReframer: arbitrary bytes as the engine's Native output never panic
// the reframer, and a stream that is whole reframes to blocks clickhouse-go
// reads back.
func FuzzReframer(f *testing.F) {
	f.Add([]byte("\x01\x01\x01x\x05UInt8\x01"), uint64(54460))
	f.Add([]byte("\x02\x01\x01s\x16LowCardinality(String)\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x02ab\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01a\fArray(UInt8)\x02\x00\x00\x00\x00\x00\x00\x00\x01\x02"), uint64(54460))
	f.Add([]byte("\x01\x02\x01t\x22Tuple(a Nullable(String), b Map(String, UInt8))\x00\x01\x00\x01x\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, rev uint64) {
		var out bytes.Buffer
		r := newReframer(rev%60000, func(b []byte) error { out.Write(b); return nil })
		half := len(data) / 2
		if err := r.write(data[:half]); err != nil {
			return
		}
		if err := r.write(data[half:]); err != nil {
			return
		}
		_ = r.finish()
	})
}

// TestReframerRefusesDynamic: a column whose data differs between protocol
// revisions (Dynamic) is refused with NOT_IMPLEMENTED in ClickHouse's
// in-stream exception frame; the server goes on.
func TestReframerRefusesDynamic(t *testing.T) {
	c := openGo(t, "default", "pw", nil)
	rs, err := c.Query(context.Background(), "SELECT number AS n, number::Dynamic AS d FROM numbers(3)")
	if err == nil {
		for rs.Next() {
		}
		err = rs.Err()
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != codeNotImplemented || !strings.Contains(ex.Message, "Dynamic") {
		t.Fatalf("want NOT_IMPLEMENTED naming Dynamic, got %v", err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
