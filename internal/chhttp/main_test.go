package chhttp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/openchoreo/obsplane/internal/store/chdb"
	"github.com/openchoreo/obsplane/internal/store/chdb/chdbtest"
)

// One engine per test binary, served by one handler on a loopback port.
var (
	st      *chdb.Store
	addr    string // host:port of the interface
	handler *Handler
)

// Test users: admin writes, viewer reads and may change settings (what
// Grafana and HyperDX need), strict reads only, small has a row limit.
var testUsers = []User{
	{Name: "default", Password: "pw"},
	{Name: "viewer", Password: "v", Readonly: 2},
	{Name: "strict", Password: "s", Readonly: 1},
	{Name: "small", Password: "m", MaxResultRows: 10, MaxExecutionTime: 2},
}

func TestMain(m *testing.M) { chdbtest.Main(m, &st, serve) }

func serve(s *chdb.Store) (func(), error) {
	cfg := DefaultConfig()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cfg.Addr = ln.Addr().String()
	cfg.Users = testUsers
	cfg.MaxBodyBytes = 64 << 20
	cfg.ReadTimeout = 3 * time.Second
	cfg.MaxSessions = 64
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CHHTTP_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h, err := New(cfg, s, log, nil)
	if err != nil {
		return nil, err
	}
	handler, addr = h, cfg.Addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "serve:", err)
		}
	}, nil
}
