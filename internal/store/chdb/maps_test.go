package chdb

import (
	"context"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/openchoreo/obsplane/internal/store"
)

// orderedMap is an IterableOrderedMap, as the gateway's exporter passes
// attribute maps (in the collector's order).
type orderedMap struct{ k, v []string }

func (m *orderedMap) Put(k, v any)                 { m.k, m.v = append(m.k, k.(string)), append(m.v, v.(string)) }
func (m *orderedMap) Iterator() column.MapIterator { return &omIter{m: m, i: -1} }

type omIter struct {
	m *orderedMap
	i int
}

func (it *omIter) Next() bool { it.i++; return it.i < len(it.m.k) }
func (it *omIter) Key() any   { return it.m.k[it.i] }
func (it *omIter) Value() any { return it.m.v[it.i] }

// Attribute maps take the typed encoder (store.EncodeNative); what the
// engine stores is what was sent: a Go map's entries sorted by key, an
// ordered map's in its order, empty maps empty, any bytes in keys and
// values, beside columns the generic encoder writes.
func TestAttributeMapsRoundTrip(t *testing.T) {
	ctx := context.Background()
	if err := st.Exec(ctx, "CREATE TABLE IF NOT EXISTS default.maps (n UInt8, s String, a Map(LowCardinality(String), String), b Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY n", nil); err != nil {
		t.Fatal(err)
	}
	ordered := []column.IterableOrderedMap{&orderedMap{[]string{"z", "a", "é\t\\"}, []string{"1", "", "x'y\n"}}, &orderedMap{}, &orderedMap{[]string{"k"}, []string{"v"}}}
	b := &store.Batch{Database: "default", Table: "maps", Rows: 3, Columns: []store.Column{
		{Name: "n", Type: "UInt8", Values: []uint8{1, 2, 3}},
		{Name: "s", Type: "String", Values: []string{"one", "two", "three"}},
		{Name: "a", Type: "Map(LowCardinality(String), String)", Values: []map[string]string{{"b": "2", "a": "1", "c": "3"}, {}, {"k": "v\x00w"}}},
		{Name: "b", Type: "Map(LowCardinality(String), String)", Values: ordered},
	}}
	if err := st.Insert(ctx, b); err != nil {
		t.Fatal(err)
	}
	out, err := st.QueryBytes(ctx, "SELECT n, s, toJSONString(a), toJSONString(b), mapKeys(b) FROM default.maps ORDER BY n", "TSVRaw", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "1\tone\t{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}\t{\"z\":\"1\",\"a\":\"\",\"é\\t\\\\\":\"x'y\\n\"}\t['z','a','é\\t\\\\']\n" +
		"2\ttwo\t{}\t{}\t[]\n" +
		"3\tthree\t{\"k\":\"v\\u0000w\"}\t{\"k\":\"v\"}\t['k']\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// A column whose values do not match its length is refused, not cut.
	b.Columns[2].Values = []map[string]string{{}}
	if err := st.Insert(ctx, b); err == nil {
		t.Error("a map column with 1 value for 3 rows was accepted")
	}
}
