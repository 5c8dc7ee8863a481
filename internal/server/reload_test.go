package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// TestReloadLimits: Reload gives new connections the new session settings
// (here the rate burst) on the TCP door and the HTTP publish limiter,
// while connections already open keep theirs and stay up; a new idle
// timeout reaches the open ones too; an invalid config changes nothing.
func TestReloadLimits(t *testing.T) {
	t.Parallel()
	cfg := server.Config{
		TCP:             tcpfront.Config{Addr: "127.0.0.1:0", ParkAfter: 100 * time.Millisecond},
		Web:             webfront.Config{Addr: "127.0.0.1:0"},
		Session:         session.Config{RateLimit: 0.001, RateBurst: 5},
		ShutdownTimeout: 5 * time.Second,
	}
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		_ = srv.Shutdown(context.Background())
		<-done
	})
	old := linetest.Dial(t, srv.TCPAddr())

	next := cfg
	next.Session.RateBurst = 1
	next.Limits.IdleTimeout = 300 * time.Millisecond
	next.TCP.Addr = "127.0.0.1:1" // not reloadable: ignored
	bad := next
	bad.Session.MaxPending = -1
	if err := srv.Reload(bad); err == nil {
		t.Fatal("Reload accepted a negative max pending")
	}
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}

	// A new client has a burst of 1: its second publish is refused.
	fresh := linetest.Dial(t, srv.TCPAddr())
	fresh.Send("/pub t one", "/pub t two")
	fresh.ExpectLine("! rate limited")
	// The old one keeps its burst of 5 and is still up.
	old.Send("/pub t one", "/pub t two", "/nick old")
	old.ExpectLine("* you are now old")

	// HTTP publishes take the new limiter: one per IP, then 429.
	codes := make([]int, 2)
	for i := range codes {
		resp, err := http.Post("http://"+srv.HTTPAddr()+"/pub/t", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		codes[i] = resp.StatusCode
	}
	if codes[0] != http.StatusAccepted || codes[1] != http.StatusTooManyRequests {
		t.Errorf("HTTP publishes after the reload: %v, want [202 429]", codes)
	}

	// The idle timeout reaches the open (by now parked) connections.
	old.ExpectLine("! idle timeout, disconnecting; nothing from the client for 300ms (--idle-timeout)")
	if srv.TCPAddr() == "127.0.0.1:1" {
		t.Error("Reload moved the listener")
	}
}
