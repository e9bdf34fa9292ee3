// Package store is obsplane's only door to ClickHouse.
//
// Two implementations stand behind the Store interface: the embedded engine
// (package store/chdb, the default) and a ClickHouse server or cluster reached
// through clickhouse-go (package store/remote). Everything else in obsplane —
// schema migrations, the gateway's exporter, the read model, the router's
// flags, alert rules — talks to Store and never knows which one it has.
//
// User values always travel as bound parameters: a statement names them as
// {name:Type} placeholders and Params carries their text. Nothing in this
// package splices a value into SQL.
package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Params binds {name:Type} placeholders. Values are the parameter's text form
// (the engine converts it to Type), so "42" binds {n:UInt32} and
// "2026-01-02 03:04:05.000000000" binds {t:DateTime64(9)}.
type Params map[string]string

// paramEscaper writes a scalar value in the escaped-text form ClickHouse
// reads parameters with (the engine's API and the HTTP interface alike):
// there a backslash starts an escape, a raw tab or newline ends the value,
// and \N means NULL. Escaping them makes every byte of the value arrive as
// written. This is a wire encoding for the value channel, not SQL quoting:
// the value never becomes SQL text either way.
//
// Composite values (Array, Map, Tuple) are read as literals, whose quoted
// strings carry their own escapes, so they pass unchanged.
var paramEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\t", `\t`, "\r", `\r`, "\x00", `\0`)

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):\s*([A-Za-z]+)`)

// WireParams returns p with each value in the form ClickHouse reads a
// parameter's text in, given the placeholders' types in sql.
func WireParams(sql string, p Params) Params {
	if len(p) == 0 {
		return p
	}
	composite := map[string]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(sql, -1) {
		switch m[2] {
		case "Array", "Map", "Tuple":
			composite[m[1]] = true
		}
	}
	out := make(Params, len(p))
	for k, v := range p {
		if !composite[k] {
			v = paramEscaper.Replace(v)
		}
		out[k] = v
	}
	return out
}

// Store is a ClickHouse connection pool.
// Every method is safe for concurrent use.
type Store interface {
	// Exec runs a statement that returns no rows: DDL, INSERT ... SELECT,
	// ALTER, OPTIMIZE. Settings are applied to this statement only.
	Exec(ctx context.Context, sql string, params Params, settings ...Setting) error

	// Query runs a statement that returns rows and streams them back as
	// JSON objects, one per row, keyed by column name. The caller must Close
	// the Rows. Large results are not held in memory at once.
	Query(ctx context.Context, sql string, params Params, settings ...Setting) (Rows, error)

	// Insert writes a columnar batch in one INSERT. It is the fast path the
	// gateway and the backfill use. When b.DedupToken is set, a batch that
	// was already written with the same token is skipped by the engine (the
	// retry-after-crash case), so a replay never duplicates rows.
	Insert(ctx context.Context, b *Batch) error

	// Ping answers nil when the store can run a query now.
	Ping(ctx context.Context) error

	// Kind names the implementation ("embedded" or "remote") for logs,
	// metrics and status output.
	Kind() string

	// Close releases every connection. Pending calls return errors.
	Close() error
}

// Rows iterates over a result, one JSON object per row.
//
//	rows, err := st.Query(ctx, "SELECT count() AS n FROM otel.otel_logs", nil)
//	...
//	defer rows.Close()
//	for rows.Next() {
//		var r struct{ N uint64 `json:"n"` }
//		if err := rows.Scan(&r); err != nil { ... }
//	}
//	if err := rows.Err(); err != nil { ... }
//
// Integers, 64-bit ones included, arrive as JSON numbers; decode them into
// Go integer fields (not float64) to keep every digit.
type Rows interface {
	Next() bool
	// Raw returns the current row as a JSON object. The slice is only valid
	// until the next call to Next.
	Raw() []byte
	// Scan decodes the current row into dest with encoding/json.
	Scan(dest any) error
	// Err returns the error that ended iteration, if any.
	Err() error
	Close() error
}

// Each runs sql on st and calls f for each row, closing the rows whatever
// happens; an error from f ends the iteration and is returned as is.
func Each(ctx context.Context, st Store, sql string, params Params, f func(Rows) error, settings ...Setting) error {
	rows, err := st.Query(ctx, sql, params, settings...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ScanAll runs sql on st and decodes every row into an R.
func ScanAll[R any](ctx context.Context, st Store, sql string, params Params, settings ...Setting) ([]R, error) {
	var out []R
	err := Each(ctx, st, sql, params, func(rows Rows) error {
		var r R
		if err := rows.Scan(&r); err != nil {
			return fmt.Errorf("decode row: %w", err)
		}
		out = append(out, r)
		return nil
	}, settings...)
	return out, err
}

// Setting is one ClickHouse setting applied to a single statement, such as
// max_execution_time or max_result_rows. Query limits are enforced this way,
// by the engine, never by inspecting SQL.
type Setting struct {
	Name  string
	Value string
}

// Column is one column of a Batch.
//
// Values is a slice whose element type matches Type the way clickhouse-go's
// column appenders expect: []string for String and LowCardinality(String),
// []time.Time for DateTime64, []uint8 / []int32 / []uint64 / []float64 for the
// numeric types, []map[string]string for Map(LowCardinality(String), String),
// [][]time.Time, [][]string, [][]map[string]string for Arrays of those, and
// []float64 / [][]float64 / [][]uint64 for the metric columns.
type Column struct {
	Name   string
	Type   string
	Values any
}

// Batch is a set of rows for one table, held by column.
type Batch struct {
	Database string
	Table    string
	Columns  []Column
	// Rows is the number of rows; every Column's Values has this length.
	Rows int
	// DedupToken, when not empty, makes the insert idempotent: the engine
	// remembers recent tokens per table and skips a batch it has seen.
	DedupToken string
	// SkipStored leaves out rows equal, in every column of the batch, to a
	// row the table already holds within the batch's time range (its
	// TimeColumn). It
	// makes a replay idempotent when the token cannot: after a crash the
	// persistent queue re-batches the requests that were in flight, so a
	// replayed batch can mix rows already stored with new ones under a new
	// token. It costs a read of that time range, so the gateway sets it
	// only while recovering from a crash. Batches without a time column
	// ignore it; a store that cannot do it says so in its docs.
	SkipStored bool
}

// TimeColumn is the batch's event-time column, the range SkipStored reads:
// Timestamp (logs, traces) or TimeUnix (the metric tables); "" when it has
// neither.
func (b *Batch) TimeColumn() string {
	for _, name := range []string{"Timestamp", "TimeUnix"} {
		if b.HasColumn(name) {
			return name
		}
	}
	return ""
}

// HasColumn reports whether the batch has a column named name.
func (b *Batch) HasColumn(name string) bool {
	for _, c := range b.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Validate checks that every column has Rows values. It does not check types;
// the encoder reports a mismatched Values slice with the column's name.
func (b *Batch) Validate() error {
	if b.Table == "" {
		return errors.New("batch: table name is empty")
	}
	if len(b.Columns) == 0 {
		return errors.New("batch " + b.Table + ": no columns")
	}
	return nil
}

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("store is closed")

// Error is an error reported by the ClickHouse engine itself (as opposed to a
// transport or client-side failure). Code is ClickHouse's numeric error code
// when it could be read from the message, 0 otherwise.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Retryable reports whether err is worth retrying later with the same data:
// transport failures, timeouts, a store that is shutting down or overloaded.
// Syntax errors, type mismatches and unknown tables are not.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Code {
		case 159, // TIMEOUT_EXCEEDED
			164,  // READONLY (a replica in read-only mode)
			202,  // TOO_MANY_SIMULTANEOUS_QUERIES
			203,  // NO_FREE_CONNECTION
			209,  // SOCKET_TIMEOUT
			210,  // NETWORK_ERROR
			241,  // MEMORY_LIMIT_EXCEEDED
			242,  // TABLE_IS_READ_ONLY
			252,  // TOO_MANY_PARTS
			319,  // UNKNOWN_STATUS_OF_INSERT
			425,  // SYSTEM_ERROR
			999,  // KEEPER_EXCEPTION
			1002: // UNKNOWN_EXCEPTION
			return true
		}
		return false
	}
	if errors.Is(err, ErrClosed) {
		return false
	}
	// Context deadline and transport errors.
	return true
}

// DefaultTimeout bounds statements whose caller passed a context without a
// deadline, so a stuck engine cannot hang a caller forever.
const DefaultTimeout = 10 * time.Minute
