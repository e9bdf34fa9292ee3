package chhttp

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/openchoreo/obsplane/internal/store"
	"github.com/openchoreo/obsplane/internal/store/chdb"
)

// Handler serves ClickHouse's HTTP interface over an embedded store.
type Handler struct {
	cfg      Config
	st       *chdb.Store
	log      *slog.Logger
	users    map[string]*User
	slots    chan struct{}
	sessions *sessions
	version  string
	display  string
	timezone string

	runningMu sync.Mutex
	running   map[string]bool // query ids running now

	requests *prometheus.CounterVec
	duration prometheus.Histogram
	open     prometheus.GaugeFunc
}

// New builds the handler. reg, when not nil, receives its metrics.
func New(cfg Config, st *chdb.Store, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, st: st, log: log,
		users:    map[string]*User{},
		slots:    make(chan struct{}, cfg.MaxConcurrentQueries),
		sessions: newSessions(cfg.MaxSessions),
		version:  st.Version,
		display:  cfg.DisplayName,
		running:  map[string]bool{},
	}
	if h.display == "" {
		h.display, _ = os.Hostname()
	}
	if len(cfg.Users) == 0 {
		h.users["default"] = &User{Name: "default"}
	}
	for i := range cfg.Users {
		h.users[cfg.Users[i].Name] = &cfg.Users[i]
	}
	// The zone a fresh connection renders times in, for X-ClickHouse-Timezone.
	c, err := st.OpenConn()
	if err != nil {
		return nil, err
	}
	out, err := c.Query(context.Background(), "SELECT timezone()", "TSVRaw")
	c.Close()
	if err != nil {
		return nil, fmt.Errorf("clickhouse-http: read the engine's time zone: %w", err)
	}
	h.timezone = strings.TrimSpace(string(out))

	h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "obsplane_clickhouse_http_requests_total",
		Help: "Requests to the ClickHouse HTTP interface by HTTP status.",
	}, []string{"status"})
	h.duration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "obsplane_clickhouse_http_request_duration_seconds",
		Help:    "Time to answer a request of the ClickHouse HTTP interface, body included.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
	})
	h.open = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "obsplane_clickhouse_http_sessions",
		Help: "Open HTTP sessions (session_id) of the ClickHouse HTTP interface.",
	}, func() float64 { return float64(h.sessions.count()) })
	if reg != nil {
		for _, c := range []prometheus.Collector{h.requests, h.duration, h.open} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// Run serves on the configured address until ctx ends, then drains the
// connections for up to 10 s and closes every session.
func (h *Handler) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", h.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", h.cfg.Addr, err)
	}
	return h.Serve(ctx, ln)
}

