package webfront_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestHTTPPublish(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) {
		c.Web.PublishToken = "pub-secret"
		c.Web.MaxBody = 1024
	})
	sub := dialSSE(t, ts, query("topic", "alerts.>"))
	sub.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed alerts.>" })

	tests := []struct {
		name   string
		topic  string
		body   string
		hdr    http.Header
		status int
		errSub string
	}{
		{"no token", "alerts.disk", "x", nil, 401, "needs a token"},
		{"wrong token", "alerts.disk", "x", bearer("nope"), 401, "wrong token"},
		{"basic auth is not bearer", "alerts.disk", "x", http.Header{"Authorization": {"Basic eDp5"}}, 401, "wrong token"},
		{"bad topic", "alerts..disk", "x", bearer("pub-secret"), 400, "bad topic"},
		{"wildcard topic", "alerts.*", "x", bearer("pub-secret"), 400, "wildcards are not allowed"},
		{"empty body", "alerts.disk", "\n", bearer("pub-secret"), 400, "empty message"},
		{"too large", "alerts.disk", strings.Repeat("x", 1025), bearer("pub-secret"), 413, "limit is 1024 bytes"},
		{"ok", "alerts.disk", "disk full\n", bearer("pub-secret"), 202, ""},
	}
	for _, tc := range tests {
		code, body := post(t, ts, tc.topic, tc.body, tc.hdr)
		if code != tc.status {
			t.Fatalf("%s: status %d (%v), want %d", tc.name, code, body, tc.status)
		}
		if tc.errSub != "" {
			if e, _ := body["error"].(string); !strings.Contains(e, tc.errSub) {
				t.Fatalf("%s: error %q, want it to contain %q", tc.name, e, tc.errSub)
			}
			continue
		}
		if body["delivered"] != float64(1) {
			t.Fatalf("%s: delivered %v, want 1", tc.name, body["delivered"])
		}
	}
	// Only the good publish arrived, from "http", trailing newline gone.
	ev := sub.expect("message", func(e sseEvent) bool { return e.event == "msg" })
	if ev.data.s("from") != "http" || ev.data.s("text") != "disk full" || ev.data.s("topic") != "alerts.disk" {
		t.Fatalf("got %v", ev.data)
	}
	// Wrong method.
	if code, _, _ := get(t, ts.base+"/pub/alerts.disk"); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET /pub: status %d, want 405", code)
	}
}

// TestHTTPErrorNotHTMLEscaped: JSON error bodies quote the user's input
// as typed; & and > are not turned into \u0026 and \u003e.
func TestHTTPErrorNotHTMLEscaped(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	resp, err := http.Post(ts.base+"/pub/"+url.PathEscape("a&b>c"), "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `a&b>c`) || strings.Contains(string(b), `\u00`) {
		t.Fatalf("got %d %q, want 400 quoting a&b>c as is", resp.StatusCode, b)
	}
}

// TestHTTPPublishRateLimit: --rate-limit applies to HTTP publishes per
// client address; over it the answer is 429 with Retry-After.
func TestHTTPPublishRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) {
		c.Session.RateLimit = 0.5 // one token per 2 s: the test cannot earn one back
		c.Session.RateBurst = 2
	})
	for i, want := range []int{202, 202} {
		if code, body := post(t, ts, "alerts.disk", "x", nil); code != want {
			t.Fatalf("publish %d: status %d (%v), want %d", i, code, body, want)
		}
	}
	resp, err := http.Post(ts.base+"/pub/alerts.disk", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), "rate limited") {
		t.Fatalf("third publish: %d %q, want 429 rate limited", resp.StatusCode, b)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "1" && ra != "2" {
		t.Errorf("Retry-After %q, want 1 or 2 (seconds)", ra)
	}
}

func TestHTTPPublishSanitizes(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	tcp := dialTCP(t, ts)
	tcp.send("/sub news")
	tcp.expect("subscribed", func(l string) bool { return strings.Contains(l, "subscribed news") })
	code, body := post(t, ts, "news", "evil\x1b[2Jtext", nil)
	if code != 202 || body["delivered"] != float64(1) {
		t.Fatalf("status %d body %v", code, body)
	}
	l := tcp.expect("message", func(l string) bool { return strings.HasPrefix(l, "[news] http:") })
	if strings.ContainsRune(l, 0x1b) {
		t.Fatalf("escape reached a terminal: %q", l)
	}
}

