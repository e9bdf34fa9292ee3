package chhttp

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/store"
)

// setting is one setting a request changes, in the order it gave them.
type setting struct{ name, value string }

// request is a decoded HTTP request: who asks, what, and how the answer is
// to be sent. decodeRequest builds it without touching the engine.
type request struct {
	user *User
	// query is the query text from the URL (or the multipart form); body is
	// the rest of the input, decoded (HTTP and native decompression) and
	// bounded. With multipart bodies the query is only the form's.
	query string
	body  io.Reader
	// multipart: the body held no input beyond the form.
	multipart bool

	database, defaultFormat, queryID string
	sessionID                        string
	sessionTimeout                   time.Duration
	sessionCheck, closeSession       bool
	settings                         []setting
	params                           store.Params

	compress              bool   // compress=1: ClickHouse block framing of the response
	networkMethod         string // network_compression_method for compress=1
	clientProtocolVersion uint64
	waitEndOfQuery        bool
	httpCompression       bool // enable_http_compression
	httpZlibLevel         int
	cors                  bool
	timezone              string // session_timezone, when set
	get                   bool
	stacktrace            bool
	// rc lifts the body's read deadline once the body is read.
	rc *http.ResponseController
}

// Parameters ClickHouse's HTTP handler reads itself; the rest of the URL is
// settings (and param_<name> query parameters).
var reservedParams = map[string]bool{
	"query": true, "database": true, "default_format": true, "compress": true, "decompress": true,
	"user": true, "password": true, "quota_key": true, "query_id": true, "stacktrace": true,
	"buffer_size": true, "wait_end_of_query": true, "session_id": true, "session_timeout": true,
	"session_check": true, "client_protocol_version": true, "close_session": true, "role": true,
}

var settingNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// authFailed is ClickHouse's answer to a wrong user or password: the same
// for both, so a caller cannot tell which users exist.
func authFailed(user string) *Exception {
	return exception(codeAuthenticationFailed, "%s: Authentication failed: password is incorrect, or there is no user with such name", user)
}

// authenticate finds the request's user from X-ClickHouse-User/Key, HTTP
// basic auth or the user/password parameters; mixing them is refused as
// ClickHouse refuses it.
func authenticate(r *http.Request, q url.Values, users map[string]*User) (*User, error) {
	hUser, hKey := r.Header.Get("X-ClickHouse-User"), r.Header.Get("X-ClickHouse-Key")
	hasHeaders := hUser != "" || hKey != ""
	authz := r.Header.Get("Authorization")
	hasParams := q.Has("user") || q.Has("password")
	var name, password string
	switch {
	case hasHeaders:
		if authz != "" {
			return nil, exception(codeAuthenticationFailed, "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and Authorization HTTP header simultaneously")
		}
		if hasParams {
			return nil, exception(codeAuthenticationFailed, "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and authentication via parameters simultaneously")
		}
		name, password = hUser, hKey
	case authz != "":
		if hasParams {
			return nil, exception(codeAuthenticationFailed, "Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously")
		}
		u, p, ok := r.BasicAuth()
		if !ok {
			scheme, _, _ := strings.Cut(authz, " ")
			return nil, exception(codeAuthenticationFailed, "Invalid authentication: '%s' HTTP Authorization scheme is not supported", scheme)
		}
		name, password = u, p
	default:
		name, password = q.Get("user"), q.Get("password")
	}
	if name == "" {
		name = "default"
	}
	u, ok := users[name]
	if !ok {
		// Compare anyway, so a missing user costs what a wrong password does.
		subtle.ConstantTimeCompare([]byte(password), []byte(password))
		return nil, authFailed(name)
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(u.Password)) != 1 {
		return nil, authFailed(name)
	}
	return u, nil
}

// bodyError is a failure of the client's body itself: too large or too slow.
type bodyError struct{ e *Exception }

func (b *bodyError) Error() string { return b.e.Message }
func (b *bodyError) Unwrap() error { return b.e }