// Serve is Run on a listener of the caller's.
func (h *Handler) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           h,
		// ReadTimeout bounds each wait for the body's next bytes (stallBody),
		// not the whole body, which a large INSERT may take long to send.
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      h.cfg.WriteTimeout,
		IdleTimeout:       h.cfg.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
	}
	h.log.Info("listening", "component", "clickhouse-http", "addr", ln.Addr().String(), "tls", h.cfg.TLSCert != "")
	done := make(chan error, 1)
	go func() {
		if h.cfg.TLSCert != "" {
			done <- srv.ServeTLS(ln, h.cfg.TLSCert, h.cfg.TLSKey)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			h.sessions.closeAll()
			return err
		case now := <-tick.C:
			h.sessions.expire(now)
			continue
		case <-ctx.Done():
		}
		break
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	h.sessions.closeAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		h.requests.WithLabelValues(strconv.Itoa(sw.status())).Inc()
		h.duration.Observe(time.Since(start).Seconds())
	}()
	hdr := sw.Header()
	hdr.Set("X-ClickHouse-Server-Display-Name", h.display)
	hdr.Set("Access-Control-Expose-Headers", "X-ClickHouse-Query-Id,X-ClickHouse-Summary,X-ClickHouse-Server-Display-Name,X-ClickHouse-Format,X-ClickHouse-Timezone,X-ClickHouse-Exception-Code,X-ClickHouse-Exception-Tag")
	if h.cfg.CORS && r.Header.Get("Origin") != "" {
		hdr.Set("Access-Control-Allow-Origin", "*")
	}
	switch r.URL.Path {
	case "/ping", "/replicas_status":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.fail(sw, r, exceptionStatus(codeUnsupportedMethod, http.StatusMethodNotAllowed, "Method %s is not allowed on %s", r.Method, r.URL.Path), "")
			return
		}
		hdr.Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(sw, "Ok.\n")
		return
	case "/":
	default:
		h.fail(sw, r, exceptionStatus(codeUnsupportedMethod, http.StatusNotFound, "There is no handle %s. Use / or /ping for health checks", r.URL.Path), "")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	case http.MethodOptions:
		if h.cfg.CORS {
			hdr.Set("Access-Control-Allow-Headers", "origin, x-requested-with, x-clickhouse-format, x-clickhouse-user, x-clickhouse-key, x-clickhouse-database, x-clickhouse-query-id, authorization, content-type, content-encoding, accept-encoding")
			hdr.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			hdr.Set("Access-Control-Max-Age", "86400")
			sw.WriteHeader(http.StatusNoContent)
			return
		}
		hdr.Set("Allow", "GET, HEAD, POST")
		sw.WriteHeader(http.StatusOK)
		return
	default:
		h.fail(sw, r, exceptionStatus(codeUnsupportedMethod, http.StatusMethodNotAllowed, "Method %s is not allowed", r.Method), "")
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.fail(sw, r, exception(codeBadArguments, "Cannot parse the URL's query string: %v", err), "")
		return
	}
	if r.Method != http.MethodPost && !q.Has("query") && r.ContentLength <= 0 {
		// ClickHouse's answer to a plain GET /.
		hdr.Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(sw, "Ok.\n")
		return
	}
	rc := http.NewResponseController(w)
	r.Body = struct {
		io.Reader
		io.Closer
	}{&stallBody{r: r.Body, rc: rc, d: h.cfg.ReadTimeout}, r.Body}
	user, err := authenticate(r, q, h.users)
	if err != nil {
		h.fail(sw, r, err, "")
		return
	}
	req, cleanup, err := decodeRequest(r, user, q, &h.cfg)
	defer cleanup()
	if err != nil {
		h.fail(sw, r, err, "")
		return
	}
	req.rc = rc
	if req.cors {
		hdr.Set("Access-Control-Allow-Origin", "*")
	}
	if err := h.serveQuery(sw, r, req); err != nil {
		h.log.Debug("clickhouse-http query failed", "user", user.Name, "query_id", req.queryID, "err", err)
	}
}

func exceptionStatus(code, status int, format string, args ...any) *Exception {
	e := exception(code, format, args...)
	e.status = status
	return e
}

// fail answers with an exception before any byte of the body was sent.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error, tag string) {
	e := asException(err)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=UTF-8")
	hdr.Set("X-ClickHouse-Exception-Code", strconv.Itoa(e.Code))
	if tag != "" {
		hdr.Set("X-ClickHouse-Exception-Tag", tag)
	}
	hdr.Del("Content-Encoding")
	if r.Method == http.MethodPost {
		// The body may be unread (a stalled or oversized one): close the
		// connection, and give the server's drain of it a short deadline.
		hdr.Set("Connection", "close")
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Second))
	}
	status := httpStatus(e)
	if status == http.StatusInternalServerError {
		h.log.Warn("clickhouse-http request failed", "code", e.Code, "err", e.Message)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, e.text(h.version)+"\n")
	}
}

func (h *Handler) beginQuery(id string) error {
	h.runningMu.Lock()
	defer h.runningMu.Unlock()
	if h.running[id] {
		return exception(codeQueryIDRunning, "Query with id = %s is already running", id)
	}
	h.running[id] = true
	return nil
}

func (h *Handler) endQuery(id string) {
	h.runningMu.Lock()
	delete(h.running, id)
	h.runningMu.Unlock()
}

