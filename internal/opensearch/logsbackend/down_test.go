package logsbackend

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/opensearch"
	"github.com/openchoreo/obsplane/internal/readmodel"
)

// TestOpenSearchDownOrSlowFailsFast: a read whose primary is OpenSearch
// fails with an error naming OpenSearch, promptly, when the node refuses
// connections or accepts and never answers (a listener that reads nothing
// stands in for a hung node; no fake answers are involved).
func TestOpenSearchDownOrSlowFailsFast(t *testing.T) {
	ctx := context.Background()
	q := readmodel.LogsQuery{Start: time.Now().Add(-time.Hour), End: time.Now(), Limit: 10, Namespace: "acme"}

	// Down: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	c, err := opensearch.New(down)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = (&Backend{Client: c, Search: opensearch.SearchOptions{Backoff: time.Millisecond}}).QueryLogs(ctx, all, q)
	if err == nil || !strings.Contains(err.Error(), "opensearch") || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("down: err %v, want an OpenSearch error naming %s", err, down)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("down: took %v to fail", d)
	}

	// Slow: connections are accepted and never answered; the client's
	// time-out (server.Run sets opensearch.ReadTimeout) ends the read.
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hung.Close()
	go func() {
		for {
			conn, err := hung.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c, err = opensearch.New("http://"+hung.Addr().String(), opensearch.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	_, err = (&Backend{Client: c, Search: opensearch.SearchOptions{MaxAttempts: 1}}).QueryLogs(ctx, all, q)
	if err == nil || !strings.Contains(err.Error(), "opensearch") {
		t.Errorf("slow: err %v, want an OpenSearch error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("slow: took %v to fail with a 300ms time-out", d)
	}
}
