package server_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []server.Config{
		{MaxLine: -1},
		{MaxPending: -1},
		{RateLimit: -1},
		{RateBurst: -1},
		{MaxConns: -1},
		{MaxConnsPerIP: -1},
		{TCPSendBuffer: -1},
		{IdleTimeout: -time.Second},
		{ShutdownTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
		c.TCPAddr = "127.0.0.1:0"
		if srv, err := server.New(c, slog.New(slog.DiscardHandler)); err == nil {
			_ = srv.Shutdown(context.Background())
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	if err := (server.Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestTCPAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if srv, err := server.New(server.Config{TCPAddr: ln.Addr().String()}, slog.New(slog.DiscardHandler)); err == nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal("New on a busy address succeeded")
	}
}

// TestServeStopsOnContext: cancelling Serve's context shuts the server
// down gracefully: clients get the notice, Serve returns nil, Shutdown
// afterwards is a no-op.
func TestServeStopsOnContext(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{TCPAddr: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	c, err := net.DialTimeout("tcp", srv.TCPAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* Welcome") {
		t.Fatalf("banner %q, %v", l, err)
	}
	cancel()
	if l, err := r.ReadString('\n'); err != nil || l != "* server shutting down\n" {
		t.Errorf("got %q, %v; want the shutdown notice", l, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v", err)
	}
}
