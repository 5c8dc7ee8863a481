package webfront_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

func TestHTTPPublish(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *webfront.Config) { c.MaxBody = 1024 })
	ts.tokens(t, "pub-secret", "")
	sub := webtest.DialSSE(t, ts.base, webtest.Query("topic", "alerts.>"))
	sub.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed alerts.>" })

	tests := []struct {
		name   string
		topic  string
		body   string
		hdr    http.Header
		status int
		errSub string
	}{
		{"no token", "alerts.disk", "x", nil, 401, "authentication required"},
		{"wrong token", "alerts.disk", "x", webtest.Bearer("nope"), 401, "bad token"},
		{"basic auth is not bearer", "alerts.disk", "x", http.Header{"Authorization": {"Basic eDp5"}}, 401, "bad token"},
		{"bad topic", "alerts..disk", "x", webtest.Bearer("pub-secret"), 400, "bad topic"},
		{"wildcard topic", "alerts.*", "x", webtest.Bearer("pub-secret"), 400, "wildcards are not allowed"},
		{"empty body", "alerts.disk", "\n", webtest.Bearer("pub-secret"), 400, "empty message"},
		{"too large", "alerts.disk", strings.Repeat("x", 1025), webtest.Bearer("pub-secret"), 413, "limit is 1024 bytes"},
		{"ok", "alerts.disk", "disk full\n", webtest.Bearer("pub-secret"), 202, ""},
	}
	for _, tc := range tests {
		code, body := webtest.Post(t, ts.base, tc.topic, tc.body, tc.hdr)
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
	ev := sub.Expect("message", func(e webtest.Event) bool { return e.Event == "msg" })
	if ev.Data.S("from") != "http" || ev.Data.S("text") != "disk full" || ev.Data.S("topic") != "alerts.disk" {
		t.Fatalf("got %v", ev.Data)
	}
	// Wrong method.
	if code, _, _ := webtest.Get(t, ts.base+"/pub/alerts.disk"); code != http.StatusMethodNotAllowed {
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
	ts := startServer(t, func(c *webfront.Config) {
		c.Session.RateLimit = 0.5 // one token per 2 s: the test cannot earn one back
		c.Session.RateBurst = 2
	})
	for i, want := range []int{202, 202} {
		if code, body := webtest.Post(t, ts.base, "alerts.disk", "x", nil); code != want {
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
	sub := webtest.DialSSE(t, ts.base, webtest.Query("topic", "news"))
	sub.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed news" })
	code, body := webtest.Post(t, ts.base, "news", "evil\x1b[2Jtext", nil)
	if code != 202 || body["delivered"] != float64(1) {
		t.Fatalf("status %d body %v", code, body)
	}
	ev := sub.Expect("message", func(e webtest.Event) bool { return e.Event == "msg" && e.Data.S("from") == "http" })
	if text := ev.Data.S("text"); strings.ContainsRune(text, 0x1b) || text != "evil\uFFFD[2Jtext" {
		t.Fatalf("not sanitised: %q", text)
	}
}

func TestSSE(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *webfront.Config) { c.SSEKeepalive = 50 * time.Millisecond })

	for _, tc := range []struct {
		name, query string
		status      int
	}{
		{"no topic", "", 400},
		{"bad pattern", webtest.Query("topic", "a.>.b"), 400},
		{"empty pattern", webtest.Query("topic", ""), 400},
	} {
		code, _, body := webtest.Get(t, ts.base+"/sse"+tc.query)
		if code != tc.status || !strings.Contains(body, `"error"`) {
			t.Fatalf("%s: status %d body %q, want %d with an error", tc.name, code, body, tc.status)
		}
	}

	s := webtest.DialSSE(t, ts.base, webtest.Query("topic", "a.*", "topic", "b.>", "topic", "a.*"))
	if ct := s.Resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	s.Expect("first", func(e webtest.Event) bool { return e.Comment == "subscribed a.*" })
	s.Expect("second", func(e webtest.Event) bool { return e.Comment == "subscribed b.>" })
	s.Expect("keepalive", func(e webtest.Event) bool { return e.Comment == "keepalive" })
	if code, _ := webtest.Post(t, ts.base, "b.c.d", "deep", nil); code != 202 {
		t.Fatalf("post status %d", code)
	}
	ev := s.Expect("message", func(e webtest.Event) bool { return e.Event == "msg" })
	if ev.Data.S("text") != "deep" || ev.Data["seq"] != float64(1) {
		t.Fatalf("got %v", ev.Data)
	}
	testkit.Eventually(t, "sse session counted", func() bool { return ts.Registry().Stats().SessionsByDoor["sse"] == 1 })
	_ = s.Resp.Body.Close()
	testkit.Eventually(t, "sse session gone", func() bool { return ts.Registry().Stats().SessionsByDoor["sse"] == 0 })
}

func TestWebSocketBadInput(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *webfront.Config) { c.MaxMessage = 512 })
	bystander := webtest.DialWS(t, ts.base, "", nil)
	bystander.Send(map[string]string{"op": "join", "room": "lobby"})
	bystander.Expect("joined", func(f webtest.Frame) bool { return f.S("re") == "join" })

	w := webtest.DialWS(t, ts.base, "", nil)
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
		w.SendRaw(websocket.MessageText, []byte(tc.raw))
		f := w.Expect(tc.name, func(f webtest.Frame) bool { return f.S("op") == "error" })
		if !strings.Contains(f.S("text"), tc.want) {
			t.Fatalf("%s: error %q, want %q", tc.name, f.S("text"), tc.want)
		}
	}
	w.SendRaw(websocket.MessageBinary, []byte{1, 2, 3})
	w.Expect("binary refused", func(f webtest.Frame) bool { return f.S("op") == "error" && strings.Contains(f.S("text"), "binary") })

	// Still usable after all that.
	w.Send(map[string]string{"op": "ping", "text": "still here"})
	w.Expect("pong", func(f webtest.Frame) bool { return f.S("re") == "ping" && f.S("text") == "pong still here" })

	// An oversized message closes that connection with 1009 …
	w.SendRaw(websocket.MessageText, []byte(`{"op":"pub","topic":"lobby","text":"`+strings.Repeat("x", 600)+`"}`))
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		_, err := w.Next(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Fatalf("oversized message: %v, want close 1009", err)
			}
			break
		}
	}
	// … and nobody else notices.
	other := webtest.DialWS(t, ts.base, "", nil)
	other.Send(map[string]string{"op": "join", "room": "lobby"})
	other.Expect("joined", func(f webtest.Frame) bool { return f.S("re") == "join" })
	other.Send(map[string]string{"op": "pub", "topic": "lobby", "text": "all good"})
	bystander.Expect("message", func(f webtest.Frame) bool { return f.S("op") == "msg" && f.S("text") == "all good" })
}

