package crossdoor_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// idleFor is the idle timeout of these tests: short, so that they run
// quickly; every wait is bounded by testkit.Timeout, never by it.
const idleFor = 300 * time.Millisecond

// idleNotice is what a client cut by the idle timeout is told last.
var idleNotice = "idle timeout, disconnecting; nothing from the client for " + idleFor.String() + " (--idle-timeout)"

// TestIdleTimeout runs the idle timeout over every door, on a server
// with --idle-timeout 300ms. Two clients at once: a listener that only
// reads, to which a message comes after three timeouts, and a client
// that keeps sending. The listener is cut with the notice on the TCP door
// (its clients must send, /ping will do) and stays up on the WebSocket
// door (it answers the door's pings) and the SSE door (its writes succeed:
// the door writes a keepalive when the stream has been quiet for half the
// timeout, far sooner than the 30 s keepalive interval). The client that
// keeps sending is never cut.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, d := range everyDoor {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(c *server.Config) { c.Limits.IdleTimeout = idleFor })
			t.Run("listener", func(t *testing.T) {
				t.Parallel()
				l := d.dial(t, ts)
				l.Subscribe("quiet")
				late := fmt.Sprintf("late, after %v", 3*idleFor)
				posted := make(chan error, 1)
				timer := time.AfterFunc(3*idleFor, func() { posted <- post(ts.base, "quiet", late) })
				t.Cleanup(func() { timer.Stop() })
				if !d.listens {
					l.ExpectEnd(idleNotice)
					return
				}
				l.ExpectMessage("quiet", "http", late)
				if err := <-posted; err != nil {
					t.Fatal(err)
				}
			})
			t.Run("sender", func(t *testing.T) {
				t.Parallel()
				c := d.dial(t, ts)
				for start, i := time.Now(), 0; time.Since(start) < 4*idleFor; i++ {
					c.Publish("busy", fmt.Sprint(i))
					c.Sync() // fails if the server has cut the client
					time.Sleep(idleFor / 4)
				}
			})
		})
	}
}

// TestIdleTimeoutSilentWebSocket: a WebSocket client that sends nothing
// and does not read, so answers no ping, is cut: once it reads again it
// finds the idle notice as the final frame and a normal closure (1000)
// whose reason names the idle timeout. A client on the same server that
// sends nothing either but keeps reading (and so answers the pings)
// stays. (The server waits at most the library's 5 s for the silent
// client's half of the close handshake before it lets go.)
func TestIdleTimeoutSilentWebSocket(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Limits.IdleTimeout = idleFor })
	reading, err := webtest.TryDialWS(ts.base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reading.CloseNow() })
	readErr := make(chan error, 1)
	go func() {
		// Reading answers the server's pings; no Fatalf off the
		// test's goroutine.
		for {
			if _, _, err := reading.Read(context.Background()); err != nil {
				readErr <- err
				return
			}
		}
	}()
	silent, err := webtest.TryDialWS(ts.base, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.CloseNow() })
	testkit.Eventually(t, "the silent client to be cut", func() bool {
		return ts.Registry().Stats().SessionsByDoor["ws"] == 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var final string
	for {
		_, b, err := silent.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusNormalClosure {
				t.Fatalf("ended with %v, want close status 1000", err)
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Reason, "idle timeout") {
				t.Errorf("close reason %q, want the idle timeout", ce.Reason)
			}
			break
		}
		if strings.Contains(string(b), `"final"`) {
			final = string(b)
		}
	}
	if !strings.Contains(final, idleNotice) {
		t.Errorf("final frame %q, want the notice %q", final, idleNotice)
	}
	select {
	case err := <-readErr:
		t.Fatalf("the reading client was cut too: %v", err)
	default:
	}
	if n := ts.Registry().Stats().SessionsByDoor["ws"]; n != 1 {
		t.Fatalf("%d WebSocket sessions, want the reading one", n)
	}
}

// post publishes text on topic over HTTP, without a test to fail: it runs
// on a timer's goroutine.
func post(base, topic, text string) error {
	resp, err := http.Post(base+"/pub/"+topic, "text/plain", strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("http publish: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("http publish: status %d", resp.StatusCode)
	}
	return nil
}
