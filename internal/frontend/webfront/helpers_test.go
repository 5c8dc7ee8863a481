package webfront_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// waitFor bounds every wait; it only catches hangs.
const waitFor = testkit.Timeout

// testServer is a whole switchboard server (TCP and web doors) on
// loopback ports, shut down at the end of the test.
type testServer struct {
	*server.Server
	base string // http://127.0.0.1:PORT
	done chan error
}

func startServer(t testing.TB, mod func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: webfront.Config{Addr: "127.0.0.1:0"}, ShutdownTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := &testServer{Server: srv, base: "http://" + srv.HTTPAddr(), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and waits for Serve to return; safe to call
// twice.
func (ts *testServer) stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		ts.done <- nil
	case <-ctx.Done():
		t.Error("Serve did not return after Shutdown")
	}
}

func (ts *testServer) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(ts.base, "http") + path
}

// frame is a decoded server frame.
type frame map[string]any

func (f frame) s(k string) string { v, _ := f[k].(string); return v }

// wsClient is a test WebSocket client that reads synchronously.
type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, ts *testServer, query string, hdr http.Header) *wsClient {
	t.Helper()
	c, err := tryDialWS(ts, query, hdr)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	w := &wsClient{t: t, c: c}
	t.Cleanup(func() { _ = c.CloseNow() })
	w.expect("welcome", func(f frame) bool { return f.s("op") == "info" && f.s("nick") != "" })
	return w
}

func tryDialWS(ts *testServer, query string, hdr http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, ts.wsURL("/ws"+query), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return c, nil
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	w.sendRaw(websocket.MessageText, b)
}

func (w *wsClient) sendRaw(typ websocket.MessageType, b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := w.c.Write(ctx, typ, b); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

// next reads one frame, or returns the read error.
func (w *wsClient) next(ctx context.Context) (frame, error) {
	_, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", b, err)
	}
	if _, ok := f["op"]; !ok {
		return nil, fmt.Errorf("server frame without op: %s", b)
	}
	return f, nil
}

// expect reads frames until one satisfies match.
func (w *wsClient) expect(what string, match func(frame) bool) frame {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var seen []frame
	for {
		f, err := w.next(ctx)
		if err != nil {
			w.t.Fatalf("ws: waiting for %s: %v (seen %v)", what, err, seen)
		}
		if match(f) {
			return f
		}
		seen = append(seen, f)
	}
}

// tcpClient is a line-protocol client.
type tcpClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialTCP(t *testing.T, ts *testServer) *tcpClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.TCPAddr())
	if err != nil {
		t.Fatalf("dial tcp: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tc := &tcpClient{t: t, c: c, r: bufio.NewReader(c)}
	tc.expect("banner", func(l string) bool { return strings.HasPrefix(l, "* ") })
	return tc
}

func (c *tcpClient) send(l string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, l+"\n"); err != nil {
		c.t.Fatalf("tcp write: %v", err)
	}
}

func (c *tcpClient) expect(what string, match func(string) bool) string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(waitFor))
	var seen []string
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("tcp: waiting for %s: %v (seen %q)", what, err, seen)
		}
		l = strings.TrimRight(l, "\r\n")
		if match(l) {
			return l
		}
		seen = append(seen, l)
	}
}

// sseClient reads an event stream.
type sseClient struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

// sseEvent is one event or comment of a stream.
type sseEvent struct {
	comment string
	event   string
	data    frame
}

func dialSSE(t *testing.T, ts *testServer, query string) *sseClient {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.base+"/sse"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sse: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sse: status %d: %s", resp.StatusCode, b)
	}
	return &sseClient{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// read returns the next event or comment.
func (c *sseClient) read() (sseEvent, error) {
	var ev sseEvent
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		l = strings.TrimRight(l, "\n")
		switch {
		case l == "":
			if ev.comment != "" || ev.event != "" || ev.data != nil {
				return ev, nil
			}
		case strings.HasPrefix(l, ": "):
			ev.comment = l[2:]
		case strings.HasPrefix(l, "event: "):
			ev.event = l[7:]
		case strings.HasPrefix(l, "data: "):
			if err := json.Unmarshal([]byte(l[6:]), &ev.data); err != nil {
				return ev, fmt.Errorf("bad data line %q: %w", l, err)
			}
		default:
			return ev, fmt.Errorf("unexpected SSE line %q", l)
		}
	}
}

// expect reads until match holds; the read is bounded by closing the body
// when the time is up.
func (c *sseClient) expect(what string, match func(sseEvent) bool) sseEvent {
	c.t.Helper()
	timer := time.AfterFunc(waitFor, func() { _ = c.resp.Body.Close() })
	defer timer.Stop()
	var seen []sseEvent
	for {
		ev, err := c.read()
		if err != nil {
			c.t.Fatalf("sse: waiting for %s: %v (seen %+v)", what, err, seen)
		}
		if match(ev) {
			return ev
		}
		seen = append(seen, ev)
	}
}

// post publishes body to a topic and returns the status and decoded body.
func post(t *testing.T, ts *testServer, topic, body string, hdr http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.base+"/pub/"+topic, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("post %s: status %d, body %q is not JSON", topic, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