func TestWebSocketTokens(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ts.tokens(t, "pub-secret", "")
	// Without a token: subscribe yes, publish no.
	ro := webtest.DialWS(t, ts.base, "", nil)
	ro.Send(map[string]string{"op": "sub", "topic": "t"})
	ro.Expect("subscribed", func(f webtest.Frame) bool { return f.S("re") == "sub" && f.S("op") == "info" })
	ro.Send(map[string]string{"op": "pub", "topic": "t", "text": "x"})
	f := ro.Expect("refusal", func(f webtest.Frame) bool { return f.S("op") == "error" })
	if f.S("re") != "pub" || f.S("text") != "authentication required" || f.S("code") != "auth_required" {
		t.Fatalf("got %v", f)
	}
	// With it, by query and by header.
	for _, c := range []*webtest.WS{webtest.DialWS(t, ts.base, webtest.Query("token", "pub-secret"), nil), webtest.DialWS(t, ts.base, "", webtest.Bearer("pub-secret"))} {
		c.Send(map[string]string{"op": "pub", "topic": "t", "text": "authorized"})
		ro.Expect("message", func(f webtest.Frame) bool { return f.S("op") == "msg" && f.S("text") == "authorized" })
	}
	// A wrong token is refused at the handshake.
	if _, err := webtest.TryDialWS(ts.base, webtest.Query("token", "guess"), nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v, want 401", err)
	}
	if code, _, _ := webtest.Get(t, ts.base+"/sse"+webtest.Query("topic", "t", "token", "guess")); code != 401 {
		t.Fatalf("sse wrong token: %d", code)
	}
}

