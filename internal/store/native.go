package store

import (
	"fmt"
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
	for _, c := range b.Columns {
		if err := block.AddColumn(c.Name, column.Type(c.Type)); err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
		col := block.Columns[len(block.Columns)-1]
		if _, err := col.Append(c.Values); err != nil {
			return nil, fmt.Errorf("batch %s: column %s %s: %w", b.Table, c.Name, c.Type, err)
		}
		if col.Rows() != b.Rows {
			return nil, fmt.Errorf("batch %s: column %s has %d values, want %d", b.Table, c.Name, col.Rows(), b.Rows)
		}
	}
	buf := &chproto.Buffer{}
	// Revision 0 is the file form of Native: no block info, no per-column
	// serialization flags.
	if err := block.Encode(buf, 0); err != nil {
		return nil, fmt.Errorf("batch %s: encode: %w", b.Table, err)
	}
	return buf.Buf, nil
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
