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
// ClickHouse HTTP interface accepts as a body.
//
// The column types every otel_* insert is made of (String, LowCardinality
// (String), DateTime64(p), the integers, Float64 and the attribute maps) are
// encoded with ch-go's typed columns; any other column with clickhouse-go's
// generic ones (the code that speaks the native protocol to servers), which
// convert value by value through reflection and cost several times more
// (docs/BENCHMARKS.md, backfill). Map values given as Go maps are written
// with their keys sorted, so equal maps give equal rows (and equal row
// hashes, which Batch.SkipStored compares).
func (b *Batch) EncodeNative() ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	// Typed columns first, so the output is allocated once at its size.
	cols := make([]chproto.ColInput, len(b.Columns))
	size := 16
	for i, c := range b.Columns {
		col, n, err := typedColumn(c)
		if err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
		cols[i] = col
		size += len(c.Name) + len(c.Type) + n + 16
	}
	buf := &chproto.Buffer{Buf: make([]byte, 0, size)}
	// Revision 0 is the file form of Native: no block info, no per-column
	// serialization flags.
	buf.PutUVarInt(uint64(len(b.Columns)))
	buf.PutUVarInt(uint64(b.Rows))
	for i, c := range b.Columns {
		buf.PutString(c.Name)
		buf.PutString(c.Type)
		var err error
		if cols[i] == nil {
			err = encodeGeneric(buf, c, b.Rows)
		} else {
			err = encodeTyped(buf, cols[i], b.Rows)
		}
		if err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
	}
	return buf.Buf, nil
}

// encodeTyped writes a ch-go column's data (state prefix, then values).
func encodeTyped(buf *chproto.Buffer, col chproto.ColInput, rows int) error {
	if col.Rows() != rows {
		return fmt.Errorf("%d values, want %d", col.Rows(), rows)
	}
	if p, ok := col.(chproto.Preparable); ok {
		if err := p.Prepare(); err != nil {
			return err
		}
	}
	if s, ok := col.(chproto.StateEncoder); ok {
		s.EncodeState(buf)
	}
	col.EncodeColumn(buf)
	return nil
}

// typedColumn is c as a ch-go column and about the size its encoding takes,
// or nil when c is not one of the types it handles here.
func typedColumn(c Column) (chproto.ColInput, int, error) {
	switch v := c.Values.(type) {
	case []string:
		n := 0
		for _, s := range v {
			n += len(s)
		}
		switch c.Type {
		case "String":
			col := newStr(len(v), n)
			col.AppendArr(v)
			return col, n + 2*len(v), nil
		case "LowCardinality(String)":
			col := (&chproto.ColStr{}).LowCardinality()
			col.AppendArr(v)
			return col, n + 4*len(v), nil
		}
	case []time.Time:
		p, ok := dateTime64Precision(c.Type)
		if !ok {
			return nil, 0, nil
		}
		col := (&chproto.ColDateTime64{}).WithPrecision(p)
		col.Data = make([]chproto.DateTime64, len(v))
		for i, t := range v {
			col.Data[i] = chproto.ToDateTime64(t, p)
		}
		return col, 8 * len(v), nil
	case []uint8:
		if c.Type == "UInt8" {
			return (*chproto.ColUInt8)(&v), len(v), nil
		}
	case []uint32:
		if c.Type == "UInt32" {
			return (*chproto.ColUInt32)(&v), 4 * len(v), nil
		}
	case []uint64:
		if c.Type == "UInt64" {
			return (*chproto.ColUInt64)(&v), 8 * len(v), nil
		}
	case []int64:
		if c.Type == "Int64" {
			return (*chproto.ColInt64)(&v), 8 * len(v), nil
		}
	case []float64:
		if c.Type == "Float64" {
			return (*chproto.ColFloat64)(&v), 8 * len(v), nil
		}
	case []map[string]string:
		if c.Type == attrMapType {
			entries, bytes := 0, 0
			for _, m := range v {
				entries += len(m)
				for _, val := range m {
					bytes += len(val)
				}
			}
			col := newAttrMap(len(v), entries, bytes)
			var kvs []chproto.KV[string, string]
			for _, m := range v {
				kvs = kvs[:0]
				for k, val := range m {
					kvs = append(kvs, chproto.KV[string, string]{Key: k, Value: val})
				}
				slices.SortFunc(kvs, func(a, b chproto.KV[string, string]) int { return strings.Compare(a.Key, b.Key) })
				col.AppendKV(kvs)
			}
			return col, 8*len(v) + 6*entries + bytes, nil
		}
	case []column.IterableOrderedMap:
		if c.Type == attrMapType {
			col := newAttrMap(len(v), 0, 0)
			bytes := 0
			for _, m := range v {
				if m != nil {
					it := m.Iterator()
					for it.Next() {
						k, ok1 := it.Key().(string)
						val, ok2 := it.Value().(string)
						if !ok1 || !ok2 {
							return nil, 0, fmt.Errorf("map entry %T: %T, want string: string", it.Key(), it.Value())
						}
						col.Keys.Append(k)
						col.Values.Append(val)
						bytes += len(val)
					}
				}
				col.Offsets.Append(uint64(col.Keys.Rows()))
			}
			return col, 8*len(v) + 6*col.Keys.Rows() + bytes, nil
		}
	}
	return nil, 0, nil
}

// newStr is a String column with room for n values of size bytes in all.
func newStr(n, size int) *chproto.ColStr {
	return &chproto.ColStr{Buf: make([]byte, 0, size), Pos: make([]chproto.Position, 0, n)}
}

// attrMapType is the ClickStack tables' attribute map type (schema.MapType).
const attrMapType = "Map(LowCardinality(String), String)"

// newAttrMap is an attribute map column with room for rows maps of
// entries entries and bytes bytes of values.
func newAttrMap(rows, entries, bytes int) *chproto.ColMap[string, string] {
	keys := (&chproto.ColStr{}).LowCardinality()
	keys.Values = make([]string, 0, entries)
	col := chproto.NewMap[string, string](keys, newStr(entries, bytes))
	col.Offsets = make(chproto.ColUInt64, 0, rows)
	return col
}

// dateTime64Precision reads p from "DateTime64(p)" (no time zone).
func dateTime64Precision(typ string) (chproto.Precision, bool) {
	if len(typ) != len("DateTime64(9)") || !strings.HasPrefix(typ, "DateTime64(") || typ[len(typ)-1] != ')' {
		return 0, false
	}
	p := chproto.Precision(typ[len("DateTime64(")] - '0')
	return p, p.Valid()
}

// encodeGeneric encodes a column with clickhouse-go's column encoders.
func encodeGeneric(buf *chproto.Buffer, c Column, rows int) error {
	block := proto.NewBlock()
	// Times are encoded as UTC instants; the column types carry no zone.
	block.ServerContext.Timezone = time.UTC
	if err := block.AddColumn(c.Name, column.Type(c.Type)); err != nil {
		return err
	}
	col := block.Columns[0]
	if _, err := col.Append(c.Values); err != nil {
		return err
	}
	if col.Rows() != rows {
		return fmt.Errorf("%d values, want %d", col.Rows(), rows)
	}
	if s, ok := col.(column.CustomSerialization); ok {
		if err := s.WriteStatePrefix(buf); err != nil {
			return err
		}
	}
	col.Encode(buf)
	return nil
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
