package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// startLimited starts a server with both doors on loopback and mod applied.
func startLimited(t *testing.T, mod func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: webfront.Config{Addr: "127.0.0.1:0"}, ShutdownTimeout: 2 * time.Second}
	mod(&cfg)
	return startServing(t, cfg)
}

// startServing builds a server from cfg and serves it until the test
// ends.
func startServing(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
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
	return srv
}

// httpConn is one kept-alive HTTP/1.1 connection to the web door.
type httpConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialHTTP(t *testing.T, srv *server.Server) *httpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.HTTPAddr(), testkit.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &httpConn{t: t, c: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection and returns the answer.
func (h *httpConn) get(path string) (int, http.Header, string) {
	h.t.Helper()
	_ = h.c.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := fmt.Fprintf(h.c, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, h.c.RemoteAddr()); err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header, string(b)
}

// expectFull checks that a new TCP client is refused with "! server full".
func expectFull(t *testing.T, srv *server.Server) {
	t.Helper()
	c := linetest.DialRaw(t, srv.TCPAddr())
	if l := c.Next(); l != "! server full" {
		t.Fatalf("TCP client over the limit got %q, want ! server full", l)
	}
}

// TestPlainHTTPConnectionsCount: kept-alive HTTP connections take places
// under --max-conns-per-ip like any client, so once they fill it a TCP
// client is refused, a new HTTP connection gets 503 (but /healthz still
// answers), and a place comes back when a connection closes.
func TestPlainHTTPConnectionsCount(t *testing.T) {
	t.Parallel()
	srv := startLimited(t, func(c *server.Config) { c.Limits = session.Limits{MaxConnsPerIP: 2} })
	a, b := dialHTTP(t, srv), dialHTTP(t, srv)
	for _, h := range []*httpConn{a, b} {
		if code, _, _ := h.get("/healthz"); code != 200 {
			t.Fatalf("GET /healthz under the limit: %d", code)
		}
	}
	expectFull(t, srv)
	over := dialHTTP(t, srv)
	code, hdr, body := over.get("/api/stats")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, "server full") {
		t.Errorf("HTTP request over the limit: %d %q (Retry-After %q), want 503 server full", code, body, hdr.Get("Retry-After"))
	}
	if code, _, body := dialHTTP(t, srv).get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz over the limit: %d %q, want 200 ok", code, body)
	}
	_ = a.c.Close()
	testkit.Eventually(t, "a place to come back", func() bool {
		c, err := net.DialTimeout("tcp", srv.TCPAddr(), testkit.Timeout)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(testkit.Timeout))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(l, linetest.BannerPrefix)
	})
	if code, _, _ := b.get("/healthz"); code != 200 {
		t.Errorf("the admitted connection stopped working: %d", code)
	}
}

// TestDescriptorReserve: with the descriptor limit nearly reached (a
// reserve that leaves room for a handful of clients), new clients are
// refused cleanly, "! server full" on TCP and 503 on HTTP, /healthz still
// answers, and the clients already in are unaffected. Not parallel: it
// counts the process's open descriptors.
func TestDescriptorReserve(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	const room = 8
	reserve := int(rl.Cur) - len(ents) - room
	srv := startLimited(t, func(c *server.Config) { c.FDReserve = reserve })
	var in []*linetest.Client
	for len(in) < 4*room {
		c := linetest.DialRaw(t, srv.TCPAddr())
		if l := c.Next(); l == "! server full" {
			break
		} else if !strings.HasPrefix(l, linetest.BannerPrefix) {
			t.Fatalf("client %d got %q", len(in), l)
		}
		in = append(in, c)
	}
	if len(in) == 0 || len(in) >= 4*room {
		t.Fatalf("%d clients admitted with room for about %d: the reserve is not enforced", len(in), room)
	}
	code, _, body := dialHTTP(t, srv).get("/api/stats")
	if code != http.StatusServiceUnavailable {
		t.Errorf("HTTP request with the descriptors taken: %d %q, want 503", code, body)
	}
	if code, _, _ := dialHTTP(t, srv).get("/healthz"); code != 200 {
		t.Errorf("GET /healthz with the descriptors taken: %d, want 200", code)
	}
	in[0].Send("/ping still-in")
	in[0].ExpectLine("* pong still-in")
}
