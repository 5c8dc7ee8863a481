package webfront_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

// TestRequestTimeoutsSpareStreams checks the web door's read and write
// timeouts: a POST whose body trickles in is answered and closed once the
// read timeout is up, while WebSocket and SSE streams opened before it
// keep working long after it.
func TestRequestTimeoutsSpareStreams(t *testing.T) {
	t.Parallel()
	const readTimeout, writeTimeout = 200 * time.Millisecond, 400 * time.Millisecond
	ts := startServer(t, func(c *server.Config) {
		c.Web.ReadTimeout = readTimeout
		c.Web.WriteTimeout = writeTimeout
	})
	sse := dialSSE(t, ts, query("topic", "late"))
	sse.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed late" })
	ws := dialWS(t, ts, "", nil)
	ws.send(map[string]any{"op": "sub", "topic": "late"})
	ws.expect("subscribed", func(f frame) bool { return f.s("re") == "sub" })

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
	if code, _ := post(t, ts, "late", "still here", nil); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	sse.expect("message after the timeouts", func(e sseEvent) bool { return e.event == "msg" && e.data.s("text") == "still here" })
	ws.expect("message after the timeouts", func(f frame) bool { return f.s("op") == "msg" && f.s("text") == "still here" })
}