func TestSubscribeToken(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	ts.tokens(t, "", "sub-secret")
	// A WebSocket without a token is anonymous until its first frame
	// authenticates it.
	anon := webtest.DialWS(t, ts.base, "", nil)
	anon.Send(map[string]string{"op": "sub", "topic": "t"})
	anon.Expect("refusal", func(f webtest.Frame) bool {
		return f.S("op") == "error" && f.S("re") == "sub" && f.S("text") == "authentication required"
	})
	anon.Send(map[string]string{"op": "auth", "token": "guess"})
	anon.Expect("bad token", func(f webtest.Frame) bool { return f.S("op") == "error" && f.S("text") == "bad token" })
	anon.Send(map[string]string{"op": "auth", "token": "sub-secret"})
	anon.Expect("authenticated", func(f webtest.Frame) bool { return f.S("re") == "auth" && f.S("text") == "authenticated" })
	anon.Send(map[string]string{"op": "sub", "topic": "t"})
	anon.Expect("subscribed", func(f webtest.Frame) bool { return f.S("re") == "sub" && f.S("op") == "info" })
	if code, hdr, _ := webtest.Get(t, ts.base+"/sse"+webtest.Query("topic", "t")); code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("sse without token: %d %v", code, hdr)
	}
	w := webtest.DialWS(t, ts.base, webtest.Query("token", "sub-secret"), nil)
	s := webtest.DialSSE(t, ts.base, webtest.Query("topic", "t", "token", "sub-secret"))
	s.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed t" })
	// Publishing stays open without a publish token.
	w.Send(map[string]string{"op": "pub", "topic": "t", "text": "hello"})
	s.Expect("message", func(e webtest.Event) bool { return e.Event == "msg" && e.Data.S("text") == "hello" })
}

func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	same := startServer(t, nil)
	if _, err := webtest.TryDialWS(same.base, "", http.Header{"Origin": {"http://evil.example"}}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v, want 403", err)
	}
	c, err := webtest.TryDialWS(same.base, "", http.Header{"Origin": {same.base}})
	if err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	_ = c.CloseNow()

	wide := startServer(t, func(c *webfront.Config) { c.AllowedOrigins = []string{"*.example.org"} })
	c, err = webtest.TryDialWS(wide.base, "", http.Header{"Origin": {"https://app.example.org"}})
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
		code, hdr, body := webtest.Get(t, ts.base+tc.path)
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
	if code, _, _ := webtest.Get(t, ts.base+"/nope"); code != 404 {
		t.Fatalf("GET /nope: %d", code)
	}
}

func TestMetricsAndStats(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	w := webtest.DialWS(t, ts.base, "", nil)
	w.Send(map[string]string{"op": "join", "room": "lobby"})
	w.Expect("joined", func(f webtest.Frame) bool { return f.S("re") == "join" })
	sub := webtest.DialSSE(t, ts.base, webtest.Query("topic", "lobby"))
	sub.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed lobby" })
	if code, _ := webtest.Post(t, ts.base, "lobby", "hello", nil); code != 202 {
		t.Fatal("publish failed")
	}
	code, _, body := webtest.Get(t, ts.base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, name := range []string{
		`switchboard_session_connections{door="ws"} 1`, `switchboard_session_connections{door="sse"} 1`,
		"switchboard_hub_subscriptions 2", "switchboard_hub_published_messages_total 1",
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
		_, _, body = webtest.Get(t, ts.base+"/api/stats?history=1")
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/api/stats: %v: %s", err, body)
		}
		return len(st.History) > 0
	})
	if st.Connections != 2 || st.Sessions.ByDoor["ws"] != 1 || st.Sessions.ByDoor["sse"] != 1 || st.ProcessRSSBytes == 0 ||
		st.Runtime.Goroutines == 0 || st.Runtime.GOMAXPROCS == 0 || st.Runtime.Threads == 0 || st.Hub.Topics == 0 {
		t.Fatalf("stats: %s", body)
	}
}

