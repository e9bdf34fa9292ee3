// Package httpx holds what every obsplane HTTP API shares: the error body
// OpenChoreo's adapters answer with, strict JSON decoding, time-range and
// limit validation, per-query ClickHouse limits, and small SQL helpers that
// keep user values in bound parameters.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/query"
	"github.com/openchoreo/obsplane/internal/store"
)

// Error titles of the OpenChoreo adapter contracts (ErrorResponse.title).
const (
	TitleBadRequest     = "badRequest"
	TitleUnauthorized   = "unauthorized"
	TitleForbidden      = "forbidden"
	TitleNotFound       = "notFound"
	TitleConflict       = "conflict"
	TitleInternal       = "internalServerError"
	TitleNotImplemented = "notImplemented"
)

// Error is an answer other than 2xx. It is returned by handlers and written
// by Write as {"title","errorCode","message"}. The tracing adapter contract
// names the text "detail", so WithDetail also carries it under that key.
type Error struct {
	Status  int
	Title   string
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Message) }

// BadRequest is a 400 naming the problem.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Title: TitleBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Forbidden is a 403.
func Forbidden(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Title: TitleForbidden, Message: fmt.Sprintf(format, args...)}
}

// NotFound is a 404.
func NotFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Title: TitleNotFound, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized is a 401.
func Unauthorized(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Title: TitleUnauthorized, Message: fmt.Sprintf(format, args...)}
}

