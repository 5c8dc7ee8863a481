package server_test

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []server.Config{
		{TCP: tcpfront.Config{MaxLine: -1}},
		{Session: session.Config{MaxPending: -1}},
		{Session: session.Config{RateLimit: -1}},
		{Session: session.Config{RateBurst: -1}},
		{Limits: session.Limits{MaxConns: -1}},
		{Limits: session.Limits{MaxConnsPerIP: -1}},
		{TCP: tcpfront.Config{SendBuffer: -1}},
		{Limits: session.Limits{IdleTimeout: -time.Second}},
		{Web: webfront.Config{MaxBody: -1}},
		{Web: webfront.Config{MaxMessage: -1}},
		{ShutdownTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", c)
		}
		c.TCP.Addr = "127.0.0.1:0"
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
	if srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: ln.Addr().String()}}, slog.New(slog.DiscardHandler)); err == nil {
		_ = srv.Shutdown(context.Background())
		t.Fatal("New on a busy address succeeded")
	}
}

// TestServeStopsOnContext: cancelling Serve's context shuts the server
// down gracefully: clients get the notice, Serve returns nil, Shutdown
// afterwards is a no-op.
func TestServeStopsOnContext(t *testing.T) {
	t.Parallel()
	srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}, slog.New(slog.DiscardHandler))
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

// TestMetricsWithoutWebDoor: the server owns the metrics collector, so
// with no web door (Web.Addr "") its numbers still exist: the sampler runs
// while the server serves and the registry counts TCP clients.
func TestMetricsWithoutWebDoor(t *testing.T) {
	t.Parallel()
	srv := startServing(t, server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}})
	if srv.HTTPAddr() != "" {
		t.Fatalf("web door is on at %s", srv.HTTPAddr())
	}
	c, err := net.DialTimeout("tcp", srv.TCPAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(l, "* Welcome") {
		t.Fatalf("banner %q, %v", l, err)
	}
	testkit.Eventually(t, "the collector to see the TCP client and sample", func() bool {
		st := srv.Metrics().Stats(true)
		return st.Connections == 1 && st.Sessions.ByDoor["tcp"] == 1 && len(st.History) > 0
	})
	rec := httptest.NewRecorder()
	srv.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, `switchboard_session_connections{door="tcp"} 1`) {
		t.Errorf("/metrics lacks the TCP connection:\n%.2000s", body)
	}
}