// stallBody gives each read of the body d to make progress: a client may
// send a large body slowly, but not stop sending (ClickHouse's
// http_receive_timeout). At the end of the body the deadline is lifted, so
// a long query is not cut off by it; after a timeout it stays, so the
// server does not wait for the rest of a stalled body either.
type stallBody struct {
	r  io.Reader
	rc *http.ResponseController
	d  time.Duration
}

func (b *stallBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.r.Read(p)
	if err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// limitedBody reads at most limit bytes and fails with QUERY_IS_TOO_LARGE
// (HTTP 413) past them; a read timeout becomes SOCKET_TIMEOUT.
type limitedBody struct {
	r     io.Reader
	left  int64
	limit int64
	what  string
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, &bodyError{exception(codeQueryIsTooLarge, "The request %s is larger than the limit of %d bytes (--clickhouse-http-max-body-bytes)", l.what, l.limit)}
		}
		return 0, wrapReadErr(err)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, wrapReadErr(err)
}

func wrapReadErr(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var e *Exception
	if errors.As(err, &e) {
		return err
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return &bodyError{exception(codeSocketTimeout, "Timeout exceeded while reading the request body: the client sent it too slowly")}
	}
	if strings.Contains(err.Error(), "http: request body too large") {
		return err
	}
	return &bodyError{exception(codeCannotParseText, "Cannot read the request body: %v", err)}
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true":
		return true, nil
	case "0", "false", "":
		return false, nil
	}
	return false, exception(codeBadArguments, "Cannot parse parameter %s=%q as a boolean", name, v)
}

// decodeRequest reads everything of r but its body's content: parameters,
// settings, query parameters, the query of the URL or of a multipart form,
// and the body's decoding. cleanup releases the decoders.
func decodeRequest(r *http.Request, user *User, q url.Values, cfg *Config) (req *request, cleanup func(), err error) {
	cleanup = func() {}
	req = &request{user: user, params: store.Params{}, get: r.Method == http.MethodGet || r.Method == http.MethodHead}
	req.database = r.Header.Get("X-ClickHouse-Database")
	req.defaultFormat = r.Header.Get("X-ClickHouse-Format")
	req.queryID = q.Get("query_id")
	if req.queryID == "" {
		req.queryID = r.Header.Get("X-ClickHouse-Query-Id")
	}
	if len(req.queryID) > 1024 {
		return nil, cleanup, exception(codeBadArguments, "query_id is longer than 1024 bytes")
	}
	req.sessionID = q.Get("session_id")
	if len(req.sessionID) > 1024 {
		return nil, cleanup, exception(codeBadArguments, "session_id is longer than 1024 bytes")
	}
	req.sessionTimeout = cfg.SessionTimeout
	if v := q.Get("session_timeout"); v != "" {
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return nil, cleanup, exception(codeInvalidSessionTimeout, "Invalid session timeout: '%s'", v)
		}
		if time.Duration(n)*time.Second > cfg.MaxSessionTimeout {
			return nil, cleanup, exception(codeInvalidSessionTimeout, "Session timeout '%s' is larger than max_session_timeout: %d", v, int(cfg.MaxSessionTimeout.Seconds()))
		}
		req.sessionTimeout = time.Duration(n) * time.Second
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"session_check", &req.sessionCheck}, {"close_session", &req.closeSession}, {"compress", &req.compress},
		{"wait_end_of_query", &req.waitEndOfQuery}, {"stacktrace", &req.stacktrace}} {
		if *b.dst, err = parseBool(b.name, q.Get(b.name)); err != nil {
			return nil, cleanup, err
		}
	}
	if v := q.Get("client_protocol_version"); v != "" {
		if req.clientProtocolVersion, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, cleanup, exception(codeBadArguments, "Cannot parse client_protocol_version=%q", v)
		}
	}
	req.cors = cfg.CORS
	multi := strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/form-data")
	req.multipart = multi

	// The body: bounded, then HTTP-decompressed, then native-decompressed,
	// each stage bounded again so a small body cannot expand without end.
	var body io.Reader = &limitedBody{r: r.Body, left: cfg.MaxBodyBytes, limit: cfg.MaxBodyBytes, what: "body"}
	dec, closeDec, err := decodeBody(body, r.Header.Get("Content-Encoding"))
	if err != nil {
		return nil, cleanup, err
	}
	cleanup = closeDec
	body = dec
	decompress, err := parseBool("decompress", q.Get("decompress"))
	if err != nil {
		return nil, cleanup, err
	}
	if decompress {
		body = decodeNative(body)
	}
	if body != r.Body {
		body = &limitedBody{r: body, left: cfg.MaxBodyBytes, limit: cfg.MaxBodyBytes, what: "body, decompressed,"}
	}

	values := q
	if multi {
		values, err = readForm(r, body, q, cfg.MaxBodyBytes)
		if err != nil {
			return nil, cleanup, err
		}
		req.body = strings.NewReader("")
	} else {
		req.body = body
	}
	req.query = values.Get("query")
	for key, vals := range values {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		switch {
		case key == "":
		case key == "database":
			if req.database == "" {
				req.database = v
			}
		case key == "default_format":
			if req.defaultFormat == "" {
				req.defaultFormat = v
			}
		case reservedParams[key]:
		case strings.HasPrefix(key, "param_"):
			name := key[len("param_"):]
			if !settingNameRE.MatchString(name) {
				return nil, cleanup, exception(codeBadArguments, "Query parameter name %q is not an identifier", name)
			}
			if _, set := req.params[name]; !set {
				req.params[name] = v
			}
		default:
			if !settingNameRE.MatchString(key) {
				return nil, cleanup, exception(115, "Unknown setting '%s'", key)
			}
			req.settings = append(req.settings, setting{key, v})
			switch key {
			case "enable_http_compression":
				if req.httpCompression, err = parseBool(key, v); err != nil {
					return nil, cleanup, err
				}
			case "http_zlib_compression_level":
				if req.httpZlibLevel, err = strconv.Atoi(v); err != nil {
					return nil, cleanup, exception(codeBadArguments, "Cannot parse http_zlib_compression_level=%q", v)
				}
			case "add_http_cors_header":
				c, err := parseBool(key, v)
				if err != nil {
					return nil, cleanup, err
				}
				req.cors = req.cors || c
			case "network_compression_method":
				req.networkMethod = v
			case "session_timezone":
				req.timezone = v
			case "http_wait_end_of_query":
				if req.waitEndOfQuery, err = parseBool(key, v); err != nil {
					return nil, cleanup, err
				}
			}
		}
	}
	if req.defaultFormat != "" && !settingNameRE.MatchString(req.defaultFormat) {
		return nil, cleanup, exception(codeUnknownFormat, "Unknown format %s", req.defaultFormat)
	}
	return req, cleanup, nil
}

