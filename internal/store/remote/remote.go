// Package remote is the store on a ClickHouse server or cluster, through
// clickhouse-go v2 over the native protocol (clickhouse://host:9000) or HTTP
// (http://host:8123). It implements the same store.Store as the embedded
// engine, so the rest of obsplane cannot tell them apart. Over HTTP, inserts
// bypass clickhouse-go's batch (httpinsert.go).
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/openchoreo/obsplane/internal/store"
)

// Config names the server.
type Config struct {
	// DSN is clickhouse://user:pass@host:9000/db?settings or http://host:8123/db.
	DSN string
	// MaxOpenConns bounds the pool (default 16).
	MaxOpenConns int
}

// Options parses cfg.DSN into clickhouse-go options, with lz4 on the native
// protocol. Errors never echo the password.
func Options(cfg Config) (*clickhouse.Options, error) {
	if cfg.DSN == "" {
		return nil, errors.New("clickhouse dsn is empty")
	}
	dsn := cfg.DSN
	if strings.HasPrefix(dsn, "tcp://") {
		dsn = "clickhouse://" + strings.TrimPrefix(dsn, "tcp://")
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse clickhouse dsn: %s", redact(err.Error(), cfg.DSN))
	}
	if opts.Protocol == clickhouse.Native && opts.Compression == nil {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	if cfg.MaxOpenConns > 0 {
		opts.MaxOpenConns = cfg.MaxOpenConns
	} else if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 16
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	// Times are UTC on the wire both ways (DateTime64 columns without a
	// zone render in the session's zone), whatever the server's zone.
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	if _, set := opts.Settings["session_timezone"]; !set {
		opts.Settings["session_timezone"] = "UTC"
	}
	return opts, nil
}

func redact(msg, dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return strings.ReplaceAll(msg, dsn[j+3:i], "***")
		}
	}
	return msg
}

// Store is the clickhouse-go implementation of store.Store.
type Store struct {
	conn driver.Conn
	opts *clickhouse.Options
	// http sends inserts over the HTTP protocol (nil on the native one).
	http *httpInserter
}

// Open connects lazily: a server that is down makes Ping fail (and /readyz
// answer 503), not start-up.
func Open(cfg Config) (*Store, error) {
	opts, err := Options(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", opts.Addr, err)
	}
	h, err := newHTTPInserter(opts)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &Store{conn: conn, opts: opts, http: h}, nil
}

// Kind implements store.Store.
func (s *Store) Kind() string { return "remote" }

func (s *Store) context(ctx context.Context, sql string, params store.Params, settings []store.Setting) context.Context {
	var co []clickhouse.QueryOption
	if len(params) > 0 {
		// Values travel in ClickHouse's escaped text form, as the server
		// reads them: a tab or a backslash in a value is escaped, not a
		// delimiter (found running this store against the real engine).
		p := clickhouse.Parameters{}
		for k, v := range store.WireParams(sql, params) {
			p[k] = v
		}
		co = append(co, clickhouse.WithParameters(p))
	}
	if len(settings) > 0 {
		st := clickhouse.Settings{}
		for _, x := range settings {
			st[x.Name] = x.Value
		}
		co = append(co, clickhouse.WithSettings(st))
	}
	if len(co) == 0 {
		return ctx
	}
	return clickhouse.Context(ctx, co...)
}

// Exec implements store.Store.
func (s *Store) Exec(ctx context.Context, sql string, params store.Params, settings ...store.Setting) error {
	return wrap(s.conn.Exec(s.context(ctx, sql, params, settings), sql))
}

// Query implements store.Store. Values are converted to the JSON forms the
// engine's JSONEachRow uses, so callers decode the same shapes from both
// stores.
func (s *Store) Query(ctx context.Context, sql string, params store.Params, settings ...store.Setting) (store.Rows, error) {
	rs, err := s.conn.Query(s.context(ctx, sql, params, settings), sql)
	if err != nil {
		return nil, wrap(err)
	}
	cols := rs.ColumnTypes()
	r := &rows{rs: rs, names: make([]string, len(cols)), types: make([]reflect.Type, len(cols))}
	for i, c := range cols {
		r.names[i] = c.Name()
		r.types[i] = c.ScanType()
	}
	return r, nil
}

// Insert implements store.Store with a columnar batch.
func (s *Store) Insert(ctx context.Context, b *store.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	var settings []store.Setting
	if b.DedupToken != "" {
		settings = append(settings,
			store.Setting{Name: "insert_deduplicate", Value: "1"},
			store.Setting{Name: "insert_deduplication_token", Value: b.DedupToken})
	}
	if s.http != nil {
		if err := s.http.insert(ctx, b, settings); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", b.Rows, b.TableName(), err)
		}
		return nil
	}
	ctx = s.context(ctx, "", nil, settings)
	batch, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+b.TableName()+" "+b.ColumnList())
	if err != nil {
		return fmt.Errorf("insert into %s: %w", b.TableName(), wrap(err))
	}
	defer func() { _ = batch.Abort() }()
	for i, c := range b.Columns {
		if err := batch.Column(i).Append(c.Values); err != nil {
			return fmt.Errorf("insert into %s: column %s %s: %w", b.TableName(), c.Name, c.Type, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", b.Rows, b.TableName(), wrap(err))
	}
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return wrap(s.conn.Ping(ctx)) }

// Close implements store.Store.
func (s *Store) Close() error { return s.conn.Close() }

// wrap turns a server exception into *store.Error so store.Retryable can
// classify it the same way for both stores.
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return &store.Error{Code: int(ex.Code), Message: ex.Error()}
	}
	return err
}

type rows struct {
	rs    driver.Rows
	names []string
	types []reflect.Type
	cur   []byte
	err   error
}

func (r *rows) Next() bool {
	if r.err != nil || !r.rs.Next() {
		return false
	}
	vals := make([]any, len(r.types))
	for i, t := range r.types {
		vals[i] = reflect.New(t).Interface()
	}
	if err := r.rs.Scan(vals...); err != nil {
		r.err = err
		return false
	}
	r.cur, r.err = RowJSON(r.names, vals)
	return r.err == nil
}

// RowJSON renders one scanned row as a JSON object in column order, with
// values in the engine's JSONEachRow forms: times as "YYYY-MM-DD hh:mm:ss[.f]"
// in UTC, maps as objects, arrays as arrays.
func RowJSON(names []string, ptrs []any) ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(jsonValue(reflect.ValueOf(ptrs[i]).Elem().Interface()))
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", n, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return formatTime(x)
	case *time.Time:
		if x == nil {
			return nil
		}
		return formatTime(*x)
	case []time.Time:
		out := make([]string, len(x))
		for i, t := range x {
			out[i] = formatTime(t)
		}
		return out
	}
	return v
}

func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000000")
}

func (r *rows) Raw() []byte { return r.cur }

func (r *rows) Scan(dest any) error {
	if err := json.Unmarshal(r.cur, dest); err != nil {
		return fmt.Errorf("decode row: %w", err)
	}
	return nil
}

func (r *rows) Err() error {
	if r.err != nil {
		return r.err
	}
	return wrap(r.rs.Err())
}

func (r *rows) Close() error { return r.rs.Close() }

var _ store.Store = (*Store)(nil)
