// Package chdb is the embedded store: the ClickHouse engine loaded in-process
// from libchdb.so (purego, no cgo), behind store.Store.
//
// The engine is process-global: one data directory per process. It runs one
// statement at a time per connection, while several connections on the same
// path run in parallel, so Store keeps two pools — one for writes (inserts and
// DDL) and one for reads — and ingestion never waits behind a user's query.
package chdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Config says where the library and the data live.
type Config struct {
	// LibPath is the path of libchdb.so.
	LibPath string
	// DataDir holds the engine's data. It is created if missing and locked
	// for the life of the Store.
	DataDir string
	// BackupPath is the directory under which the engine's BACKUP and
	// RESTORE may use File(...) (its backups.allowed_path); empty allows none.
	BackupPath string
	// ReadConns and WriteConns size the two pools (defaults 4 and 2).
	ReadConns  int
	WriteConns int
}

// Validate reports a Config that cannot work, before anything is touched.
func (c Config) Validate() error {
	if c.LibPath == "" {
		return fmt.Errorf("chdb: no library path; %s", InstallHint)
	}
	if c.DataDir == "" {
		return errors.New("chdb: no data directory (--data)")
	}
	if c.ReadConns < 0 || c.WriteConns < 0 {
		return errors.New("chdb: pool sizes must not be negative")
	}
	return nil
}

// Store is the embedded implementation of store.Store.
type Store struct {
	l      *lib
	dir    string
	lock   *os.File
	reads  chan *conn
	writes chan *conn
	all    []*conn
	spool  string // where insert blocks wait for the engine to read them
	// engineDir is the engine's --path; dedicated counts open Conns.
	engineDir string
	dedicated sync.WaitGroup
	mu        sync.RWMutex // held for reading by calls, for writing by Close
	closed    bool
	Version   string // engine version, e.g. 26.5.1.1
}

var (
	engineMu   sync.Mutex
	engineOpen string // data dir of the engine booted in this process
)

// Open loads the library, locks the data directory and boots the engine.
// Errors name the problem and what to do about it.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ReadConns == 0 {
		cfg.ReadConns = 4
	}
	if cfg.WriteConns == 0 {
		cfg.WriteConns = 2
	}
	l, err := loadLib(cfg.LibPath)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	engineMu.Lock()
	defer engineMu.Unlock()
	if engineOpen != "" {
		return nil, fmt.Errorf("the embedded engine in this process already serves %s; one data directory per process", engineOpen)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	spool := filepath.Join(dir, "spool")
	// Leftovers of a killed process are blocks nobody acknowledged.
	_ = os.RemoveAll(spool)
	if err := os.MkdirAll(spool, 0o750); err != nil {
		unlockDir(lock)
		return nil, fmt.Errorf("create spool directory %s: %w", spool, err)
	}
	s := &Store{
		spool:  spool,
		l:      l,
		dir:    dir,
		lock:   lock,
		reads:  make(chan *conn, cfg.ReadConns),
		writes: make(chan *conn, cfg.WriteConns),
	}
	engineDir := filepath.Join(dir, "clickhouse")
	s.engineDir = engineDir
	for i := 0; i < cfg.ReadConns+cfg.WriteConns; i++ {
		// Integers in JSON stay numbers (the interface contract), whatever
		// the engine's default for 64-bit ones.
		args := []string{"clickhouse", "--path=" + engineDir, "--output_format_json_quote_64bit_integers=0"}
		if cfg.BackupPath != "" {
			args = append(args, "--backups.allowed_path="+cfg.BackupPath)
		}
		c, err := openConn(l, args)
		if err != nil {
			s.closeConns()
			unlockDir(lock)
			return nil, err
		}
		s.all = append(s.all, c)
		// Times render in UTC, as the APIs parse them, whatever the
		// machine's zone (TZ). A session setting: the engine ignores it as
		// a connect argument, so each connection sets it once.
		if _, err := c.query([]byte("SET session_timezone = 'UTC'"), "TSV", nil); err != nil {
			s.closeConns()
			unlockDir(lock)
			return nil, fmt.Errorf("chdb: set session_timezone: %w", err)
		}
		if i < cfg.WriteConns {
			s.writes <- c
		} else {
			s.reads <- c
		}
	}
	out, err := s.all[0].query([]byte("SELECT version()"), "TSVRaw", nil)
	if err != nil {
		s.closeConns()
		unlockDir(lock)
		return nil, fmt.Errorf("chdb: first query failed: %w", err)
	}
	s.Version = strings.TrimSpace(string(out))
	if !strings.HasPrefix(s.Version, SupportedVersion+".") {
		s.closeConns()
		unlockDir(lock)
		return nil, fmt.Errorf("libchdb %s is engine version %s; obsplane needs %s.x; %s", cfg.LibPath, s.Version, SupportedVersion, InstallHint)
	}
	engineOpen = dir
	return s, nil
}

