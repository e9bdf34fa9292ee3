package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openchoreo/obsplane/internal/gateway"
	"github.com/openchoreo/obsplane/internal/store"
)

// StartGateway runs obsplane's gateway in-process on st, with its
// persistent queue under dataDir, listening for OTLP/HTTP on loopback, and
// returns the logs endpoint. Params are the gateway's knobs (zero: the
// defaults obsplane serve uses).
func StartGateway(ctx context.Context, st store.Store, dataDir string, p gateway.Params) (logsURL string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	p.OTLPGRPCAddr, p.OTLPHTTPAddr, p.ForwardAddr, p.DataDir = gateway.Off, addr, gateway.Off, dataDir
	yaml, err := gateway.DefaultConfig(p)
	if err != nil {
		return "", nil, err
	}
	gctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- gateway.Run(gctx, gateway.Settings{Store: st, ConfigYAML: yaml, Ready: func() { close(ready) }})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("gateway: %w", err)
	case <-time.After(60 * time.Second):
		cancel()
		return "", nil, fmt.Errorf("gateway not ready after 60 s")
	}
	return "http://" + addr + "/v1/logs", func() error { cancel(); return <-done }, nil
}

// PostOTLP sends one OTLP/protobuf request to url; a refusal for
// back-pressure (429, 503) is an error the caller retries.
func PostOTLP(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %.200s", url, resp.StatusCode, b)
	}
	return nil
}

// SendAll sends every body with clients senders, retrying a failed request
// (back-pressure) up to 100 times 100 ms apart, as a real client would.
// pace, when > 0, is the time between request starts (a rate limit).
func SendAll(ctx context.Context, bodies [][]byte, clients int, pace time.Duration, send func(context.Context, []byte) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	t0 := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				if pace > 0 {
					if d := time.Until(t0.Add(time.Duration(i) * pace)); d > 0 {
						time.Sleep(d)
					}
				}
				for attempt := 0; ; attempt++ {
					err := send(ctx, bodies[i])
					if err == nil {
						break
					}
					if attempt == 100 || ctx.Err() != nil {
						errs <- err
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// waitCount polls until count() returns want (or more: an error) or the
// deadline passes.
func waitCount(ctx context.Context, count func(context.Context) (int, error), want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := count(ctx)
		if err == nil && n == want {
			return nil
		}
		if err == nil && n > want {
			return fmt.Errorf("%d rows stored, want %d: duplicates", n, want)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d rows queryable after %s (last error: %v)", n, want, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storeCount counts otel_logs rows, optionally in [from, to).
func storeCount(st store.Store, table string) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		rows, err := store.ScanAll[struct{ N int }](ctx, st, "SELECT count() AS N FROM otel."+table, nil)
		if err != nil || len(rows) != 1 {
			return 0, err
		}
		return rows[0].N, nil
	}
}
