package webfront_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// TestRequestTimeoutsSpareStreams checks the web door's read and write
// timeouts: a POST whose body trickles in is answered and closed once the
// read timeout is up, while WebSocket and SSE streams opened before it
// keep working long after it.
func TestRequestTimeoutsSpareStreams(t *testing.T) {
	t.Parallel()
	const readTimeout, writeTimeout = 200 * time.Millisecond, 400 * time.Millisecond
	ts := startServer(t, func(c *webfront.Config) {
		c.ReadTimeout = readTimeout
		c.WriteTimeout = writeTimeout
	})
	sse := webtest.DialSSE(t, ts.base, webtest.Query("topic", "late"))
	sse.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed late" })
	ws := webtest.DialWS(t, ts.base, "", nil)
	ws.Send(map[string]any{"op": "sub", "topic": "late"})
	ws.Expect("subscribed", func(f webtest.Frame) bool { return f.S("re") == "sub" })

	// One byte of a 100-byte body, then nothing.
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /pub/slow HTTP/1.1\r\nHost: %s\r\nContent-Length: 100\r\n\r\nx", strings.TrimPrefix(ts.base, "http://"))
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("slow POST: no answer after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow POST: status %d, want 408", resp.StatusCode)
	}

	time.Sleep(3 * writeTimeout) // the streams outlive both timeouts
	if code, _ := webtest.Post(t, ts.base, "late", "still here", nil); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	sse.Expect("message after the timeouts", func(e webtest.Event) bool { return e.Event == "msg" && e.Data.S("text") == "still here" })
	ws.Expect("message after the timeouts", func(f webtest.Frame) bool { return f.S("op") == "msg" && f.S("text") == "still here" })
}