// serveQuery runs one request's statement and writes the answer.
func (h *Handler) serveQuery(w *statusWriter, r *http.Request, req *request) error {
	generated := req.queryID == ""
	if generated {
		req.queryID = newUUID()
	}
	tag := newTag()
	if !generated {
		if err := h.beginQuery(req.user.Name + "\x00" + req.queryID); err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		defer h.endQuery(req.user.Name + "\x00" + req.queryID)
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		err := exception(codeTooManyQueries, "Too many simultaneous queries. Maximum: %d (--clickhouse-http-max-queries)", h.cfg.MaxConcurrentQueries)
		h.fail(w, r, err, tag)
		return err
	}

	// The statement and where its data begins. The head of the input is
	// read (not consumed) up to max_query_size.
	maxQuery := 262144
	for _, s := range req.settings {
		if s.name == "max_query_size" {
			if n, err := strconv.Atoi(s.value); err == nil && n > 0 {
				maxQuery = n
			}
		}
	}
	if int64(maxQuery) > h.cfg.MaxBodyBytes {
		maxQuery = int(h.cfg.MaxBodyBytes)
	}
	prefix := ""
	if req.query != "" {
		prefix = req.query + "\n"
	}
	br := bufio.NewReaderSize(req.body, max(4096, min(maxQuery+1, 1<<20)))
	peek, perr := peekUpTo(br, maxQuery+1-len(prefix))
	if perr != nil {
		h.fail(w, r, perr, tag)
		return perr
	}
	head := prefix + string(peek)
	complete := len(prefix)+len(peek) <= maxQuery
	text := head
	if !complete {
		text = head[:maxQuery]
	}
	st, err := scanStatement(text, complete)
	if err == nil && !complete && !st.HasData {
		err = exception(codeQueryIsTooLarge, "Query is too large (%d). max_query_size = %d", len(head), maxQuery)
	}
	if err != nil {
		h.fail(w, r, err, tag)
		return err
	}

	// An INSERT's data goes to a spool file the engine reads; it is read
	// whole before the statement runs, so a body that breaks off, is too
	// large or does not decompress inserts nothing.
	sql := text[:st.End]
	var spool string
	if st.HasData {
		var data io.Reader
		if st.DataStart < len(prefix) {
			data = io.MultiReader(strings.NewReader(prefix[st.DataStart:]), br)
		} else {
			if _, err := br.Discard(st.DataStart - len(prefix)); err != nil {
				h.fail(w, r, err, tag)
				return err
			}
			data = br
		}
		f, err := os.CreateTemp(h.st.SpoolDir(), "http-*.data")
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		spool = f.Name()
		defer os.Remove(spool)
		_, err = io.Copy(f, data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		sql = insertFromFile(text, st, spool)
	}

	// The input is read: a long statement must not meet the body's deadline.
	if req.rc != nil {
		_ = req.rc.SetReadDeadline(time.Time{})
	}
	format := req.defaultFormat
	if !st.HasData && st.Format != "" {
		format = st.Format
	}
	if format == "" {
		format = "TabSeparated"
	}

	// The connection: the session's, or a fresh one set up for this user.
	var conn *chdb.Conn
	var sess *session
	if req.sessionID != "" {
		sess, err = h.sessions.acquire(req.user.Name+"\x00"+req.sessionID, req.sessionTimeout, req.sessionCheck, func() (*chdb.Conn, error) {
			c, err := h.st.OpenConn()
			if err != nil {
				return nil, err
			}
			if err := h.profile(c, req.user, false); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		})
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		conn = sess.conn
		defer func() { h.sessions.release(sess, req.closeSession || conn.Broken()) }()
	} else {
		conn, err = h.st.OpenConn()
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		defer conn.Close()
		if err := h.profile(conn, req.user, req.get); err != nil {
			h.fail(w, r, err, tag)
			return err
		}
	}
	restore, err := h.applyRequest(conn, req, sess != nil)
	if err != nil {
		h.fail(w, r, err, tag)
		return err
	}
	if restore != nil {
		defer restore()
	}

	// An INSERT whose data was received runs to its end even if the client
	// leaves, as in ClickHouse; anything else is killed.
	ctx := r.Context()
	if st.HasData {
		ctx = context.WithoutCancel(ctx)
	}
	var out output
	if streamable(st.Kind) && !st.HasData {
		o, err := conn.Stream(ctx, sql, format, req.params)
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		out = o
	} else {
		b, stats, err := conn.Exec(ctx, sql, format, req.params)
		if err != nil {
			h.fail(w, r, err, tag)
			return err
		}
		out = &execOutput{b: b, stats: stats}
	}
	defer out.Close()
	first, err := out.Next()
	if err != nil {
		h.fail(w, r, err, tag)
		return err
	}
	return h.respond(w, r, req, out, first, format, tag)
}

// peekUpTo returns up to n bytes of br without consuming them.
func peekUpTo(br *bufio.Reader, n int) ([]byte, error) {
	if n <= 0 {
		return nil, nil
	}
	for {
		b, err := br.Peek(n)
		if err == nil || err == io.EOF {
			return b, nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return b, nil
		}
		return nil, err
	}
}

// profile sets a fresh connection up for user: its limits, then its
// readonly level (a GET is read-only as in ClickHouse), after which the
// engine itself refuses what the user may not do.
func (h *Handler) profile(c *chdb.Conn, u *User, get bool) error {
	var s []setting
	if u.MaxExecutionTime > 0 {
		s = append(s, setting{"max_execution_time", strconv.Itoa(u.MaxExecutionTime)})
	}
	if u.MaxMemoryUsage > 0 {
		s = append(s, setting{"max_memory_usage", strconv.FormatInt(u.MaxMemoryUsage, 10)})
	}
	if u.MaxResultRows > 0 {
		s = append(s, setting{"max_result_rows", strconv.FormatInt(u.MaxResultRows, 10)})
	}
	readonly := u.Readonly
	if get && readonly == 0 {
		readonly = 2
	}
	if readonly > 0 {
		s = append(s, setting{"readonly", strconv.Itoa(readonly)})
	}
	if len(s) == 0 {
		return nil
	}
	_, err := c.Query(context.Background(), setStatement(s), "TSV")
	return err
}

// applyRequest applies the request's database and settings. On a session's
// connection they hold for this request only, as in ClickHouse, so the
// returned func puts the session's own back.
func (h *Handler) applyRequest(c *chdb.Conn, req *request, session bool) (func(), error) {
	ctx := context.Background()
	var restore []string
	if session && (len(req.settings) > 0 || req.database != "") {
		names := make([]string, 0, len(req.settings))
		for _, s := range req.settings {
			names = append(names, store.QuoteString(s.name))
		}
		q := "SELECT currentDatabase(), '', 0"
		if len(names) > 0 {
			q += " UNION ALL SELECT name, value, changed FROM system.settings WHERE name IN (" + strings.Join(names, ",") + ")"
		}
		out, err := c.Query(ctx, q, "TSVRaw")
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			f := strings.Split(line, "\t")
			if len(f) != 3 {
				continue
			}
			switch {
			case i == 0:
				restore = append(restore, "USE "+store.QuoteIdent(f[0]))
			case f[2] == "1":
				restore = append(restore, "SET "+f[0]+" = "+store.QuoteString(f[1]))
			default:
				restore = append(restore, "SET "+f[0]+" = DEFAULT")
			}
		}
	}
	undo := func() {
		for _, s := range restore {
			if _, err := c.Query(ctx, s, "TSV"); err != nil {
				h.log.Debug("clickhouse-http: restore session state", "err", err)
			}
		}
	}
	if req.database != "" {
		if _, err := c.Query(ctx, "USE "+store.QuoteIdent(req.database), "TSV"); err != nil {
			return nil, err
		}
	}
	if len(req.settings) > 0 {
		if _, err := c.Query(ctx, setStatement(req.settings), "TSV"); err != nil {
			if restore != nil {
				undo()
			}
			return nil, err
		}
	}
	if restore == nil {
		return nil, nil
	}
	return undo, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b[:])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// newTag is the 16 lower-case letters that frame an exception written into
// a response already under way.
func newTag() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = 'a' + b[i]%26
	}
	return string(b[:])
}

// statusWriter remembers the status written, for the metrics.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// streamable says whether the engine streams a statement's output: SELECTs
// do; SHOW, DESCRIBE, INSERT, DDL and SET run whole (the engine refuses to
// stream them).
func streamable(kind string) bool {
	switch kind {
	case "SELECT", "WITH", "(":
		return true
	}
	return false
}

// output is a statement's output, streamed or whole.
type output interface {
	Next() ([]byte, error)
	Stats() chdb.Stats
	Close()
}

type execOutput struct {
	b     []byte
	stats chdb.Stats
	done  bool
}

func (e *execOutput) Next() ([]byte, error) {
	if e.done || len(e.b) == 0 {
		e.done = true
		return nil, nil
	}
	e.done = true
	return e.b, nil
}

func (e *execOutput) Stats() chdb.Stats { return e.stats }
func (e *execOutput) Close()            {}
