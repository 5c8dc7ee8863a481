// Package webtest is a client of the web door for tests: WebSocket (JSON
// frames), Server-Sent Events and HTTP publish, each failing the test on
// anything unexpected and bounded by testkit.Timeout. It is shared by the
// web door's own tests and the tests that cross doors, as package linetest
// is for the line protocol; it is not for production code.
package webtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// Frame is a decoded JSON frame or response body.
type Frame map[string]any

// S returns the string field k, or "" when it is absent or not a string.
func (f Frame) S(k string) string { v, _ := f[k].(string); return v }

// WSURL is the ws:// URL of path on the server whose base URL is base
// ("http://host:port").
func WSURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// WS is one WebSocket client that reads synchronously. It is used from
// one goroutine.
type WS struct {
	T    testing.TB
	C    *websocket.Conn
	Nick string // the nick the welcome frame gave
}

// DialWS opens /ws+query on base with extra headers hdr and reads the
// welcome frame; the connection is closed when the test ends.
func DialWS(t testing.TB, base, query string, hdr http.Header) *WS {
	t.Helper()
	return DialWSWith(t, nil, base, query, hdr)
}

// DialWSWith is DialWS through the HTTP client hc (nil: the default
// one), e.g. one that trusts a test CA for wss://.
func DialWSWith(t testing.TB, hc *http.Client, base, query string, hdr http.Header) *WS {
	t.Helper()
	c, err := TryDialWSWith(hc, base, query, hdr)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	w := &WS{T: t, C: c}
	t.Cleanup(func() { _ = c.CloseNow() })
	w.Nick = w.Expect("welcome", func(f Frame) bool { return f.S("op") == "info" && f.S("nick") != "" }).S("nick")
	return w
}

// TryDialWS opens /ws+query on base and returns the connection or the
// error (with the HTTP status when the server answered).
func TryDialWS(base, query string, hdr http.Header) (*websocket.Conn, error) {
	return TryDialWSWith(nil, base, query, hdr)
}

// TryDialWSWith is TryDialWS through the HTTP client hc (nil: the
// default one).
func TryDialWSWith(hc *http.Client, base, query string, hdr http.Header) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, WSURL(base, "/ws"+query), &websocket.DialOptions{HTTPHeader: hdr, HTTPClient: hc})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	return c, nil
}

// Send writes v as one JSON text message.
func (w *WS) Send(v any) {
	w.T.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.T.Fatalf("ws: encode %v: %v", v, err)
	}
	w.SendRaw(websocket.MessageText, b)
}

// SendRaw writes one message of type typ.
func (w *WS) SendRaw(typ websocket.MessageType, b []byte) {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if err := w.C.Write(ctx, typ, b); err != nil {
		w.T.Fatalf("ws write: %v", err)
	}
}

// Next reads one frame, or returns the read error (a close status
// included). A frame that is not a JSON object with an "op" is an error.
func (w *WS) Next(ctx context.Context) (Frame, error) {
	_, b, err := w.C.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("server sent invalid JSON %q: %w", b, err)
	}
	if _, ok := f["op"]; !ok {
		return nil, fmt.Errorf("server frame without op: %s", b)
	}
	return f, nil
}

// Expect reads frames until one satisfies match and returns it; it fails
// the test on a read error or after testkit.Timeout.
func (w *WS) Expect(what string, match func(Frame) bool) Frame {
	w.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	var seen []Frame
	for {
		f, err := w.Next(ctx)
		if err != nil {
			w.T.Fatalf("ws: waiting for %s: %v (seen %v)", what, err, seen)
		}
		if match(f) {
			return f
		}
		seen = append(seen, f)
	}
}

// SSE reads one event stream. It is used from one goroutine.
type SSE struct {
	T    testing.TB
	Resp *http.Response
	R    *bufio.Reader
}

// Event is one event or comment of a stream.
type Event struct {
	Comment string // the text of a ": comment" line
	ID      string // the id: field, if any
	Event   string // the event: field
	Data    Frame  // the data: field, decoded
}

// DialSSE opens /sse+query on base and checks the answer is 200; the
// stream is closed when the test ends.
func DialSSE(t testing.TB, base, query string) *SSE {
	t.Helper()
	return DialSSEWith(t, http.DefaultClient, base, query)
}

// DialSSEWith is DialSSE through the HTTP client hc.
func DialSSEWith(t testing.TB, hc *http.Client, base, query string) *SSE {
	t.Helper()
	return DialSSEHeader(t, hc, base, query, nil)
}

// DialSSEHeader is DialSSEWith sending the header hdr too, such as the
// Last-Event-ID of a reconnecting EventSource.
func DialSSEHeader(t testing.TB, hc *http.Client, base, query string, hdr http.Header) *SSE {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/sse"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("sse: %v", err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("sse: status %d: %s", resp.StatusCode, b)
	}
	return &SSE{T: t, Resp: resp, R: bufio.NewReader(resp.Body)}
}

// Read returns the next event or comment; io.EOF at a clean end of the
// stream.
func (c *SSE) Read() (Event, error) {
	var ev Event
	for {
		l, err := c.R.ReadString('\n')
		if err != nil {
			return ev, err
		}
		l = strings.TrimRight(l, "\n")
		switch {
		case l == "":
			if ev.Comment != "" || ev.Event != "" || ev.Data != nil {
				return ev, nil
			}
		case strings.HasPrefix(l, ": "):
			ev.Comment = l[2:]
		case strings.HasPrefix(l, "id: "):
			ev.ID = l[4:]
		case strings.HasPrefix(l, "event: "):
			ev.Event = l[7:]
		case strings.HasPrefix(l, "data: "):
			if err := json.Unmarshal([]byte(l[6:]), &ev.Data); err != nil {
				return ev, fmt.Errorf("bad data line %q: %w", l, err)
			}
		default:
			return ev, fmt.Errorf("unexpected SSE line %q", l)
		}
	}
}

// Expect reads until match holds and returns that event; the wait is
// bounded by closing the body after testkit.Timeout.
func (c *SSE) Expect(what string, match func(Event) bool) Event {
	c.T.Helper()
	timer := time.AfterFunc(testkit.Timeout, func() { _ = c.Resp.Body.Close() })
	defer timer.Stop()
	var seen []Event
	for {
		ev, err := c.Read()
		if err != nil {
			c.T.Fatalf("sse: waiting for %s: %v (seen %+v)", what, err, seen)
		}
		if match(ev) {
			return ev
		}
		seen = append(seen, ev)
	}
}

// Post publishes body on topic through POST /pub/TOPIC and returns the
// status and the decoded JSON body (every answer of the door is JSON).
func Post(t testing.TB, base, topic, body string, hdr http.Header) (int, Frame) {
	t.Helper()
	return PostWith(t, http.DefaultClient, base, topic, body, hdr)
}

// PostWith is Post through the HTTP client hc.
func PostWith(t testing.TB, hc *http.Client, base, topic, body string, hdr http.Header) (int, Frame) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/pub/"+topic, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	var out Frame
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("post %s: status %d, body %q is not JSON", topic, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

// Get fetches url and returns the status, headers and body.
func Get(t testing.TB, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("get %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Bearer is an Authorization header carrying tok.
func Bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// Query is "?k1=v1&k2=v2..." from alternating keys and values.
func Query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return "?" + v.Encode()
}