func TestSSE(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Web.SSEKeepalive = 50 * time.Millisecond })

	for _, tc := range []struct {
		name, query string
		status      int
	}{
		{"no topic", "", 400},
		{"bad pattern", query("topic", "a.>.b"), 400},
		{"empty pattern", query("topic", ""), 400},
	} {
		code, _, body := get(t, ts.base+"/sse"+tc.query)
		if code != tc.status || !strings.Contains(body, `"error"`) {
			t.Fatalf("%s: status %d body %q, want %d with an error", tc.name, code, body, tc.status)
		}
	}

	s := dialSSE(t, ts, query("topic", "a.*", "topic", "b.>", "topic", "a.*"))
	if ct := s.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	s.expect("first", func(e sseEvent) bool { return e.comment == "subscribed a.*" })
	s.expect("second", func(e sseEvent) bool { return e.comment == "subscribed b.>" })
	s.expect("keepalive", func(e sseEvent) bool { return e.comment == "keepalive" })
	if code, _ := post(t, ts, "b.c.d", "deep", nil); code != 202 {
		t.Fatalf("post status %d", code)
	}
	ev := s.expect("message", func(e sseEvent) bool { return e.event == "msg" })
	if ev.data.s("text") != "deep" || ev.data["seq"] != float64(1) {
		t.Fatalf("got %v", ev.data)
	}
	testkit.Eventually(t, "sse session counted", func() bool { return ts.Registry().Stats().SessionsByDoor["sse"] == 1 })
	_ = s.resp.Body.Close()
	testkit.Eventually(t, "sse session gone", func() bool { return ts.Registry().Stats().SessionsByDoor["sse"] == 0 })
}

func TestWebSocketBadInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Web.MaxMessage = 512 })
	bystander := dialWS(t, ts, "", nil)
	bystander.send(map[string]string{"op": "join", "room": "lobby"})
	bystander.expect("joined", func(f frame) bool { return f.s("re") == "join" })

	w := dialWS(t, ts, "", nil)
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"not json", `{"op":`, "not valid JSON"},
		{"unknown op", `{"op":"dance"}`, `unknown op "dance"`},
		{"no op", `{"room":"x"}`, `missing "op"`},
		{"wrong type", `{"op":"join","room":7}`, `field "room" must be a string`},
		{"missing field", `{"op":"join"}`, `join needs "room"`},
		{"bad topic", `{"op":"pub","topic":"a..b","text":"x"}`, "bad topic"},
		{"bad pattern", `{"op":"sub","topic":"a.>.c"}`, "bad pattern"},
		{"bad nick", `{"op":"nick","nick":"no spaces"}`, "bad nick"},
		{"reserved nick", `{"op":"nick","nick":"http"}`, "taken"},
		{"say without room", `{"op":"say","text":"hi"}`, "join a room first"},
	}
	for _, tc := range tests {
		w.sendRaw(websocket.MessageText, []byte(tc.raw))
		f := w.expect(tc.name, func(f frame) bool { return f.s("op") == "error" })
		if !strings.Contains(f.s("text"), tc.want) {
			t.Fatalf("%s: error %q, want %q", tc.name, f.s("text"), tc.want)
		}
	}
	w.sendRaw(websocket.MessageBinary, []byte{1, 2, 3})
	w.expect("binary refused", func(f frame) bool { return f.s("op") == "error" && strings.Contains(f.s("text"), "binary") })

	// Still usable after all that.
	w.send(map[string]string{"op": "ping", "text": "still here"})
	w.expect("pong", func(f frame) bool { return f.s("re") == "ping" && f.s("text") == "pong still here" })

	// An oversized message closes that connection with 1009 …
	w.sendRaw(websocket.MessageText, []byte(`{"op":"pub","topic":"lobby","text":"`+strings.Repeat("x", 600)+`"}`))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		_, err := w.next(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Fatalf("oversized message: %v, want close 1009", err)
			}
			break
		}
	}
	// … and nobody else notices.
	other := dialWS(t, ts, "", nil)
	other.send(map[string]string{"op": "join", "room": "lobby"})
	other.expect("joined", func(f frame) bool { return f.s("re") == "join" })
	other.send(map[string]string{"op": "pub", "topic": "lobby", "text": "all good"})
	bystander.expect("message", func(f frame) bool { return f.s("op") == "msg" && f.s("text") == "all good" })
}

