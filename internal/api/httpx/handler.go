package httpx

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
)

// HandlerFunc is a handler that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Wrap turns f into an http.HandlerFunc that writes f's error in the API's
// error shape (detail adds the tracing contract's "detail" key), logs 5xx
// causes, and turns a panic into a 500 instead of a dropped connection.
func Wrap(log *slog.Logger, detail bool, f HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v) // a handler cutting its own answer: net/http closes the connection
				}
				log.Error("api: panic", "path", r.URL.Path, "panic", v)
				WriteError(w, fmt.Errorf("panic: %v", v), detail)
			}
		}()
		if err := f(w, r); err != nil {
			if e := Classify(err); e.Status == http.StatusInternalServerError {
				log.Error("api request failed", "path", r.URL.Path, "err", err)
			}
			WriteError(w, err, detail)
		}
	}
}

// JSONErrors rewrites the standard mux's plain-text 404 and 405 answers as
// the API's JSON error body.
func JSONErrors(next http.Handler, detail bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&jsonErrWriter{ResponseWriter: w, r: r, detail: detail}, r)
	})
}

type jsonErrWriter struct {
	http.ResponseWriter
	r       *http.Request
	detail  bool
	swallow bool
}

func (j *jsonErrWriter) WriteHeader(code int) {
	if (code == http.StatusMethodNotAllowed || code == http.StatusNotFound) && j.Header().Get("Content-Type") == "text/plain; charset=utf-8" {
		j.swallow = true
		var e *Error
		if code == http.StatusNotFound {
			e = NotFound("no such endpoint: %s %s", j.r.Method, Truncate(j.r.URL.Path, 200))
		} else {
			e = &Error{Status: code, Title: TitleBadRequest, Message: "method " + j.r.Method + " is not allowed here (allowed: " + j.Header().Get("Allow") + ")"}
		}
		j.Header().Del("X-Content-Type-Options")
		b := ErrorBody{Title: e.Title, Message: e.Message}
		if j.detail {
			b.Detail = e.Message
		}
		j.Header().Set("Content-Type", "application/json")
		j.ResponseWriter.WriteHeader(code)
		_ = json.NewEncoder(j.ResponseWriter).Encode(b)
		return
	}
	j.ResponseWriter.WriteHeader(code)
}

func (j *jsonErrWriter) Write(b []byte) (int, error) {
	if j.swallow {
		return len(b), nil
	}
	return j.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (j *jsonErrWriter) Unwrap() http.ResponseWriter { return j.ResponseWriter }

// Flush lets streaming handlers flush through the wrapper.
func (j *jsonErrWriter) Flush() {
	if f, ok := j.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
