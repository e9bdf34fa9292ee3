package store

import (
	"fmt"
	"slices"
	"strings"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// EncodeNative returns b in ClickHouse's Native format: one block, columns in
// order. Native is the engine's own columnar layout, so reading it back costs
// little more than a copy; it is what the embedded store inserts and what the
// ClickHouse HTTP interface accepts as a body. The column encoders are
// clickhouse-go's, the same code that speaks the native protocol to servers.
func (b *Batch) EncodeNative() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	block := proto.NewBlock()
	// Times are encoded as UTC instants; the column types carry no zone.
	block.ServerContext.Timezone = time.UTC
	// Sized up front: growing the buffer block by block copied it over and
	// over, most of the encoder's time after the maps.
	buf := &chproto.Buffer{Buf: make([]byte, 0, b.sizeHint())}
	// Revision 0 is the file form of Native: no block info, no per-column
	// serialization flags; so the header is the column and row counts, and
	// each column its name, type, state prefix and data.
	buf.PutUVarInt(uint64(len(b.Columns)))
	buf.PutUVarInt(uint64(b.Rows))
	for _, c := range b.Columns {
		if fast, err := encodeStrMap(buf, c, b.Rows); err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		} else if fast {
			continue
		}
		if err := block.AddColumn(c.Name, column.Type(c.Type)); err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
		i := len(block.Columns) - 1
		col := block.Columns[i]
		if _, err := col.Append(c.Values); err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
		if col.Rows() != b.Rows {
			return nil, fmt.Errorf("batch %s: column %s has %d values, want %d", b.Table, c.Name, col.Rows(), b.Rows)
		}
		if err := block.EncodeColumn(buf, 0, i); err != nil {
			return nil, fmt.Errorf("batch %s: encode: %w", b.Table, err)
		}
	}
	return buf.Buf, nil
}

// sizeHint estimates the encoded size: the bytes of string and map columns
// plus 16 bytes a value for the rest.
func (b *Batch) sizeHint() int {
	n := 64
	for _, c := range b.Columns {
		switch vs := c.Values.(type) {
		case []string:
			for _, v := range vs {
				n += len(v) + 2
			}
		case []map[string]string:
			for _, m := range vs {
				for k, v := range m {
					n += len(k) + len(v) + 12
				}
			}
		default:
			n += 16 * b.Rows
		}
	}
	return n
}

// strMapType is the type of every attribute map of the telemetry tables.
const strMapType = "Map(LowCardinality(String), String)"

// encodeStrMap writes an attribute-map column (strMapType, from
// []map[string]string or clickhouse-go's []column.IterableOrderedMap) with
// ch-go's typed columns, and reports false for any other column. The
// generic encoder reflects over every key and value; for the maps, most of
// a log row's bytes, that was 43% of the CPU of encoding a batch of logs
// (BenchmarkEncodeNative in bench/). A Go map's keys are written sorted,
// so equal maps encode to equal bytes; an ordered map keeps its order.
func encodeStrMap(buf *chproto.Buffer, c Column, rows int) (bool, error) {
	if c.Type != strMapType {
		return false, nil
	}
	keys, values := new(chproto.ColStr).LowCardinality(), new(chproto.ColStr)
	m := chproto.NewMap[string, string](keys, values)
	m.Offsets = make(chproto.ColUInt64, 0, rows)
	var kv []chproto.KV[string, string]
	switch vs := c.Values.(type) {
	case []map[string]string:
		if len(vs) != rows {
			return false, fmt.Errorf("%d values, want %d", len(vs), rows)
		}
		entries, size := 0, 0
		for _, v := range vs {
			entries += len(v)
			for _, x := range v {
				size += len(x)
			}
		}
		keys.Values = make([]string, 0, entries)
		values.Buf, values.Pos = make([]byte, 0, size), make([]chproto.Position, 0, entries)
		var sorted []string
		for _, v := range vs {
			sorted = sorted[:0]
			for k := range v {
				sorted = append(sorted, k)
			}
			slices.Sort(sorted)
			kv = kv[:0]
			for _, k := range sorted {
				kv = append(kv, chproto.KV[string, string]{Key: k, Value: v[k]})
			}
			m.AppendKV(kv)
		}
	case []column.IterableOrderedMap:
		if len(vs) != rows {
			return false, fmt.Errorf("%d values, want %d", len(vs), rows)
		}
		entries := 0
		for _, v := range vs {
			if v != nil {
				for it := v.Iterator(); it.Next(); {
					entries++
				}
			}
		}
		keys.Values = make([]string, 0, entries)
		values.Pos = make([]chproto.Position, 0, entries)
		for _, v := range vs {
			kv = kv[:0]
			if v != nil {
				for it := v.Iterator(); it.Next(); {
					k, ok1 := it.Key().(string)
					x, ok2 := it.Value().(string)
					if !ok1 || !ok2 {
						return false, fmt.Errorf("map entry %T: %T, want string: string", it.Key(), it.Value())
					}
					kv = append(kv, chproto.KV[string, string]{Key: k, Value: x})
				}
			}
			m.AppendKV(kv)
		}
	default:
		return false, nil
	}
	if err := m.Prepare(); err != nil {
		return false, err
	}
	buf.PutString(c.Name)
	buf.PutString(c.Type)
	m.EncodeState(buf)
	m.EncodeColumn(buf)
	return true, nil
}

// ColumnList returns the batch's column names as a parenthesized, quoted list
// for an INSERT statement. Names come from code, never from users, but they
// are quoted anyway so a reserved word cannot break the statement.
func (b *Batch) ColumnList() string {
	s := make([]byte, 0, 16*len(b.Columns))
	s = append(s, '(')
	for i, c := range b.Columns {
		if i > 0 {
			s = append(s, ", "...)
		}
		s = append(s, QuoteIdent(c.Name)...)
	}
	return string(append(s, ')'))
}

// QuoteIdent quotes a ClickHouse identifier with backquotes.
func QuoteIdent(name string) string {
	out := make([]byte, 0, len(name)+2)
	out = append(out, '`')
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '`', '\\':
			out = append(out, '\\')
		}
		out = append(out, name[i])
	}
	return string(append(out, '`'))
}

// QuoteString quotes v as a ClickHouse string literal, for the few places a
// value must be SQL text (a SET statement's value); values of queries
// travel as bound parameters instead.
func QuoteString(v string) string {
	return "'" + stringEscaper.Replace(v) + "'"
}

var stringEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

// TableName returns the batch's fully qualified, quoted table name.
func (b *Batch) TableName() string {
	if b.Database == "" {
		return QuoteIdent(b.Table)
	}
	return QuoteIdent(b.Database) + "." + QuoteIdent(b.Table)
}
