// Package listener serves HTTP with the limits every obsplane HTTP listener
// shares (the API and adapter ports, and any other port that takes them):
// a time limit for a request's headers and for its whole body, a time limit
// for each write of an answer, an idle limit for keep-alive connections, and
// a bound on open connections.
//
// The read limits are net/http's (which lifts the read deadline once the
// body is in, so a long query is not cancelled by it). The write limit
// applies to each write, not to the whole answer as net/http's WriteTimeout
// would, so a long NDJSON stream to a client that keeps reading is not cut,
// while a client that stops reading is dropped after WriteTimeout.
package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits of one HTTP listener.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, headers and body; a body
	// still arriving after it is cut off (the handler's read fails).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of an answer to the client.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxConns bounds the connections open at once; more clients wait in
	// the accept queue.
	MaxConns int
	// ShutdownGrace is how long Serve lets requests finish at shutdown.
	ShutdownGrace time.Duration
	// MaxResponseBytes caps one answer's body: a write past it fails
	// (ErrResponseTooLarge, which a streaming handler takes as the end)
	// and the connection is closed, so the client sees a cut answer as an
	// error. 0 is no cap.
	MaxResponseBytes int64
}

// ErrResponseTooLarge is the write error past Limits.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("listener: answer larger than the response byte cap")

// DefaultLimits are the limits of the query API and adapter ports.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxConns: 1024, ShutdownGrace: 10 * time.Second, MaxResponseBytes: 1 << 30}
}

// Validate names a limit that is not positive.
func (l Limits) Validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read header timeout", l.ReadHeaderTimeout}, {"read timeout", l.ReadTimeout}, {"write timeout", l.WriteTimeout}, {"idle timeout", l.IdleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("listener %s must be positive, got %s", d.name, d.v)
		}
	}
	if l.MaxConns <= 0 {
		return fmt.Errorf("listener max connections must be positive, got %d", l.MaxConns)
	}
	return nil
}

// Listen opens a TCP listener on addr that holds at most MaxConns
// connections open at once.
func (l Limits) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, l.MaxConns), nil
}

// Server returns an http.Server for h with the limits applied.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           l.Handler(h),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		IdleTimeout:       l.IdleTimeout,
	}
}

// Handler applies the write limit around h (Server does this;
// use it directly only with a server of your own).
func (l Limits) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// No write limit while the handler works out its answer (its query
		// has its own time limit); each write then has WriteTimeout, and
		// so has what the server flushes after the handler returns.
		_ = rc.SetWriteDeadline(time.Time{})
		ww := &writer{ResponseWriter: w, rc: rc, d: l.WriteTimeout, max: l.MaxResponseBytes}
		h.ServeHTTP(ww, r)
		if ww.cut {
			// End the connection, not the answer: a client must not take
			// a cut answer for a whole one.
			panic(http.ErrAbortHandler)
		}
		_ = rc.SetWriteDeadline(time.Now().Add(l.WriteTimeout))
	})
}

// writer gives each write of the answer WriteTimeout to complete.
type writer struct {
	http.ResponseWriter
	rc      *http.ResponseController
	d       time.Duration
	max     int64
	written int64
	cut     bool
}

func (w *writer) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *writer) Write(p []byte) (int, error) {
	if w.max > 0 && w.written+int64(len(p)) > w.max {
		// Past the cap: nothing more goes out (the deadline in the past
		// fails any write already buffered), and Handler closes the
		// connection once the handler returns.
		_ = w.rc.SetWriteDeadline(time.Now().Add(-time.Second))
		w.cut = true
		return 0, ErrResponseTooLarge
	}
	w.extend()
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *writer) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *writer) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Serve serves h on addr with the limits until ctx ends, then lets running
// requests finish for up to ShutdownGrace.
func Serve(ctx context.Context, name, addr string, h http.Handler, l Limits, log *slog.Logger) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ln, err := l.Listen(addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := l.Server(h)
	log.Info("listening", "component", name, "addr", ln.Addr().String(),
		"readTimeout", l.ReadTimeout, "writeTimeout", l.WriteTimeout, "maxConns", l.MaxConns)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	grace := l.ShutdownGrace
	if grace <= 0 {
		grace = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
