package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestRunGroupStopsInReverse: when the context ends every component is
// stopped, the last one first, each only after the one after it returned;
// when one fails, the others stop too and its error is returned.
func TestRunGroupStopsInReverse(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var mu sync.Mutex
	var stopped []string
	comp := func(name string) component {
		return component{name, func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // a slow stop must still finish before the next
			mu.Lock()
			stopped = append(stopped, name)
			mu.Unlock()
			return ctx.Err()
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runGroup(ctx, []component{comp("store-user"), comp("gateway"), comp("listener")}, log) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	if want := []string{"listener", "gateway", "store-user"}; !slices.Equal(stopped, want) {
		t.Fatalf("stop order %v, want %v", stopped, want)
	}

	stopped = nil
	boom := errors.New("boom")
	err := runGroup(context.Background(), []component{comp("a"), {"failing", func(context.Context) error { return boom }}, comp("b")}, log)
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the failing component's error", err)
	}
	if want := []string{"b", "a"}; !slices.Equal(stopped, want) {
		t.Fatalf("after a failure: stopped %v, want %v", stopped, want)
	}
}
