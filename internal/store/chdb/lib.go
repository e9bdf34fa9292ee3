package chdb

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// InstallHint tells a user how to get the library; every load error ends with it.
const InstallHint = "run scripts/install-chdb.sh (or make run / make test), or point --chdb-lib / CHDB_LIB at libchdb.so"

// lib holds the C entry points of libchdb, loaded once per process with
// purego so that obsplane builds without cgo and starts with a clear error,
// not a failed dynamic link, when the library is missing.
type lib struct {
	path string

	connect              func(argc int32, argv **byte) *uintptr
	closeConn            func(conn *uintptr)
	queryN               func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr) uintptr
	queryWithParamsN     func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr, names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, n uintptr) uintptr
	streamWithParamsN    func(conn uintptr, q *byte, qlen uintptr, f *byte, flen uintptr, names **byte, nameLens *uintptr, values **byte, valueLens *uintptr, n uintptr) uintptr
	streamFetch          func(conn uintptr, res uintptr) uintptr
	streamCancel         func(conn uintptr, res uintptr)
	destroyResult        func(res uintptr)
	resultBuffer         func(res uintptr) *byte
	resultLength         func(res uintptr) uintptr
	resultError          func(res uintptr) *byte
	resultRowsRead       func(res uintptr) uint64
	resultRowsWritten    func(res uintptr) uint64
	resultBytesRead      func(res uintptr) uint64
	resultBytesWritten   func(res uintptr) uint64
	resultElapsed        func(res uintptr) float64
	setSignalHandlersOff func(enabled bool)
}

var (
	loadOnce   sync.Mutex
	loadedLibs = map[string]*lib{}
)

// loadLib opens libchdb at path and resolves every symbol obsplane calls.
// A missing file or symbol is an error naming it; nothing panics.
func loadLib(path string) (*lib, error) {
	loadOnce.Lock()
	defer loadOnce.Unlock()
	if l, ok := loadedLibs[path]; ok {
		return l, nil
	}
	if path == "" {
		return nil, fmt.Errorf("libchdb path is empty; %s", InstallHint)
	}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("libchdb not found at %s; %s", path, InstallHint)
	} else if st.IsDir() {
		return nil, fmt.Errorf("libchdb path %s is a directory; %s", path, InstallHint)
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("load libchdb %s: %w; %s", path, err, InstallHint)
	}
	l := &lib{path: path}
	syms := []struct {
		name string
		fn   any
	}{
		{"chdb_connect", &l.connect},
		{"chdb_close_conn", &l.closeConn},
		{"chdb_query_n", &l.queryN},
		{"chdb_query_with_params_n", &l.queryWithParamsN},
		{"chdb_stream_query_with_params_n", &l.streamWithParamsN},
		{"chdb_stream_fetch_result", &l.streamFetch},
		{"chdb_stream_cancel_query", &l.streamCancel},
		{"chdb_destroy_query_result", &l.destroyResult},
		{"chdb_result_buffer", &l.resultBuffer},
		{"chdb_result_length", &l.resultLength},
		{"chdb_result_error", &l.resultError},
		{"chdb_result_rows_read", &l.resultRowsRead},
		{"chdb_result_rows_written", &l.resultRowsWritten},
		{"chdb_result_bytes_read", &l.resultBytesRead},
		{"chdb_result_bytes_written", &l.resultBytesWritten},
		{"chdb_result_elapsed", &l.resultElapsed},
		{"chdb_set_signal_handlers_enabled", &l.setSignalHandlersOff},
	}
	var missing []string
	for _, s := range syms {
		// Dlsym first: RegisterLibFunc panics on a missing symbol, and an
		// old library must be an error, not a crash.
		if _, err := purego.Dlsym(h, s.name); err != nil {
			missing = append(missing, s.name)
			continue
		}
		purego.RegisterLibFunc(s.fn, h, s.name)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("libchdb %s lacks %v: it is not a supported version (want %s); %s", path, missing, SupportedVersion, InstallHint)
	}
	// The Go runtime owns SIGSEGV/SIGPIPE and friends; the engine's own
	// handlers would fight it for them.
	l.setSignalHandlersOff(false)
	loadedLibs[path] = l
	return l, nil
}

// cstr returns a NUL-terminated copy of s for C.
func cstr(s string) *byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return &b[0]
}

// bytesPtr returns a pointer to b's first byte, or to a static zero byte for
// an empty slice (C wants a valid pointer even with length 0).
func bytesPtr(b []byte) *byte {
	if len(b) == 0 {
		return &zero
	}
	return &b[0]
}

var zero byte

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// result wraps one chdb_result*. Callers must call free.
type result struct {
	l   *lib
	ptr uintptr
}

// err returns the engine's error for this result, if any.
func (r result) err() error {
	if r.ptr == 0 {
		return errors.New("chdb returned no result")
	}
	if msg := goString(r.l.resultError(r.ptr)); msg != "" {
		return engineError(msg)
	}
	return nil
}

// bytes returns a Go copy of the result buffer: the C buffer dies with free.
func (r result) bytes() []byte {
	n := int(r.l.resultLength(r.ptr))
	if n == 0 {
		return nil
	}
	p := r.l.resultBuffer(r.ptr)
	if p == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, unsafe.Slice(p, n))
	return out
}

func (r result) free() {
	if r.ptr != 0 {
		r.l.destroyResult(r.ptr)
	}
}