// TestWebSocketSanitizeAndRateLimit checks that the WebSocket door applies
// the text sanitising and per-client rate limit every door has.
func TestWebSocketSanitizeAndRateLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *webfront.Config) { c.Session.RateLimit = 0.001; c.Session.RateBurst = 1 })
	sub := webtest.DialSSE(t, ts.base, webtest.Query("topic", "news"))
	sub.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed news" })
	w := webtest.DialWS(t, ts.base, "", nil)
	w.Send(map[string]string{"op": "pub", "topic": "news", "text": "red \x1b[31malert\u0007"})
	ev := sub.Expect("message", func(e webtest.Event) bool { return e.Event == "msg" })
	if l := ev.Data.S("text"); strings.ContainsAny(l, "\x1b\a") || !strings.Contains(l, "\uFFFD[31malert\uFFFD") {
		t.Fatalf("not sanitised: %q", l)
	}
	w.Send(map[string]string{"op": "pub", "topic": "news", "text": "again"})
	f := w.Expect("refusal", func(f webtest.Frame) bool { return f.S("op") == "error" })
	if f.S("re") != "pub" || !strings.Contains(f.S("text"), "rate limited") {
		t.Fatalf("got %v", f)
	}
}

func TestBadOriginPattern(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	f, err := webfront.Listen(webfront.Config{AllowedOrigins: []string{"[bad"}, Addr: "127.0.0.1:0"}, h, session.NewRegistry(h, session.Limits{}))
	if err == nil {
		_ = f.Close()
		f.Wait()
	}
	if err == nil || !strings.Contains(err.Error(), "bad allowed origin pattern") {
		t.Fatalf("Listen with a bad origin pattern: %v", err)
	}
}

// TestSSEFirstEventNamesNick: the first event of a stream is an info
// event with the stream's guest nick, before its subscription comments, so
// that others can reach it with a private message.
func TestSSEFirstEventNamesNick(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	s := webtest.DialSSE(t, ts.base, webtest.Query("topic", "t"))
	first, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	nick := first.Data.S("nick")
	if first.Event != "info" || !strings.HasPrefix(nick, "guest-") || first.Data.S("text") != "you are "+nick {
		t.Fatalf("first event %+v, want an info event naming the guest nick", first)
	}
	s.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed t" })
	ws := webtest.DialWS(t, ts.base, "", nil)
	ws.Send(map[string]string{"op": "msg", "to": nick, "text": "psst"})
	ev := s.Expect("private", func(e webtest.Event) bool { return e.Event == "private" })
	if ev.Data.S("text") != "psst" || ev.Data.S("to") != nick {
		t.Fatalf("private event %v", ev.Data)
	}
}

// TestDoors: GET /api/doors says where the TCP and web doors listen, for
// the chat app's hint, and leaves out a door that is not there.
func TestDoors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"[::]:18082", ""} {
		ts := startServer(t, func(c *webfront.Config) { c.LineAddr = line })
		code, _, body := webtest.Get(t, ts.base+"/api/doors")
		var got map[string]string
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 {
			t.Fatalf("status %d body %q: %v", code, body, err)
		}
		if got["tcp"] != line || got["web"] != strings.TrimPrefix(ts.base, "http://") {
			t.Errorf("LineAddr %q: got %v", line, got)
		}
		if _, ok := got["tcp"]; ok == (line == "") {
			t.Errorf("LineAddr %q: tcp present = %v", line, ok)
		}
	}
}
