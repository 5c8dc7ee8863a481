package stress

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// fakeServer is a tiny line-protocol server: banner, /sub, /pub, /ping.
// It tracks its connections so Close can end every goroutine it started.
type fakeServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex // guards conns and subs
	conns map[*fakeConn]struct{}
	subs  map[string][]*fakeConn
}

// fakeConn serialises writes from its own reader and from publishers.
type fakeConn struct {
	c  net.Conn
	mu sync.Mutex
}

func (fc *fakeConn) send(line string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	_, _ = fc.c.Write([]byte(line + "\n"))
}

func startFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &fakeServer{ln: ln, conns: map[*fakeConn]struct{}{}, subs: map[string][]*fakeConn{}}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		fc := &fakeConn{c: c}
		s.mu.Lock()
		s.conns[fc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(fc)
	}
}

func (s *fakeServer) serve(fc *fakeConn) {
	defer s.wg.Done()
	defer func() {
		fc.c.Close()
		s.mu.Lock()
		delete(s.conns, fc)
		s.mu.Unlock()
	}()
	fc.send("* Welcome to the fake switchboard")
	sc := bufio.NewScanner(fc.c)
	for sc.Scan() {
		cmd, rest, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "/sub":
			s.mu.Lock()
			s.subs[rest] = append(s.subs[rest], fc)
			s.mu.Unlock()
			fc.send("* subscribed " + rest)
		case "/pub":
			topic, text, _ := strings.Cut(rest, " ")
			s.mu.Lock()
			targets := append([]*fakeConn(nil), s.subs[topic]...)
			s.mu.Unlock()
			for _, sub := range targets {
				sub.send(fmt.Sprintf("[%s] anon: %s", topic, text))
			}
		case "/ping":
			fc.send("* pong")
		default:
			fc.send("! unknown command")
		}
	}
}

func (s *fakeServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *fakeServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for fc := range s.conns {
		fc.c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// fakeRSSPerConn is what the fake /api/stats claims each connection costs.
const fakeRSSPerConn = 4096

// startStats serves /api/stats for s: RSS grows by fakeRSSPerConn per conn.
func startStats(t *testing.T, s *fakeServer, withConns bool) string {
	t.Helper()
	h := http.NewServeMux()
	h.HandleFunc("/api/stats", func(w http.ResponseWriter, _ *http.Request) {
		n := s.count()
		m := map[string]any{"process_rss_bytes": 50_000_000 + n*fakeRSSPerConn, "uptime_seconds": 3}
		if withConns {
			m["connections"] = map[string]any{"tcp": n, "ws": 0}
		}
		_ = json.NewEncoder(w).Encode(m)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestConns runs the conns experiment against the fake server with the
// stats endpoint present, present without a connections field, absent,
// and not configured.
func TestConns(t *testing.T) {
	const n = 200
	tests := []struct {
		name      string
		stats     func(t *testing.T, s *fakeServer) string
		wantBytes float64 // 0: no server figure expected
		wantNote  string
	}{
		{"stats with connections", func(t *testing.T, s *fakeServer) string { return startStats(t, s, true) }, fakeRSSPerConn, ""},
		{"stats without connections", func(t *testing.T, s *fakeServer) string { return startStats(t, s, false) }, fakeRSSPerConn, ""},
		{"stats endpoint absent", func(t *testing.T, _ *fakeServer) string {
			srv := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return strings.TrimPrefix(srv.URL, "http://")
		}, 0, "unavailable"},
		{"no --http", func(*testing.T, *fakeServer) string { return "" }, 0, "no --http"},
		{"stats rss unknown", func(t *testing.T, _ *fakeServer) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"process_rss_bytes":0,"connections":3}`))
			}))
			t.Cleanup(srv.Close)
			return strings.TrimPrefix(srv.URL, "http://")
		}, 0, "0 = unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startFakeServer(t)
			httpAddr := tc.stats(t, s)
			args := []string{"conns", "-n", fmt.Sprint(n), "--addr", s.ln.Addr().String()}
			if httpAddr != "" {
				args = append(args, "--http", httpAddr)
			}
			var r ConnsReport
			m := runJSON(t, &r, args...)
			requireFields(t, m, append(requiredJSON, "connected", "delivered", "bytes_per_goroutine", "connects_per_second", "broadcast_all_seconds")...)
			if r.Connected != n || r.Delivered != n {
				t.Errorf("connected %d, delivered %d, want %d each (stop reason %q, first error %q)", r.Connected, r.Delivered, n, r.StopReason, r.FirstError)
			}
			if r.StopReason != "" {
				t.Errorf("unexpected stop reason %q", r.StopReason)
			}
			if len(r.SourceAddrs) != 8 || r.SourceAddrs[0] != "127.0.0.2" {
				t.Errorf("source addrs = %v, want 127.0.0.2-9", r.SourceAddrs)
			}
			if tc.wantBytes > 0 {
				if r.Server == nil {
					t.Fatalf("no server figure; note %q", r.ServerNote)
				}
				if r.Server.BytesPerConn != tc.wantBytes {
					t.Errorf("server bytes per conn = %.1f, want %.0f (%s)", r.Server.BytesPerConn, tc.wantBytes, r.Server.ConnsSource)
				}
			} else if r.Server != nil || !strings.Contains(r.ServerNote, tc.wantNote) {
				t.Errorf("server = %+v, note %q; want no figure and a note containing %q", r.Server, r.ServerNote, tc.wantNote)
			}
			// Every client connection must be closed by the time it returns.
			testkit.Eventually(t, "every client connection to be closed on the server", func() bool { return s.count() == 0 })
		})
	}
}

// TestConnsNoServer checks that an unreachable server is an error, not a hang.
func TestConnsNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = RunConns(context.Background(), Options{N: 10, Addr: addr})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want ECONNREFUSED", err)
	}
}

// TestLimitReason checks that descriptor exhaustion is recognised through
// the wrapping net.Dial applies, and other errors are not.
func TestLimitReason(t *testing.T) {
	l := Limits{NofileSoft: 20000, NofileHard: 20000}
	tests := []struct {
		err  error
		stop bool
		want string
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.EMFILE)}, true, "ulimit -n: soft 20,000"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", syscall.ENFILE)}, true, "ENFILE"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EADDRNOTAVAIL)}, true, "local port"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ETIMEDOUT)}, false, ""},
		{errors.New("banner: EOF"), false, ""},
	}
	for _, tc := range tests {
		got, stop := limitReason(tc.err, l)
		if stop != tc.stop || !strings.Contains(got, tc.want) {
			t.Errorf("limitReason(%v) = %q, %v; want stop=%v containing %q", tc.err, got, stop, tc.stop, tc.want)
		}
	}
}
