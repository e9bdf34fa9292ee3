package chdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"sync"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// Conn is an engine connection of its own, outside the pools. The engine
// keeps a session per connection (settings changed by SET, the current
// database, temporary tables), so the ClickHouse HTTP interface gives each
// request a fresh one, or keeps one per HTTP session: what one client sets
// never reaches another. Opening one costs about 0.2 ms.
//
// A Conn runs one statement at a time; it is not safe for concurrent use.
type Conn struct {
	s      *Store
	c      *conn
	closed bool
	broken bool
}

// OpenConn opens a dedicated connection on the store's data. It renders
// times in the engine's own zone (the machine's), as a ClickHouse server
// does, not in the UTC the pools use. Close it when done.
func (s *Store) OpenConn() (*Conn, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	c, err := openConn(s.l, []string{"clickhouse", "--path=" + s.engineDir})
	if err != nil {
		return nil, err
	}
	s.dedicated.Add(1)
	return &Conn{s: s, c: c}, nil
}

// SpoolDir is where callers put files the engine reads (INSERT data), on the
// data directory's file system; it is emptied at start-up.
func (s *Store) SpoolDir() string { return s.spool }

// Broken reports a connection that can run nothing more.
func (c *Conn) Broken() bool { return c.broken }

// Close releases the connection.
func (c *Conn) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.c.close()
	c.s.dedicated.Done()
}

// Stats are the engine's counters for one statement, summed over its chunks.
type Stats struct {
	RowsRead, BytesRead       uint64
	RowsWritten, BytesWritten uint64
	Elapsed                   time.Duration
}

// Output is the running statement's output, in the format asked for, as the
// engine writes it.
type Output struct {
	conn   *Conn
	st     *stream
	mark   string
	stats  Stats
	done   bool
	err    error
	stopMu sync.Mutex
	stop   context.CancelFunc
}

// Stream starts sql on the connection and returns its output in format
// (the statement's own FORMAT clause wins, as in ClickHouse). Params bind
// {name:Type} placeholders with values in the form ClickHouse's HTTP
// interface receives them (its escaped text form), passed as they are.
//
// When ctx ends before the output does, the statement is killed in the
// engine (KILL QUERY from a pool connection) and Next returns ctx's error;
// the connection stays usable.
func (c *Conn) Stream(ctx context.Context, sql, format string, params store.Params) (*Output, error) {
	if c.closed || c.broken {
		return nil, store.ErrClosed
	}
	mark := newMark()
	q := mark + sql
	qb, f := []byte(q), []byte(format)
	a := newParamArrays(q, params, true)
	type started struct {
		res uintptr
	}
	done := make(chan started, 1)
	go func() {
		res := c.c.l.streamWithParamsN(c.c.raw(), bytesPtr(qb), uintptr(len(qb)), bytesPtr(f), uintptr(len(f)),
			a.namesPtr, a.nameLenPtr, a.valuesPtr, a.valLenPtr, a.n)
		runtime.KeepAlive(a)
		runtime.KeepAlive(qb)
		runtime.KeepAlive(f)
		done <- started{res}
	}()
	o := &Output{conn: c, mark: mark}
	var r started
	select {
	case r = <-done:
	case <-ctx.Done():
		c.s.kill(mark)
		r = <-done
	}
	res := result{c.c.l, r.res}
	if err := res.err(); err != nil {
		res.free()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	o.st = &stream{c: c.c, res: res}
	o.addStats(res)
	// A watcher kills the statement when ctx ends while Next waits in the
	// engine; it stops with the output.
	wctx, stop := context.WithCancel(context.Background())
	o.stop = stop
	go func() {
		select {
		case <-ctx.Done():
			c.s.kill(mark)
		case <-wctx.Done():
		}
	}()
	return o, nil
}

func (o *Output) addStats(r result) {
	l := r.l
	o.stats.RowsRead += l.resultRowsRead(r.ptr)
	o.stats.BytesRead += l.resultBytesRead(r.ptr)
	o.stats.RowsWritten += l.resultRowsWritten(r.ptr)
	o.stats.BytesWritten += l.resultBytesWritten(r.ptr)
	o.stats.Elapsed += time.Duration(l.resultElapsed(r.ptr) * float64(time.Second))
}

// Next returns the next chunk of output; (nil, nil) when the statement has
// finished. The chunk is the caller's to keep.
func (o *Output) Next() ([]byte, error) {
	if o.done || o.err != nil {
		return nil, o.err
	}
	if o.st == nil {
		return nil, store.ErrClosed
	}
	r := result{o.st.c.l, o.st.c.l.streamFetch(o.st.c.raw(), o.st.res.ptr)}
	defer r.free()
	if err := r.err(); err != nil {
		o.err = err
		return nil, err
	}
	o.addStats(r)
	b := r.bytes()
	// The engine ends the stream with the first chunk that read no rows
	// (the end of a JSON answer, say): fetching again is an error.
	if l := o.st.c.l; len(b) == 0 || l.resultRowsRead(r.ptr) == 0 {
		o.done = true
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// Stats returns the counters so far.
func (o *Output) Stats() Stats { return o.stats }

// Close stops the statement if it is still running and frees it.
func (o *Output) Close() {
	if o.st == nil {
		return
	}
	o.stop()
	o.st.finish(!o.done && o.err == nil)
	o.st = nil
}

// newMark returns a comment that starts the statement's text, so that
// system.processes tells which running query to kill.
func newMark() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "/* obsplane " + hex.EncodeToString(b[:]) + " */ "
}

// kill cancels the running statement whose text starts with mark. It runs
// on a connection of its own, so a busy read pool cannot delay it.
func (s *Store) kill(mark string) {
	c, err := s.OpenConn()
	if err != nil {
		return
	}
	defer c.Close()
	// Nothing to do about a failure: the statement may have ended on its
	// own meanwhile, and max_execution_time still bounds it.
	_, _ = c.c.query([]byte("KILL QUERY WHERE startsWith(query, {m:String}) ASYNC"), "TSV", store.Params{"m": mark})
}

// Exec runs a statement the engine cannot stream (INSERT, DDL, SET...)
// and returns its whole output in format, with the engine's counters.
//
// When ctx ends first the statement is killed in the engine; a connection
// whose buffered statement was killed does not answer again, so the Conn is
// then broken and only Close is left.
func (c *Conn) Exec(ctx context.Context, sql, format string, params store.Params) ([]byte, Stats, error) {
	if c.closed || c.broken {
		return nil, Stats{}, store.ErrClosed
	}
	mark := newMark()
	q := []byte(mark + sql)
	type done struct {
		out   []byte
		stats Stats
		err   error
	}
	ch := make(chan done, 1)
	go func() {
		r := c.c.run(q, format, params, true)
		defer r.free()
		if err := r.err(); err != nil {
			ch <- done{err: err}
			return
		}
		o := &Output{}
		o.addStats(r)
		ch <- done{out: r.bytes(), stats: o.stats}
	}()
	select {
	case d := <-ch:
		return d.out, d.stats, d.err
	case <-ctx.Done():
		c.s.kill(mark)
		c.broken = true
		d := <-ch
		if d.err == nil {
			return d.out, d.stats, nil
		}
		return nil, Stats{}, ctx.Err()
	}
}

// Query is Exec without parameters or counters, for small statements.
func (c *Conn) Query(ctx context.Context, sql, format string) ([]byte, error) {
	out, _, err := c.Exec(ctx, sql, format, nil)
	return out, err
}
