package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestOptionsFromDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn      string
		protocol clickhouse.Protocol
		addr     string
		db       string
		lz4      bool
	}{
		{"clickhouse://u:p@ch.example:9000/otel", clickhouse.Native, "ch.example:9000", "otel", true},
		{"tcp://ch:9000/otel", clickhouse.Native, "ch:9000", "otel", true},
		{"http://ch:8123/otel", clickhouse.HTTP, "ch:8123", "otel", false},
	} {
		o, err := Options(Config{DSN: tc.dsn})
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if o.Protocol != tc.protocol || o.Addr[0] != tc.addr || o.Auth.Database != tc.db {
			t.Errorf("%s: got protocol %v addr %v db %q", tc.dsn, o.Protocol, o.Addr, o.Auth.Database)
		}
		if got := o.Compression != nil && o.Compression.Method == clickhouse.CompressionLZ4; got != tc.lz4 {
			t.Errorf("%s: lz4 = %v", tc.dsn, got)
		}
		if o.Settings["session_timezone"] != "UTC" {
			t.Errorf("%s: session_timezone = %v, want UTC", tc.dsn, o.Settings["session_timezone"])
		}
	}
}

func TestBadDSNNeverEchoesPassword(t *testing.T) {
	_, err := Options(Config{DSN: "clickhouse://user:s3cret@host:9000/otel?dial_timeout=banana"})
	if err == nil {
		t.Fatal("want an error for a bad dial_timeout")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestUnreachableServerFailsPingNotOpen(t *testing.T) {
	s, err := Open(Config{DSN: "clickhouse://127.0.0.1:1/otel?dial_timeout=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Ping(ctx); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
}

func TestRowJSONMatchesEngineForms(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	s, n, m, a := "x\"y", uint64(1<<63), map[string]string{"k": "v"}, []time.Time{ts}
	got, err := RowJSON([]string{"S", "N", "M", "T", "A"}, []any{&s, &n, &m, &ts, &a})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"S":"x\"y","N":9223372036854775808,"M":{"k":"v"},"T":"2026-01-02 03:04:05.000000006","A":["2026-01-02 03:04:05.000000006"]}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