// ErrorBody is the JSON error shape.
type ErrorBody struct {
	Title     string `json:"title"`
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
	// Detail repeats Message for the tracing adapter contract, whose
	// ErrorResponse calls the text "detail".
	Detail string `json:"detail,omitempty"`
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// WriteError answers err. An *Error is written as it is; a store error whose
// cause is the user's query (too much data, too slow) becomes a 4xx naming
// the limit; anything else is a 500 whose detail goes only to the log, with
// errorCode set so operators can find it.
func WriteError(w http.ResponseWriter, err error, detail bool) {
	e := Classify(err)
	b := ErrorBody{Title: e.Title, ErrorCode: e.Code, Message: e.Message}
	if detail {
		b.Detail = e.Message
	}
	WriteJSON(w, e.Status, b)
}

// Classify turns any error into an *Error.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var se *store.Error
	if errors.As(err, &se) {
		switch se.Code {
		case 159: // TIMEOUT_EXCEEDED
			return &Error{Status: http.StatusUnprocessableEntity, Title: TitleBadRequest, Code: "OBS-QUERY-TIMEOUT",
				Message: "the query ran longer than the per-query time limit; narrow the time range or add filters"}
		case 396, 158: // TOO_MANY_ROWS_OR_BYTES, TOO_MANY_ROWS
			return &Error{Status: http.StatusUnprocessableEntity, Title: TitleBadRequest, Code: "OBS-QUERY-TOO-LARGE",
				Message: "the query result exceeds the per-query row limit; narrow the time range or add filters"}
		case 241: // MEMORY_LIMIT_EXCEEDED
			return &Error{Status: http.StatusUnprocessableEntity, Title: TitleBadRequest, Code: "OBS-QUERY-MEMORY",
				Message: "the query needs more memory than the per-query limit; narrow the time range or add filters"}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Title: TitleInternal, Code: "OBS-INTERNAL", Message: "internal server error"}
}

// queryTextCodes are the engine errors a user's query text can cause once
// it compiled (types the compiler cannot see, a zero divisor computed at
// run time, limits of the engine's parser).
var queryTextCodes = map[int]bool{
	6: true, 27: true, 36: true, 38: true, 41: true, 42: true, 43: true, 44: true, 53: true, 69: true, 70: true,
	72: true, 153: true, 167: true, 168: true, 184: true, 215: true, 306: true, 321: true, 386: true, 407: true,
}

// QueryTextError turns an engine error that the text of a user's query
// caused (PPL, search) into a 400 carrying the engine's own message, cut
// before the SQL it quotes; other errors pass through.
func QueryTextError(err error) error {
	var se *store.Error
	if !errors.As(err, &se) || !queryTextCodes[se.Code] {
		return err
	}
	msg := se.Message
	if _, after, ok := strings.Cut(msg, "DB::Exception: "); ok {
		msg = after
	}
	for _, cut := range []string{": In scope ", ": while executing ", ". Stack trace"} {
		if i := strings.Index(msg, cut); i > 0 {
			msg = msg[:i]
		}
	}
	return &Error{Status: http.StatusBadRequest, Title: TitleBadRequest, Code: "OBS-QUERY-INVALID",
		Message: "the query cannot run: " + Truncate(strings.TrimSpace(msg), 300)}
}

// MaxBody bounds request bodies; the adapter requests are small.
const MaxBody = 1 << 20

// DecodeJSON reads one JSON object from r's body into dst, refusing unknown
// fields, trailing data and bodies over MaxBody, with a message that names the
// offending field or type.
func DecodeJSON(r *http.Request, dst any) error {
	if r.Body == nil {
		return BadRequest("request body is required")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// The listener's read timeout cut off a body still arriving.
			return &Error{Status: http.StatusRequestTimeout, Title: TitleBadRequest, Message: "the request body did not arrive within the read timeout"}
		}
		return BadRequest("reading request body: %v", err)
	}
	if len(b) > MaxBody {
		return BadRequest("request body is larger than %d bytes", MaxBody)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return BadRequest("request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return BadRequest("invalid JSON body: %s", describeJSONError(err))
	}
	if dec.More() {
		return BadRequest("invalid JSON body: unexpected data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s, got %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("expected %s, got %s", jsonType(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, err)
	}
	var fe interface{ Error() string }
	if errors.As(err, &fe) {
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return err.Error()
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64", "float32":
		return "a number"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return kind
}

// MaxRange is the widest time range a query may cover by default: wider
// scans are refused so one request cannot read the whole store.
const MaxRange = 30 * 24 * time.Hour

// CheckRange validates a [start, end] range of the adapter contracts
// (startTime, endTime): both set, then CheckWindow.
func CheckRange(start, end time.Time, max time.Duration) error {
	if start.IsZero() || end.IsZero() {
		return BadRequest("startTime and endTime are required")
	}
	return CheckWindow("startTime", "endTime", start, end, max)
}

// CheckWindow is the one time-range check of every query entry point: each
// end within the times the store can hold (DateTime64(9): 1900-01-01 to
// 2262-04-11), start not after end, and no wider than max. startName and
// endName are the request's names for them.
func CheckWindow(startName, endName string, start, end time.Time, max time.Duration) error {
	for _, t := range []struct {
		name string
		v    time.Time
	}{{startName, start}, {endName, end}} {
		if err := query.CheckTime(t.name, t.v); err != nil {
			return BadRequest("%v", err)
		}
	}
	if end.Before(start) {
		return BadRequest("%s (%s) is before %s (%s)", endName, end.Format(time.RFC3339Nano), startName, start.Format(time.RFC3339Nano))
	}
	if end.Sub(start) > max {
		return BadRequest("time range %s is wider than the maximum of %s", end.Sub(start), max)
	}
	return nil
}

// ParseTime parses an RFC 3339 time or a Unix time in seconds or
// milliseconds, or a duration before now ("15m", "2h", "7d").
func ParseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if !timeParam.MatchString(v) {
		return time.Time{}, timeErr(name, v)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if d, err := ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, timeErr(name, v)
}

// TimePattern is every since/until value ParseTime takes, as the OpenAPI
// document states it (a test holds the two equal): an RFC 3339 time of the
// years 1901 to 2261, Unix seconds up to 1999999999 or milliseconds
// (13 digits, 1e12 to 2e12), or a duration before now in one unit (at most
// 9999 days, or 999999 of ns, us, ms, s, m, h). What a pattern cannot say
// (a day past the month's end, the window's order and width) is checked
// after parsing.
const TimePattern = `^((190[1-9]|19[1-9][0-9]|2[01][0-9]{2}|22[0-5][0-9]|226[01])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])` +
	`|[0-9]{1,9}|1[0-9]{9}|1[0-9]{12}|([1-9][0-9]{0,3})d|([1-9][0-9]{0,5})(ns|us|ms|s|m|h))$`

var timeParam = regexp.MustCompile(TimePattern)

func timeErr(name, v string) error {
	return BadRequest("%s=%q: want an RFC 3339 time (2026-01-02T15:04:05Z) of the years 1901-2261, Unix seconds or milliseconds, or a duration before now such as 15m, 2h or 7d", name, truncate(v, 64))
}

// ParseDuration is time.ParseDuration plus a "d" (day) unit.
func ParseDuration(v string) (time.Duration, error) {
	if strings.HasSuffix(v, "d") {
		n, err := strconv.ParseInt(strings.TrimSuffix(v, "d"), 10, 64)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("bad duration %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Truncate shortens s for an error message.
func Truncate(s string, n int) string { return truncate(s, n) }

// Limits are the ClickHouse settings every user query runs with, enforced
// by the engine rather than by inspecting SQL.
type Limits struct {
	MaxExecutionTime time.Duration
	MaxResultRows    int
	MaxMemory        int64
}

// DefaultLimits are the per-query limits of the query APIs.
var DefaultLimits = Limits{MaxExecutionTime: 30 * time.Second, MaxResultRows: 100000, MaxMemory: 2 << 30}

// Settings renders l as store settings. result_overflow_mode stays "throw"
// so a capped result is an error, never silently short.
func (l Limits) Settings() []store.Setting {
	return []store.Setting{
		{Name: "max_execution_time", Value: strconv.Itoa(int(l.MaxExecutionTime / time.Second))},
		{Name: "max_result_rows", Value: strconv.Itoa(l.MaxResultRows)},
		{Name: "max_memory_usage", Value: strconv.FormatInt(l.MaxMemory, 10)},
		{Name: "readonly", Value: "2"},
	}
}

// ArrayParam renders vals as an Array(String) parameter value: a quoted
// literal with quotes and backslashes escaped inside it. (The store escapes
// the whole value once more for the wire.)
func ArrayParam(vals []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v))
		b.WriteByte('\'')
	}
	b.WriteByte(']')
	return b.String()
}

// TimeParam renders t for a {name:DateTime64(9, 'UTC')} parameter.
func TimeParam(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000000") }

// ParseCHTime parses a DateTime64 as the store returns it in JSON
// ("2026-01-02 03:04:05.123456789", UTC because the statements convert).
func ParseCHTime(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC)
	if err != nil {
		return time.Time{}
	}
	return t
}

// TenantClause is the SQL predicate that restricts rows to the namespaces p
// may read, on the tenant column col (a fixed identifier). It binds the list
// as {scope_ns:Array(String)} in params. A caller who may read nothing gets a
// 403 rather than an empty answer that would look like "no data".
func TenantClause(p *auth.Principal, col string, params store.Params) (string, error) {
	if p.All {
		return "1", nil
	}
	if len(p.Namespaces) == 0 {
		return "", Forbidden("the caller may read no namespace (token has no %q claim)", auth.NamespacesClaim)
	}
	params["scope_ns"] = ArrayParam(p.Namespaces)
	return col + " IN {scope_ns:Array(String)}", nil
}

// RequireNamespace answers 403 unless p may read ns.
func RequireNamespace(p *auth.Principal, ns string) error {
	if !p.Allows(ns) {
		who := p.Subject
		if who == "" {
			who = "caller"
		}
		return Forbidden("subject %s has no permission to read namespace %q", who, Truncate(ns, 128))
	}
	return nil
}