// readForm reads a multipart/form-data body: fields join the URL's
// parameters (the query, param_<name>, settings), as clickhouse-js sends
// parameters too long for a URL. Files are external tables, which obsplane
// does not take.
func readForm(r *http.Request, body io.Reader, q url.Values, limit int64) (url.Values, error) {
	_, mp, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mp["boundary"] == "" {
		return nil, exception(codeBadArguments, "Cannot parse the multipart/form-data Content-Type: no boundary")
	}
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	mr := multipart.NewReader(bufio.NewReader(body), mp["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var be *bodyError
			if errors.As(err, &be) {
				return nil, err
			}
			return nil, exception(codeBadArguments, "Cannot parse the multipart/form-data body: %v", err)
		}
		if part.FileName() != "" {
			return nil, exception(codeNotImplemented, "External tables (file %q in the form) are not supported by obsplane's ClickHouse interface", part.FormName())
		}
		v, err := io.ReadAll(io.LimitReader(part, limit))
		if err != nil {
			var be *bodyError
			if errors.As(err, &be) {
				return nil, err
			}
			return nil, exception(codeBadArguments, "Cannot read form field %q: %v", part.FormName(), err)
		}
		name := part.FormName()
		if name == "query" {
			// The form's query parts are concatenated.
			out.Set("query", out.Get("query")+string(v))
			continue
		}
		out.Add(name, string(v))
	}
	return out, nil
}

func setStatement(settings []setting) string {
	var b strings.Builder
	b.WriteString("SET ")
	for i, s := range settings {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = %s", s.name, store.QuoteString(s.value))
	}
	return b.String()
}
