package webfront_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// do sends one request with the given Host (empty: the URL's) and headers
// and returns the status and body.
func do(t *testing.T, method, url, host string, hdr http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %q): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPPublishOrigin: a browser's cross-site POST /pub is refused with
// the WebSocket origin rule; clients without Origin are unaffected.
func TestHTTPPublishOrigin(t *testing.T) {
	t.Parallel()
	same := startServer(t, nil)
	wide := startServer(t, func(c *webfront.Config) { c.AllowedOrigins = []string{"*.example.org"} })
	for _, tc := range []struct {
		name   string
		ts     *testServer
		origin string
		want   int
	}{
		{"no origin", same, "", 202},
		{"same origin", same, same.base, 202},
		{"foreign origin", same, "http://evil.com", 403},
		{"null origin", same, "null", 403},
		{"allowed origin", wide, "https://app.example.org", 202},
		{"origin not in the allowed list", wide, "https://evil.com", 403},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		code, body := do(t, http.MethodPost, tc.ts.base+"/pub/x", "", hdr, "hi")
		if code != tc.want {
			t.Errorf("%s: POST /pub with Origin %q: %d %s, want %d", tc.name, tc.origin, code, body, tc.want)
		}
		if code == 403 && !strings.Contains(body, "cross-origin") {
			t.Errorf("%s: 403 body %q does not say why", tc.name, body)
		}
	}
}

// TestHostCheck: a door bound to loopback answers only its own host,
// localhost and loopback addresses, on every path and for WebSocket
// upgrades (the DNS-rebinding path); --allowed-hosts replaces the rule.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil) // 127.0.0.1:0
	port := ts.base[strings.LastIndex(ts.base, ":"):]
	named := startServer(t, func(c *webfront.Config) { c.AllowedHosts = []string{"chat.example.com"} })
	for _, tc := range []struct {
		ts     *testServer
		host   string
		method string
		path   string
		want   int
	}{
		{ts, "127.0.0.1" + port, "GET", "/healthz", 200},
		{ts, "localhost" + port, "GET", "/healthz", 200},
		{ts, "LOCALHOST.", "GET", "/healthz", 200},
		{ts, "127.0.0.2" + port, "GET", "/healthz", 200},
		{ts, "[::1]" + port, "GET", "/healthz", 200},
		{ts, "evil.com", "GET", "/healthz", 403},
		{ts, "evil.com" + port, "GET", "/", 403},
		{ts, "evil.com" + port, "POST", "/pub/x", 403},
		{ts, "192.0.2.7" + port, "GET", "/healthz", 403},
		{named, "chat.example.com", "GET", "/healthz", 200},
		{named, "chat.example.com:443", "POST", "/pub/x", 202},
		{named, "127.0.0.1" + port, "GET", "/healthz", 403},
	} {
		code, body := do(t, tc.method, tc.ts.base+tc.path, tc.host, nil, "hi")
		if code != tc.want {
			t.Errorf("%s %s with Host %q: %d %s, want %d", tc.method, tc.path, tc.host, code, body, tc.want)
		}
		if code == 403 && !strings.Contains(body, "--allowed-hosts") {
			t.Errorf("Host %q: 403 body %q does not say what to do", tc.host, body)
		}
	}
	// The rebinding attack itself: a WebSocket upgrade from evil.com's page.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, webtest.WSURL(ts.base, "/ws"), &websocket.DialOptions{Host: "evil.com" + port, HTTPHeader: http.Header{"Origin": {"http://evil.com" + port}}})
	if err == nil {
		_ = c.CloseNow()
		t.Fatal("WebSocket upgrade with Host and Origin evil.com accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket upgrade with Host evil.com: %v, want 403", err)
	}
}

// TestNoDirectoryListings: asset directories answer 404, never a listing;
// their files are still served.
func TestNoDirectoryListings(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	for _, p := range []string{"/vendor/", "/vendor", "/vendor/uplot/", "/chat/", "/dashboard/", "/vendor/../chat/"} {
		code, _, body := webtest.Get(t, ts.base+p)
		if code != http.StatusNotFound || strings.Contains(body, "<a href") {
			t.Errorf("GET %s: %d %q, want 404 and no listing", p, code, body)
		}
	}
	if code, _, _ := webtest.Get(t, ts.base+"/vendor/uplot/uPlot.iife.min.js"); code != 200 {
		t.Errorf("GET a vendored file: %d", code)
	}
}