func TestWebSocketTokens(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Web.PublishToken = "pub-secret" })
	// Without a token: subscribe yes, publish no.
	ro := dialWS(t, ts, "", nil)
	ro.send(map[string]string{"op": "sub", "topic": "t"})
	ro.expect("subscribed", func(f frame) bool { return f.s("re") == "sub" && f.s("op") == "info" })
	ro.send(map[string]string{"op": "pub", "topic": "t", "text": "x"})
	f := ro.expect("refusal", func(f frame) bool { return f.s("op") == "error" })
	if f.s("re") != "pub" || !strings.Contains(f.s("text"), "publish token") {
		t.Fatalf("got %v", f)
	}
	// With it, by query and by header.
	for _, c := range []*wsClient{dialWS(t, ts, query("token", "pub-secret"), nil), dialWS(t, ts, "", bearer("pub-secret"))} {
		c.send(map[string]string{"op": "pub", "topic": "t", "text": "authorized"})
		ro.expect("message", func(f frame) bool { return f.s("op") == "msg" && f.s("text") == "authorized" })
	}
	// A wrong token is refused at the handshake.
	if _, err := tryDialWS(ts, query("token", "guess"), nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v, want 401", err)
	}
	if code, _, _ := get(t, ts.base+"/sse"+query("topic", "t", "token", "guess")); code != 401 {
		t.Fatalf("sse wrong token: %d", code)
	}
}

func TestSubscribeToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Web.SubscribeToken = "sub-secret" })
	if _, err := tryDialWS(ts, "", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("ws without token: %v, want 401", err)
	}
	if code, hdr, _ := get(t, ts.base+"/sse"+query("topic", "t")); code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("sse without token: %d %v", code, hdr)
	}
	w := dialWS(t, ts, query("token", "sub-secret"), nil)
	s := dialSSE(t, ts, query("topic", "t", "token", "sub-secret"))
	s.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed t" })
	// Publishing stays open without a publish token.
	w.send(map[string]string{"op": "pub", "topic": "t", "text": "hello"})
	s.expect("message", func(e sseEvent) bool { return e.event == "msg" && e.data.s("text") == "hello" })
}

func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	same := startServer(t, nil)
	if _, err := tryDialWS(same, "", http.Header{"Origin": {"http://evil.example"}}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v, want 403", err)
	}
	c, err := tryDialWS(same, "", http.Header{"Origin": {same.base}})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	_ = c.CloseNow()

	wide := startServer(t, func(c *server.Config) { c.Web.AllowedOrigins = []string{"*.example.org"} })
	c, err = tryDialWS(wide, "", http.Header{"Origin": {"https://app.example.org"}})
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	_ = c.CloseNow()
}

func TestPagesAndHeaders(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	inline := regexp.MustCompile(`(?i)<script(?:\s+[^>]*)?>\s*[^<\s]|\sstyle\s*=|\son[a-z]+\s*=`)
	for _, tc := range []struct{ path, contains, ctype string }{
		{"/", `src="/chat/chat.js"`, "text/html"},
		{"/dashboard", `src="/dashboard/dashboard.js"`, "text/html"},
		{"/chat/chat.js", "new WebSocket", "text/javascript"},
		{"/chat/chat.css", ".log", "text/css"},
		{"/dashboard/dashboard.js", "/api/stats", "text/javascript"},
		{"/vendor/uplot/uPlot.iife.min.js", "uPlot", "text/javascript"},
		{"/vendor/uplot/LICENSE", "MIT", "text/plain"},
		{"/healthz", "ok", "text/plain"},
		{"/readyz", "ready", "text/plain"},
	} {
		code, hdr, body := get(t, ts.base+tc.path)
		if code != 200 || !strings.Contains(body, tc.contains) || !strings.HasPrefix(hdr.Get("Content-Type"), tc.ctype) {
			t.Fatalf("GET %s: %d %q, body has %q: %v", tc.path, code, hdr.Get("Content-Type"), tc.contains, strings.Contains(body, tc.contains))
		}
		csp := hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Fatalf("GET %s: CSP %q", tc.path, csp)
		}
		if strings.HasSuffix(tc.ctype, "html") && inline.MatchString(body) {
			t.Fatalf("GET %s: inline script, style or handler: %q", tc.path, inline.FindString(body))
		}
	}
	if code, _, _ := get(t, ts.base+"/nope"); code != 404 {
		t.Fatalf("GET /nope: %d", code)
	}
}