// lockDir takes an exclusive flock on DIR/obsplane.lock and writes our pid in
// it, so a second process gets "in use by pid N" instead of corrupting data.
// The kernel drops the lock when the process dies, kill -9 included.
func lockDir(dir string) (*os.File, error) {
	p := filepath.Join(dir, "obsplane.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		pid := strings.TrimSpace(string(b))
		if pid == "" {
			pid = "unknown"
		}
		return nil, fmt.Errorf("data directory %s is in use by pid %s; stop that obsplane or choose another --data", dir, pid)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func unlockDir(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}

// Kind implements store.Store.
func (s *Store) Kind() string { return "embedded" }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// acquire takes a connection from pool, honouring ctx.
func (s *Store) acquire(ctx context.Context, pool chan *conn) (*conn, func(), error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, nil, store.ErrClosed
	}
	select {
	case c := <-pool:
		return c, func() { pool <- c; s.mu.RUnlock() }, nil
	case <-ctx.Done():
		s.mu.RUnlock()
		return nil, nil, fmt.Errorf("wait for a connection: %w", ctx.Err())
	}
}

var (
	settingName  = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	numericValue = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

// withSettings appends a SETTINGS clause. Names must be identifiers; values
// are numbers or are quoted as string literals.
func withSettings(sql string, settings []store.Setting) (string, error) {
	if len(settings) == 0 {
		return sql, nil
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(sql, " \n\t;"))
	b.WriteString(" SETTINGS ")
	for i, st := range settings {
		if !settingName.MatchString(st.Name) {
			return "", fmt.Errorf("invalid setting name %q", st.Name)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(st.Name)
		b.WriteString(" = ")
		if numericValue.MatchString(st.Value) {
			b.WriteString(st.Value)
		} else {
			b.WriteString(store.QuoteString(st.Value))
		}
	}
	return b.String(), nil
}

// run executes fn on a connection in a goroutine so the caller can give up
// when ctx ends. The engine has no way to cancel a buffered statement, so a
// statement that outlives ctx keeps its connection until it finishes; the
// per-statement max_execution_time callers set is what really bounds it.
func (s *Store) run(ctx context.Context, pool chan *conn, fn func(c *conn) error) error {
	ctx, cancel := deadline(ctx)
	defer cancel()
	c, release, err := s.acquire(ctx, pool)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		defer release()
		done <- fn(c)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exec implements store.Store. It runs on the write pool.
func (s *Store) Exec(ctx context.Context, sql string, params store.Params, settings ...store.Setting) error {
	q, err := withSettings(sql, settings)
	if err != nil {
		return err
	}
	return s.run(ctx, s.writes, func(c *conn) error {
		_, err := c.query([]byte(q), "TSV", params)
		return err
	})
}

// QueryBytes runs a statement on the read pool and returns its whole output in
// format. It is for small results and for the ClickHouse HTTP interface.
func (s *Store) QueryBytes(ctx context.Context, sql, format string, params store.Params, settings ...store.Setting) ([]byte, error) {
	q, err := withSettings(sql, settings)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = s.run(ctx, s.reads, func(c *conn) error {
		out, err = c.query([]byte(q), format, params)
		return err
	})
	return out, err
}

// Insert implements store.Store: the batch is encoded in Native format and
// read by the engine from a spool file (the insert paths measured are in
// docs/BENCHMARKS.md), on the write pool.
func (s *Store) Insert(ctx context.Context, b *store.Batch) error {
	sp := &spool{s: s}
	defer sp.Close()
	if err := sp.Add(b); err != nil {
		return err
	}
	return sp.Insert(ctx, b.DedupToken, b.SkipStored)
}

// NewSpool implements store.Spooler: each batch added is encoded as a
// Native block and appended to a file in the spool directory, and Insert
// has the engine read the whole file in one INSERT.
func (s *Store) NewSpool() (store.Spool, error) { return &spool{s: s}, nil }

// spool is an insert assembled in a file of Native blocks. The engine reads
// the block from a file: Native data passed inline with the statement is
// cut short past ~400 KB by the query reader.
type spool struct {
	s     *Store
	f     *os.File
	size  int64
	first *store.Batch // the shape every batch must have
	rows  int
}

func (p *spool) Add(b *store.Batch) error {
	data, err := b.EncodeNative()
	if err != nil {
		return err
	}
	if p.f == nil {
		f, err := os.CreateTemp(p.s.spool, "insert-*.native")
		if err != nil {
			return fmt.Errorf("insert into %s: spool: %w", b.TableName(), err)
		}
		p.f, p.first = f, &store.Batch{Database: b.Database, Table: b.Table, Columns: b.Columns}
	} else if err := store.SameShape(p.first, b); err != nil {
		return err
	}
	if _, err := p.f.Write(data); err != nil {
		// Cut back to the blocks before this one (a full disk leaves a
		// partial block), so the spool stays whole and Add can be retried.
		_ = p.f.Truncate(p.size)
		_, _ = p.f.Seek(p.size, io.SeekStart)
		return fmt.Errorf("insert into %s: spool: %w", b.TableName(), err)
	}
	p.size += int64(len(data))
	p.rows += b.Rows
	return nil
}

func (p *spool) Rows() int { return p.rows }

func (p *spool) Insert(ctx context.Context, token string, skipStored bool) error {
	if p.rows == 0 {
		return nil
	}
	b := p.first
	var settings []store.Setting
	if token != "" {
		settings = append(settings,
			store.Setting{Name: "insert_deduplicate", Value: "1"},
			store.Setting{Name: "insert_deduplication_token", Value: token})
	}
	sql := "INSERT INTO " + b.TableName() + " " + b.ColumnList() + " SELECT * FROM file({path:String}, 'Native')"
	if tc := b.TimeColumn(); skipStored && tc != "" {
		// A row is its batch columns' hash; the stored side is read only
		// over the batch's own time range.
		row := "cityHash64" + b.ColumnList()
		sql += " WHERE " + row + " NOT IN (SELECT " + row + " FROM " + b.TableName() +
			" WHERE " + tc + " >= (SELECT min(" + tc + ") FROM file({path:String}, 'Native'))" +
			" AND " + tc + " <= (SELECT max(" + tc + ") FROM file({path:String}, 'Native')))"
	}
	q, err := withSettings(sql, settings)
	if err != nil {
		return err
	}
	path := p.f.Name()
	err = p.s.run(ctx, p.s.writes, func(c *conn) error {
		_, err := c.query([]byte(q), "TSV", store.Params{"path": path})
		return err
	})
	if err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", p.rows, b.TableName(), err)
	}
	return nil
}

func (p *spool) Close() error {
	if p.f == nil {
		return nil
	}
	_ = p.f.Close()
	err := os.Remove(p.f.Name())
	p.f, p.rows, p.size = nil, 0, 0
	return err
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.QueryBytes(ctx, "SELECT 1", "TSV", nil)
	return err
}

// Query implements store.Store. Rows are streamed from the engine in chunks
// of blocks, so a large read holds one chunk at a time.
func (s *Store) Query(ctx context.Context, sql string, params store.Params, settings ...store.Setting) (store.Rows, error) {
	q, err := withSettings(sql, settings)
	if err != nil {
		return nil, err
	}
	c, release, err := s.acquire(ctx, s.reads)
	if err != nil {
		return nil, err
	}
	st, err := c.stream(q, "JSONEachRow", params)
	if err != nil {
		release()
		return nil, err
	}
	return &rows{ctx: ctx, st: st, release: release}, nil
}

// rows streams JSONEachRow output line by line.
type rows struct {
	ctx     context.Context
	st      *stream
	release func()
	buf     []byte // unread part of the current chunk
	cur     []byte
	err     error
	done    bool
}

func (r *rows) Next() bool {
	for {
		if r.err != nil || r.st == nil {
			return false
		}
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			r.cur, r.buf = r.buf[:i], r.buf[i+1:]
			if len(r.cur) == 0 {
				continue
			}
			return true
		}
		if r.done {
			if len(bytes.TrimSpace(r.buf)) > 0 {
				r.cur, r.buf = r.buf, nil
				return true
			}
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		chunk, err := r.st.next()
		if err != nil {
			r.err = err
			return false
		}
		if len(chunk) == 0 {
			r.done = true
			continue
		}
		if len(r.buf) == 0 {
			r.buf = chunk
		} else {
			r.buf = append(r.buf, chunk...)
		}
	}
}

func (r *rows) Raw() []byte { return r.cur }

func (r *rows) Scan(dest any) error {
	if err := json.Unmarshal(r.cur, dest); err != nil {
		return fmt.Errorf("decode row: %w", err)
	}
	return nil
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if r.st == nil {
		return nil
	}
	r.st.finish(!r.done)
	r.st = nil
	r.release()
	return nil
}

// Close implements store.Store: it waits for running calls, closes every
// connection (the engine flushes and shuts down) and unlocks the directory.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.waitDedicated(10 * time.Second)
	s.closeConns()
	unlockDir(s.lock)
	engineMu.Lock()
	engineOpen = ""
	engineMu.Unlock()
	return nil
}

// waitDedicated gives the dedicated connections still open up to d to be
// closed by their owners (the HTTP interface closes its sessions as it
// stops), so the engine is not shut down under a running statement.
func (s *Store) waitDedicated(d time.Duration) {
	done := make(chan struct{})
	go func() { s.dedicated.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (s *Store) closeConns() {
	// Close in reverse: the last close shuts the engine down.
	for i := len(s.all) - 1; i >= 0; i-- {
		s.all[i].close()
	}
	s.all = nil
}

var _ store.Store = (*Store)(nil)

// deadline returns ctx with store.DefaultTimeout when it has no deadline.
func deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, store.DefaultTimeout)
}
