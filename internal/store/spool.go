package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Spool gathers the batches of one large insert as they are produced, and
// inserts them as one: the backfill fills one page by page, so that an
// insert of 100,000 rows neither waits for them all nor holds them in
// memory. The embedded engine pays about 0.1 s of CPU per INSERT into
// otel_logs whatever its size (the part's files, its skip indexes), so
// fewer, larger inserts cost several times less per row
// (docs/BENCHMARKS.md, backfill).
//
// A Spool is used by one goroutine at a time.
type Spool interface {
	// Add appends b's rows. Every batch of a spool has the table and the
	// columns of the first. An Add that fails leaves the spool as it was,
	// so it can be tried again.
	Add(b *Batch) error
	// Rows is the number of rows added so far.
	Rows() int
	// Insert writes every row added in one INSERT, with token and
	// skipStored meaning what Batch.DedupToken and Batch.SkipStored mean.
	// A failed Insert can be tried again; with a token it is idempotent.
	Insert(ctx context.Context, token string, skipStored bool) error
	// Close discards the spool.
	Close() error
}

// Spooler is a Store that keeps a spool's rows out of memory (the embedded
// one, in its spool directory, encoded as they are added).
type Spooler interface {
	NewSpool() (Spool, error)
}

// NewSpool returns st's own spool when it has one, else one that keeps the
// batches in memory and inserts them with st.Insert.
func NewSpool(st Store) (Spool, error) {
	if s, ok := st.(Spooler); ok {
		return s.NewSpool()
	}
	return &memorySpool{st: st}, nil
}

type memorySpool struct {
	st      Store
	batches []*Batch
	rows    int
}

func (m *memorySpool) Add(b *Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if len(m.batches) > 0 {
		if err := SameShape(m.batches[0], b); err != nil {
			return err
		}
	}
	m.batches = append(m.batches, b)
	m.rows += b.Rows
	return nil
}

func (m *memorySpool) Rows() int { return m.rows }

func (m *memorySpool) Insert(ctx context.Context, token string, skipStored bool) error {
	if m.rows == 0 {
		return nil
	}
	b, err := concat(m.batches)
	if err != nil {
		return err
	}
	b.DedupToken, b.SkipStored = token, skipStored
	return m.st.Insert(ctx, b)
}

func (m *memorySpool) Close() error {
	m.batches, m.rows = nil, 0
	return nil
}

// SameShape reports an error unless b has a's table and columns.
func SameShape(a, b *Batch) error {
	if a.Database != b.Database || a.Table != b.Table {
		return fmt.Errorf("spool: batch for %s after batches for %s", b.TableName(), a.TableName())
	}
	if len(a.Columns) != len(b.Columns) {
		return fmt.Errorf("spool %s: batch of %d columns after batches of %d", a.TableName(), len(b.Columns), len(a.Columns))
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || a.Columns[i].Type != b.Columns[i].Type {
			return fmt.Errorf("spool %s: column %d is %s %s, was %s %s", a.TableName(), i, b.Columns[i].Name, b.Columns[i].Type, a.Columns[i].Name, a.Columns[i].Type)
		}
	}
	return nil
}

// concat joins batches of one shape into one.
func concat(bs []*Batch) (*Batch, error) {
	if len(bs) == 1 {
		c := *bs[0]
		return &c, nil
	}
	first := bs[0]
	out := &Batch{Database: first.Database, Table: first.Table, Columns: make([]Column, len(first.Columns))}
	for _, b := range bs {
		out.Rows += b.Rows
	}
	for i, c := range first.Columns {
		t := reflect.TypeOf(c.Values)
		if t == nil || t.Kind() != reflect.Slice {
			return nil, errors.New("spool: column " + c.Name + " values are not a slice")
		}
		v := reflect.MakeSlice(t, 0, out.Rows)
		for _, b := range bs {
			w := reflect.ValueOf(b.Columns[i].Values)
			if w.Type() != t {
				return nil, fmt.Errorf("spool: column %s values are %s after %s", c.Name, w.Type(), t)
			}
			v = reflect.AppendSlice(v, w)
		}
		out.Columns[i] = Column{Name: c.Name, Type: c.Type, Values: v.Interface()}
	}
	return out, nil
}
