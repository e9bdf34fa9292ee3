// Package httpx holds what every obsplane HTTP API shares, and only HTTP
// concerns: the error body OpenChoreo's adapters answer with (and how read
// model errors map onto it), strict JSON decoding, query parameter and time
// parsing, and the caller's tenancy from the authenticated request.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openchoreo/obsplane/internal/api/auth"
	"github.com/openchoreo/obsplane/internal/readmodel"
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

// Classify turns any error into an *Error: read model errors by kind (a
// per-query limit is a 422 naming it), anything else a 500.
func Classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var re *readmodel.Error
	if errors.As(err, &re) {
		switch re.Kind {
		case readmodel.KindInvalid:
			return BadRequest("%s", re.Msg)
		case readmodel.KindForbidden:
			return Forbidden("%s", re.Msg)
		case readmodel.KindNotFound:
			return NotFound("%s", re.Msg)
		case readmodel.KindLimit:
			return &Error{Status: http.StatusUnprocessableEntity, Title: TitleBadRequest, Code: re.Code, Message: re.Msg}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Title: TitleInternal, Code: "OBS-INTERNAL", Message: "internal server error"}
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

// CheckRange validates a [start, end] range: both set, start not after end,
// and no wider than max.
func CheckRange(start, end time.Time, max time.Duration) error {
	if start.IsZero() || end.IsZero() {
		return BadRequest("startTime and endTime are required")
	}
	if end.Before(start) {
		return BadRequest("endTime (%s) is before startTime (%s)", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}
	if end.Sub(start) > max {
		return BadRequest("time range %s is wider than the maximum of %s", end.Sub(start), max)
	}
	if start.Year() < 1970 || end.Year() > 2261 {
		return BadRequest("time range is outside the supported years 1970-2261")
	}
	return nil
}

// ParseDateTime parses the RFC 3339 date-time of field name.
func ParseDateTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, BadRequest("%s %q is not an RFC 3339 date-time (e.g. 2026-01-02T15:04:05Z)", name, Truncate(v, 64))
	}
	return t.UTC(), nil
}

// ParseTime parses an RFC 3339 time or a Unix time in seconds or
// milliseconds, or a duration before now ("15m", "2h", "7d").
func ParseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
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
	return time.Time{}, BadRequest("%s=%q: want an RFC 3339 time (2026-01-02T15:04:05Z), Unix seconds, or a duration before now such as 15m, 2h or 7d", name, truncate(v, 64))
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

// Tenancy is the read model's tenancy of the request's authenticated
// caller (auth.Middleware put it in the context).
func Tenancy(r *http.Request) readmodel.Tenancy {
	p := auth.FromContext(r.Context())
	return readmodel.Tenancy{Subject: p.Subject, Namespaces: p.Namespaces, All: p.All}
}