func TestMetricsAndStats(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	w := dialWS(t, ts, "", nil)
	w.send(map[string]string{"op": "join", "room": "lobby"})
	w.expect("joined", func(f frame) bool { return f.s("re") == "join" })
	dialTCP(t, ts)
	if code, _ := post(t, ts, "lobby", "hello", nil); code != 202 {
		t.Fatal("publish failed")
	}
	code, _, body := get(t, ts.base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{
		`switchboard_session_connections{door="ws"} 1`, `switchboard_session_connections{door="tcp"} 1`,
		"switchboard_hub_subscriptions 1", "switchboard_hub_published_messages_total 1",
		"switchboard_session_delivered_messages_total", "switchboard_session_sent_bytes_total",
		"switchboard_session_slow_consumers_total 0", "switchboard_session_queued_bytes",
		`switchboard_web_publish_requests_total{code="202"} 1`,
		"go_goroutines", "go_sched_latencies_seconds_bucket", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}

	var st struct {
		Connections     int    `json:"connections"`
		ProcessRSSBytes uint64 `json:"process_rss_bytes"`
		Runtime         struct {
			Goroutines int `json:"goroutines"`
			GOMAXPROCS int `json:"gomaxprocs"`
			Threads    int `json:"threads"`
		} `json:"runtime"`
		Sessions struct {
			ByDoor map[string]int `json:"by_door"`
		} `json:"sessions"`
		Hub struct {
			Topics int `json:"topics"`
		} `json:"hub"`
		History []json.RawMessage `json:"history"`
	}
	testkit.Eventually(t, "a stats sample", func() bool {
		_, _, body = get(t, ts.base+"/api/stats?history=1")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/api/stats: %v: %s", err, body)
		}
		return len(st.History) > 0
	})
	if st.Connections != 2 || st.Sessions.ByDoor["ws"] != 1 || st.Sessions.ByDoor["tcp"] != 1 || st.ProcessRSSBytes == 0 ||
		st.Runtime.Goroutines == 0 || st.Runtime.GOMAXPROCS == 0 || st.Runtime.Threads == 0 || st.Hub.Topics == 0 {
		t.Fatalf("stats: %s", body)
	}
}

// TestWebSocketSanitizeAndRateLimit checks that the WebSocket door applies
// the TCP door's text sanitising and per-client rate limit.
func TestWebSocketSanitizeAndRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Session.RateLimit = 0.001; c.Session.RateBurst = 1 })
	tcp := dialTCP(t, ts)
	tcp.send("/sub news")
	tcp.expect("subscribed", func(l string) bool { return strings.Contains(l, "subscribed news") })
	w := dialWS(t, ts, "", nil)
	w.send(map[string]string{"op": "pub", "topic": "news", "text": "red \x1b[31malert\u0007"})
	l := tcp.expect("message", func(l string) bool { return strings.HasPrefix(l, "[news] ") })
	if strings.ContainsAny(l, "\x1b\a") || !strings.Contains(l, "\uFFFD[31malert\uFFFD") {
		t.Fatalf("not sanitised: %q", l)
	}
	w.send(map[string]string{"op": "pub", "topic": "news", "text": "again"})
	f := w.expect("refusal", func(f frame) bool { return f.s("op") == "error" })
	if f.s("re") != "pub" || !strings.Contains(f.s("text"), "rate limited") {
		t.Fatalf("got %v", f)
	}
}

func TestBadOriginPattern(t *testing.T) {
	t.Parallel()
	_, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Web: webfront.Config{AllowedOrigins: []string{"[bad"}, Addr: "127.0.0.1:0"}}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "bad allowed origin pattern") {
		t.Fatalf("New with a bad origin pattern: %v", err)
	}
}
