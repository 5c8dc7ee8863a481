package tcpfront_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// timeout bounds every wait; it only catches hangs and is never a
// measurement.
const timeout = linetest.Timeout

// logRecorder is an slog handler that keeps every record's message, so
// tests can check that an event was logged.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, msg) {
			n++
		}
	}
	return n
}

// testServer is a server on 127.0.0.1:0 serving until the test ends.
type testServer struct {
	*server.Server
	addr string
	logs *logRecorder
}

// startServer starts a server with cfg (TCPAddr is forced to
// 127.0.0.1:0) and shuts it down in cleanup.
func startServer(t testing.TB, cfg server.Config) *testServer {
	t.Helper()
	cfg.TCPAddr = "127.0.0.1:0"
	logs := &logRecorder{}
	srv, err := server.New(cfg, slog.New(logs))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), timeout)
		defer scancel()
		if err := srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(timeout):
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	return &testServer{Server: srv, addr: srv.TCPAddr(), logs: logs}
}

// client is the shared line-protocol test client.
type client = linetest.Client

// dialRaw connects without reading anything.
func dialRaw(t testing.TB, addr string) *client { return linetest.DialRaw(t, addr) }

// dial connects and reads the banner, learning the guest nick.
func dial(t testing.TB, addr string) *client { return linetest.Dial(t, addr) }

// dialNick connects and takes nick.
func dialNick(t testing.TB, addr, nick string) *client { return linetest.DialNick(t, addr, nick) }

// eventually polls cond until it holds, failing after timeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
