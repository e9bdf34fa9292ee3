package chdb

import (
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/openchoreo/obsplane/internal/store"
)

// conn is one engine connection. The engine runs one statement at a time per
// connection, so a conn is used by one goroutine at a time (the pool hands
// them out); several conns on the same path run in parallel.
type conn struct {
	l      *lib
	handle *uintptr // chdb_connection* (what close takes)
}

// raw is the chdb_connection the query functions take.
func (c *conn) raw() uintptr { return *c.handle }

func openConn(l *lib, args []string) (*conn, error) {
	argv := make([]*byte, len(args)+1)
	for i, a := range args {
		argv[i] = cstr(a)
	}
	h := l.connect(int32(len(args)), &argv[0])
	runtime.KeepAlive(argv)
	if h == nil || *h == 0 {
		return nil, fmt.Errorf("chdb connect %v failed (is the data directory readable and writable?)", args[1:])
	}
	return &conn{l: l, handle: h}, nil
}

func (c *conn) close() {
	if c.handle != nil {
		c.l.closeConn(c.handle)
		c.handle = nil
	}
}

// paramArrays lays params out as the parallel C arrays chdb wants. The
// returned holder keeps the Go memory alive until the call returns.
type paramArrays struct {
	names, values         []*byte
	nameLens, valueLens   []uintptr
	nameBufs, valueBufs   [][]byte
	namesPtr, valuesPtr   **byte
	nameLenPtr, valLenPtr *uintptr
	n                     uintptr
}

// newParamArrays lays out p for a call. Values are escaped for the engine
// unless raw, which passes values already in the engine's text form (as the
// ClickHouse HTTP interface receives them from its clients).
func newParamArrays(sql string, p store.Params, raw bool) *paramArrays {
	a := &paramArrays{n: uintptr(len(p))}
	if len(p) == 0 {
		return a
	}
	if !raw {
		p = store.WireParams(sql, p)
	}
	for k, v := range p {
		kb, vb := []byte(k), []byte(v)
		a.nameBufs = append(a.nameBufs, kb)
		a.valueBufs = append(a.valueBufs, vb)
		a.names = append(a.names, bytesPtr(kb))
		a.values = append(a.values, bytesPtr(vb))
		a.nameLens = append(a.nameLens, uintptr(len(kb)))
		a.valueLens = append(a.valueLens, uintptr(len(vb)))
	}
	a.namesPtr, a.valuesPtr = &a.names[0], &a.values[0]
	a.nameLenPtr, a.valLenPtr = &a.nameLens[0], &a.valueLens[0]
	return a
}

// query runs a statement and returns its whole output in format. It is for
// statements with small or no output; large reads go through stream.
func (c *conn) query(sql []byte, format string, params store.Params) ([]byte, error) {
	r := c.run(sql, format, params, false)
	defer r.free()
	if err := r.err(); err != nil {
		return nil, err
	}
	return r.bytes(), nil
}

// run is query returning the result itself (the caller frees it); raw
// passes parameter values as they are (see newParamArrays).
func (c *conn) run(sql []byte, format string, params store.Params, raw bool) result {
	f := []byte(format)
	var res uintptr
	if len(params) == 0 {
		res = c.l.queryN(c.raw(), bytesPtr(sql), uintptr(len(sql)), bytesPtr(f), uintptr(len(f)))
	} else {
		a := newParamArrays(string(sql), params, raw)
		res = c.l.queryWithParamsN(c.raw(), bytesPtr(sql), uintptr(len(sql)), bytesPtr(f), uintptr(len(f)),
			a.namesPtr, a.nameLenPtr, a.valuesPtr, a.valLenPtr, a.n)
		runtime.KeepAlive(a)
	}
	runtime.KeepAlive(sql)
	runtime.KeepAlive(f)
	return result{c.l, res}
}

// stream starts a streaming query; the caller fetches chunks with next and
// must call finish.
type stream struct {
	c   *conn
	res result
}

func (c *conn) stream(sql, format string, params store.Params) (*stream, error) {
	q, f := []byte(sql), []byte(format)
	a := newParamArrays(sql, params, false)
	res := c.l.streamWithParamsN(c.raw(), bytesPtr(q), uintptr(len(q)), bytesPtr(f), uintptr(len(f)),
		a.namesPtr, a.nameLenPtr, a.valuesPtr, a.valLenPtr, a.n)
	runtime.KeepAlive(a)
	runtime.KeepAlive(q)
	runtime.KeepAlive(f)
	r := result{c.l, res}
	if err := r.err(); err != nil {
		r.free()
		return nil, err
	}
	return &stream{c: c, res: r}, nil
}

// next returns the next chunk of output; an empty chunk with a nil error
// means the stream ended.
func (s *stream) next() ([]byte, error) {
	r := result{s.c.l, s.c.l.streamFetch(s.c.raw(), s.res.ptr)}
	defer r.free()
	if err := r.err(); err != nil {
		return nil, err
	}
	return r.bytes(), nil
}

// finish cancels the stream if it is still running and frees it. The
// connection is reusable afterwards.
func (s *stream) finish(cancel bool) {
	if cancel {
		s.c.l.streamCancel(s.c.raw(), s.res.ptr)
	}
	s.res.free()
}

var codeRE = regexp.MustCompile(`Code: (\d+)`)

// engineError turns the engine's message into a *store.Error with its code.
func engineError(msg string) error {
	msg = strings.TrimSpace(msg)
	e := &store.Error{Message: msg}
	if m := codeRE.FindStringSubmatch(msg); m != nil {
		e.Code, _ = strconv.Atoi(m[1])
	}
	return e
}
