package chhttp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/shopspring/decimal"

	"github.com/openchoreo/obsplane/internal/store/remote"
	"github.com/openchoreo/obsplane/internal/store/storetest"
)

// clickhouse-go, the real client, over the HTTP protocol: what Grafana's
// datasource and the remote store use.
func openGo(t *testing.T, user, pw string, comp *clickhouse.Compression) driver.Conn {
	t.Helper()
	c, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.HTTP,
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Username: user, Password: pw, Database: "default"},
		Compression: comp,
		DialTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRemoteStoreContract runs the store contract on the remote store
// (clickhouse-go, HTTP) against this interface: the remote store's code
// path, on the real engine.
func TestRemoteStoreContract(t *testing.T) {
	rs, err := remote.Open(remote.Config{DSN: "http://default:pw@" + addr + "/default"})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	// SkipStored is not implemented by the remote store (the gateway's
	// crash recovery relies on it; see README).
	storetest.Run(t, rs, "t_remote", storetest.Options{SkipStored: false})
}

func TestClickHouseGo(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		comp *clickhouse.Compression
	}{
		{"plain", nil},
		{"lz4", &clickhouse.Compression{Method: clickhouse.CompressionLZ4}},
		{"zstd", &clickhouse.Compression{Method: clickhouse.CompressionZSTD}},
		{"gzip", &clickhouse.Compression{Method: clickhouse.CompressionGZIP}},
		{"br", &clickhouse.Compression{Method: clickhouse.CompressionBrotli}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openGo(t, "default", "pw", tc.comp)
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			v, err := c.ServerVersion()
			if err != nil || v.Version.Major != 26 || v.Revision == 0 {
				t.Fatalf("server version %+v, %v", v, err)
			}
			tbl := "go_" + tc.name
			if err := c.Exec(ctx, "CREATE TABLE "+tbl+" (id UInt64, s String, lc LowCardinality(String), ts DateTime64(9, 'UTC'), m Map(String, UInt32), a Array(Nullable(String)), n Nullable(Int32), d Decimal(18, 4), u UUID, tup Tuple(x UInt8, y String)) ENGINE = MergeTree ORDER BY id"); err != nil {
				t.Fatal(err)
			}
			const rows = 200_000
			b, err := c.PrepareBatch(ctx, "INSERT INTO "+tbl)
			if err != nil {
				t.Fatal(err)
			}
			base := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
			for i := 0; i < rows; i++ {
				var n *int32
				if i%3 == 0 {
					v := int32(i)
					n = &v
				}
				s := fmt.Sprint("e", i)
				if err := b.Append(uint64(i), fmt.Sprint("row ", i), fmt.Sprint("lc", i%5), base.Add(time.Duration(i)),
					map[string]uint32{"k": uint32(i)}, []*string{&s, nil}, n, "12.5", "8f5a2b5e-3c1d-4f6e-9a0b-1c2d3e4f5a6b",
					[]any{uint8(i % 256), "t"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Send(); err != nil {
				t.Fatal(err)
			}
			var count uint64
			if err := c.QueryRow(ctx, "SELECT count() FROM "+tbl).Scan(&count); err != nil || count != rows {
				t.Fatalf("count %d, %v", count, err)
			}
			// Streaming read of every row and type.
			rs, err := c.Query(ctx, "SELECT id, s, lc, ts, m, a, n, d, toString(u), tup FROM "+tbl+" ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			for rs.Next() {
				var (
					id  uint64
					s   string
					lc  string
					ts  time.Time
					m   map[string]uint32
					a   []*string
					n   *int32
					d   decimal.Decimal
					u   string
					tup map[string]any
				)
				if err := rs.Scan(&id, &s, &lc, &ts, &m, &a, &n, &d, &u, &tup); err != nil {
					t.Fatal(err)
				}
				if id != uint64(i) || s != fmt.Sprint("row ", i) || lc != fmt.Sprint("lc", i%5) || !ts.Equal(base.Add(time.Duration(i))) ||
					m["k"] != uint32(i) || len(a) != 2 || a[1] != nil || *a[0] != fmt.Sprint("e", i) || (n != nil) != (i%3 == 0) ||
					d.String() != "12.5" || u != "8f5a2b5e-3c1d-4f6e-9a0b-1c2d3e4f5a6b" || tup["y"] != "t" {
					t.Fatalf("row %d: %v %q %q %v %v %v %v", i, id, s, lc, ts, m, a, n)
				}
				i++
			}
			if err := rs.Err(); err != nil {
				t.Fatal(err)
			}
			if i != rows {
				t.Fatalf("read %d rows", i)
			}
			// Parameters, bound by the engine, in ClickHouse's escaped text
			// form (\t is a tab).
			var got string
			var num uint64
			pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{"v": `it's\t odd'); DROP TABLE x; --`, "n": "41"}))
			if err := c.QueryRow(pctx, "SELECT {v:String}, {n:UInt32} + 1").Scan(&got, &num); err != nil || got != "it's\t odd'); DROP TABLE x; --" || num != 42 {
				t.Fatalf("param: %q %d, %v", got, num, err)
			}
			// An engine error reaches the client as a ClickHouse exception.
			err = c.Exec(ctx, "SELECT * FROM no_such_table_"+tc.name)
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) || ex.Code != 60 {
				t.Fatalf("want exception 60, got %v", err)
			}
		})
	}
}

func TestClickHouseGoMillionRowBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("1M rows")
	}
	ctx := context.Background()
	c := openGo(t, "default", "pw", &clickhouse.Compression{Method: clickhouse.CompressionLZ4})
	if err := c.Exec(ctx, "CREATE TABLE million (id UInt64, body String) ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	b, err := c.PrepareBatch(ctx, "INSERT INTO million")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1_000_000; i++ {
		if err := b.Append(uint64(i), "log line number "+fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	var n, sum uint64
	if err := c.QueryRow(ctx, "SELECT count(), sum(id) FROM million").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 1_000_000 || sum != 999_999*1_000_000/2 {
		t.Fatalf("count %d sum %d", n, sum)
	}
}

// TestClickHouseGoCancel: a query whose context ends is killed in the
// engine, not left running.
func TestClickHouseGoCancel(t *testing.T) {
	c := openGo(t, "default", "pw", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rs, err := c.Query(ctx, "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) % 7 = 3 SETTINGS max_block_size = 65536")
	if err == nil {
		for rs.Next() {
		}
		err = rs.Err()
	}
	if err == nil {
		t.Fatal("a 100G-row scan finished inside 500 ms")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancel took %v", time.Since(start))
	}
	// The engine no longer runs it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n uint64
		if err := openGo(t, "default", "pw", nil).QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE query LIKE '%numbers(100000000000)%' AND query NOT LIKE '%system.processes%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d cancelled queries still run", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestGrafanaConnect is what Grafana's datasource runs over HTTP when a
// user adds the datasource and browses the schema.
func TestGrafanaConnect(t *testing.T) {
	ctx := context.Background()
	c := openGo(t, "viewer", "v", nil)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT version()",
		"SHOW DATABASES",
		"SHOW TABLES FROM system",
		"DESC TABLE system.one",
		"SELECT name, type FROM system.columns WHERE database = 'system' AND table = 'one'",
		"SELECT name FROM system.databases",
		"SELECT name FROM system.tables WHERE database = 'system' LIMIT 5",
	} {
		rs, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n := 0
		for rs.Next() {
			n++
		}
		if err := rs.Err(); err != nil || n == 0 {
			t.Fatalf("%s: %d rows, %v", q, n, err)
		}
		rs.Close()
	}
	// The viewer may not write.
	err := c.Exec(ctx, "CREATE TABLE viewer_may_not (a UInt8) ENGINE = Memory")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 164 || !strings.Contains(ex.Message, "readonly") {
		t.Fatalf("want READONLY, got %v", err)
	}
}
