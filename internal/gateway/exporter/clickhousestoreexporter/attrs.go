package clickhousestoreexporter

import (
	"encoding/hex"

	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attrMap is one Map(LowCardinality(String), String) value: the attributes
// in their pdata order (the contrib exporter keeps that order too), held as
// two slices instead of a Go map so a 100,000-row batch does not allocate
// 100,000 hash maps. It implements clickhouse-go's IterableOrderedMap, which
// the column encoders of both stores accept.
type attrMap struct {
	keys, vals []string
}

var _ column.IterableOrderedMap = (*attrMap)(nil)

func (m *attrMap) Put(k, v any) {
	m.keys = append(m.keys, k.(string))
	m.vals = append(m.vals, v.(string))
}

func (m *attrMap) Iterator() column.MapIterator { return &attrIter{m: m, i: -1} }

type attrIter struct {
	m *attrMap
	i int
}

func (it *attrIter) Next() bool { it.i++; return it.i < len(it.m.keys) }
func (it *attrIter) Key() any   { return it.m.keys[it.i] }
func (it *attrIter) Value() any { return it.m.vals[it.i] }

// toMap converts attributes the way the contrib exporter does: every value
// as Value.AsString (strings as they are, other types as their JSON form).
func toMap(attrs pcommon.Map) column.IterableOrderedMap {
	m := &attrMap{keys: make([]string, 0, attrs.Len()), vals: make([]string, 0, attrs.Len())}
	attrs.Range(func(k string, v pcommon.Value) bool {
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, v.AsString())
		return true
	})
	return m
}

// serviceName is resource attribute service.name, or "".
func serviceName(res pcommon.Map) string {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return ""
}

// traceIDOrEmpty and spanIDOrEmpty write an all-zero (unset) id as "", as
// the contrib exporter does for log and span columns.
func traceIDOrEmpty(id pcommon.TraceID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

func spanIDOrEmpty(id pcommon.SpanID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}
