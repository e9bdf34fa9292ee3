package listener

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// serve runs h with l on a loopback port and returns its address.
func serve(t *testing.T, h http.Handler, l Limits) string {
	t.Helper()
	ln, err := l.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func testLimits() Limits {
	l := DefaultLimits()
	l.ReadTimeout, l.WriteTimeout = 2*time.Second, time.Second
	return l
}

// TestSlowBodyIsCutOff: a POST whose body arrives at 1 byte every 5 s is
// cut off at the read timeout (2 s here): the handler's read fails then,
// not when the client gives up.
func TestSlowBodyIsCutOff(t *testing.T) {
	type result struct {
		n    int
		err  error
		took time.Duration
	}
	got := make(chan result, 1)
	l := testLimits()
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		b, err := io.ReadAll(r.Body)
		got <- result{len(b), err, time.Since(t0)}
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
		}
	}), l)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Second):
			}
		}
	}()
	select {
	case r := <-got:
		if r.err == nil {
			t.Fatalf("slow body read completely (%d bytes)", r.n)
		}
		if el := time.Since(start); el < l.ReadTimeout-100*time.Millisecond || el > l.ReadTimeout+2*time.Second {
			t.Fatalf("slow body cut off after %s, want about %s (%v)", el, l.ReadTimeout, r.err)
		}
	case <-time.After(l.ReadTimeout + 10*time.Second):
		t.Fatalf("slow body still being read %s after the request started (read timeout %s)", time.Since(start), l.ReadTimeout)
	}
	// The connection is closed after the answer.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("answer %d", res.StatusCode)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after a cut-off body")
		}
	}
}

// TestLongAnswerOutlivesReadTimeout: a request whose body is in and whose
// answer takes longer than the read timeout is neither cancelled nor cut.
func TestLongAnswerOutlivesReadTimeout(t *testing.T) {
	l := testLimits()
	l.ReadTimeout = 500 * time.Millisecond
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
			return
		case <-time.After(1500 * time.Millisecond):
		}
		fmt.Fprintf(w, "ok %d", len(b))
	}), l)
	for _, body := range []string{"", `{"query":"x"}`} {
		method := "GET"
		var rd io.Reader
		if body != "" {
			method, rd = "POST", strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, "http://"+addr+"/", rd)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != fmt.Sprintf("ok %d", len(body)) {
			t.Fatalf("%s: %d %s", method, res.StatusCode, b)
		}
	}
}

// TestStalledReaderIsDropped: a client that stops reading a long answer is
// dropped after the write timeout, while one that reads gets it all even
// though it takes longer than the write timeout in total.
func TestStalledReaderIsDropped(t *testing.T) {
	l := testLimits()
	l.WriteTimeout = 500 * time.Millisecond
	var failed atomic.Value
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10) + "\n")
		for i := 0; i < 400; i++ { // 25 MB, far beyond the socket buffers
			if _, err := w.Write(chunk); err != nil {
				failed.Store(err)
				return
			}
			if r.URL.Query().Get("slow") != "" && i < 8 {
				time.Sleep(100 * time.Millisecond)
				w.(http.Flusher).Flush()
			}
		}
	}), l)
	// A reader that keeps reading: 8 pauses of 100 ms make the answer take
	// longer than the write timeout, and it still arrives whole.
	res, err := http.Get("http://" + addr + "/?slow=1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || n != 400*(64<<10+1) {
		t.Fatalf("reading client got %d bytes: %v", n, err)
	}
	// A client that never reads.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for failed.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if failed.Load() == nil {
		t.Fatal("the server still writes to a client that stopped reading")
	}
}

// TestMaxConns: with MaxConns 2, a third connection is not served until
// one of the first two closes.
func TestMaxConns(t *testing.T) {
	l := testLimits()
	l.MaxConns = 2
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }), l)
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Fatal(err)
		}
		held = append(held, c) // keep-alive: still open
	}
	third := make(chan error, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		res, err := c.Get("http://" + addr + "/")
		if err == nil {
			res.Body.Close()
		}
		third <- err
	}()
	select {
	case err := <-third:
		t.Fatalf("third connection served while two were open (%v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	select {
	case err := <-third:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("third connection not served after one closed")
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "t", "127.0.0.1:0", http.NotFoundHandler(), DefaultLimits(), slog.New(slog.DiscardHandler))
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	l := DefaultLimits()
	l.MaxConns = 0
	if err := Serve(context.Background(), "t", "127.0.0.1:0", http.NotFoundHandler(), l, slog.Default()); err == nil || !strings.Contains(err.Error(), "max connections") {
		t.Fatalf("MaxConns 0: %v", err)
	}
}

// TestResponseByteCap: an answer past MaxResponseBytes is cut: the
// handler's write fails and the client's read of the body ends in an error
// instead of a short body that looks whole.
func TestResponseByteCap(t *testing.T) {
	l := testLimits()
	l.MaxResponseBytes = 1 << 20
	var werr atomic.Value
	addr := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 64; i++ { // 4 MiB
			if _, err := w.Write(chunk); err != nil {
				werr.Store(err)
				return
			}
		}
	}), l)
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err == nil || n > l.MaxResponseBytes {
		t.Fatalf("read %d bytes, err %v: want an error at most %d bytes in", n, err, l.MaxResponseBytes)
	}
	if e, _ := werr.Load().(error); e != ErrResponseTooLarge {
		t.Fatalf("handler's write error: %v", e)
	}
	// Under the cap, an answer is whole.
	l.MaxResponseBytes = 8 << 20
	addr = serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("y", 4<<20)))
	}), l)
	res, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || n != 4<<20 {
		t.Fatalf("under the cap: %d bytes, %v", n, err)
	}
}
