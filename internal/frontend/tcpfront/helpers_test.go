package tcpfront_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// timeout bounds every wait; it only catches hangs and is never a
// measurement.
const timeout = 15 * time.Second

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

// client is a line-protocol test client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	nick string
	seq  int
}

// dialRaw connects without reading anything.
func dialRaw(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, conn: c, r: bufio.NewReader(c)}
}

// dial connects and reads the banner, learning the guest nick.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	c := dialRaw(t, addr)
	banner := c.expect("* Welcome to the concurrent server! You are ")
	c.nick = strings.TrimSuffix(strings.TrimPrefix(banner, "* Welcome to the concurrent server! You are "), ". Type /help for commands.")
	return c
}

// dialNick connects and takes nick.
func dialNick(t testing.TB, addr, nick string) *client {
	t.Helper()
	c := dial(t, addr)
	c.send("/nick " + nick)
	c.expectLine("* you are now " + nick)
	c.nick = nick
	return c
}

// send writes each line followed by "\n".
func (c *client) send(lines ...string) {
	c.t.Helper()
	c.write(strings.Join(lines, "\n") + "\n")
}

// write writes raw bytes.
func (c *client) write(s string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("%s: write: %v", c.nick, err)
	}
}

// readLine returns the next line without its "\n". Every server line must
// be clean text: valid UTF-8 without control characters.
func (c *client) readLine() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		if l != "" {
			return l, fmt.Errorf("partial line %q: %w", l, err)
		}
		return "", err
	}
	l = strings.TrimSuffix(l, "\n")
	if !line.Clean([]byte(l)) {
		c.t.Errorf("%s: server sent a line with control characters or bad UTF-8: %q", c.nick, l)
	}
	if _, perr := line.ParseServerLine([]byte(l)); perr != nil {
		c.t.Errorf("%s: not a server line: %q", c.nick, l)
	}
	return l, nil
}

// next returns the next line or fails the test.
func (c *client) next() string {
	c.t.Helper()
	l, err := c.readLine()
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.nick, err)
	}
	return l
}

// expect reads the next line and checks that it starts with prefix.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	l := c.next()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("%s: got %q, want a line starting with %q", c.nick, l, prefix)
	}
	return l
}

// expectLine reads the next line and checks it exactly.
func (c *client) expectLine(want string) {
	c.t.Helper()
	if l := c.next(); l != want {
		c.t.Fatalf("%s: got %q, want %q", c.nick, l, want)
	}
}

// ping sends /ping with a fresh token and returns every line received
// before the matching pong: a barrier proving that everything sent before
// it was handled and everything queued before it was read.
func (c *client) ping() []string {
	c.t.Helper()
	c.seq++
	token := fmt.Sprintf("barrier-%d", c.seq)
	c.send("/ping " + token)
	var got []string
	for i := 0; i < 100000; i++ {
		l := c.next()
		if l == "* pong "+token {
			return got
		}
		got = append(got, l)
	}
	c.t.Fatalf("%s: no pong", c.nick)
	return nil
}

// quiet checks that nothing arrived before a ping barrier.
func (c *client) quiet() {
	c.t.Helper()
	if got := c.ping(); len(got) != 0 {
		c.t.Errorf("%s: unexpected lines %q", c.nick, got)
	}
}

// expectEOF reads until the server closes the connection, returning the
// lines read meanwhile (bounded).
func (c *client) expectEOF() []string {
	c.t.Helper()
	var got []string
	for i := 0; i < 100000; i++ {
		l, err := c.readLine()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("%s: connection still open; read so far %q", c.nick, got)
			}
			return got
		}
		got = append(got, l)
	}
	c.t.Fatalf("%s: connection never closed", c.nick)
	return nil
}

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

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
