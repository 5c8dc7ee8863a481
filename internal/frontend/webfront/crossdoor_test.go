package webfront_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// chatter is what the cross-door scenario needs of a client, whatever its
// door: the same operations over the line protocol and over JSON frames.
type chatter interface {
	door() string
	nick(n string)
	join(room string)
	say(room, text string)
	private(to, text string)
	expectMessage(room, from, text string)
	expectPrivate(from, text string)
	expectJoin(room, nick string)
}

type tcpChatter struct{ *tcpClient }

func (c tcpChatter) door() string { return "tcp" }
func (c tcpChatter) nick(n string) {
	c.send("/nick " + n)
	c.expect("nick", func(l string) bool { return l == "* you are now "+n })
}
func (c tcpChatter) join(room string) {
	c.send("/join " + room)
	c.expect("join", func(l string) bool { return strings.HasPrefix(l, "* joined "+room) })
}
func (c tcpChatter) say(room, text string)   { c.send("/pub " + room + " " + text) }
func (c tcpChatter) private(to, text string) { c.send("/msg " + to + " " + text) }
func (c tcpChatter) expectMessage(room, from, text string) {
	want := fmt.Sprintf("[%s] %s: %s", room, from, text)
	c.expect(want, func(l string) bool { return l == want })
}
func (c tcpChatter) expectPrivate(from, text string) {
	c.expect("private from "+from, func(l string) bool {
		return strings.Contains(l, from) && strings.HasSuffix(l, text) && !strings.HasPrefix(l, "[")
	})
}
func (c tcpChatter) expectJoin(room, nick string) {
	want := "* " + nick + " joined " + room
	c.expect(want, func(l string) bool { return l == want })
}

type wsChatter struct{ *wsClient }

func (c wsChatter) door() string { return "ws" }
func (c wsChatter) nick(n string) {
	c.send(map[string]string{"op": "nick", "nick": n})
	c.expect("nick", func(f frame) bool { return f.s("re") == "nick" && f.s("nick") == n })
}
func (c wsChatter) join(room string) {
	c.send(map[string]string{"op": "join", "room": room})
	c.expect("join", func(f frame) bool { return f.s("re") == "join" && f.s("room") == room })
}
func (c wsChatter) say(room, text string) {
	c.send(map[string]string{"op": "pub", "topic": room, "text": text})
}
func (c wsChatter) private(to, text string) {
	c.send(map[string]string{"op": "msg", "to": to, "text": text})
}
func (c wsChatter) expectMessage(room, from, text string) {
	c.expect("message "+text, func(f frame) bool {
		return f.s("op") == "msg" && f.s("topic") == room && f.s("from") == from && f.s("text") == text && f["seq"] != nil && f["ts"] != nil
	})
}
func (c wsChatter) expectPrivate(from, text string) {
	c.expect("private "+text, func(f frame) bool { return f.s("op") == "private" && f.s("from") == from && f.s("text") == text })
}
func (c wsChatter) expectJoin(room, nick string) {
	c.expect("join event", func(f frame) bool {
		return f.s("op") == "event" && f.s("kind") == "join" && f.s("room") == room && f.s("nick") == nick
	})
}

var doors = map[string]func(t *testing.T, ts *testServer) chatter{
	"tcp": func(t *testing.T, ts *testServer) chatter { return tcpChatter{dialTCP(t, ts)} },
	"ws":  func(t *testing.T, ts *testServer) chatter { return wsChatter{dialWS(t, ts, "", nil)} },
}

// TestCrossDoor runs one scenario for every pair of doors: A and B meet in
// a room, each hears the other join and speak, they trade private
// messages, an SSE listener hears both, and an HTTP publish reaches all.
func TestCrossDoor(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	i := 0
	for _, da := range []string{"tcp", "ws"} {
		for _, db := range []string{"tcp", "ws"} {
			i++
			n := i // the subtests run in parallel, after i has moved on
			room := fmt.Sprintf("room%d", n)
			t.Run(da+"-"+db, func(t *testing.T) {
				t.Parallel()
				a, b := doors[da](t, ts), doors[db](t, ts)
				na, nb := fmt.Sprintf("a%d%s", n, da), fmt.Sprintf("b%d%s", n, db)
				a.nick(na)
				b.nick(nb)
				listen := dialSSE(t, ts, query("topic", room))
				listen.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed "+room })

				a.join(room)
				b.join(room)
				a.expectJoin(room, nb)

				a.say(room, "hello from "+a.door())
				b.expectMessage(room, na, "hello from "+a.door())
				b.say(room, "hi from "+b.door())
				a.expectMessage(room, nb, "hi from "+b.door())

				for _, want := range []struct{ from, text string }{{na, "hello from " + a.door()}, {nb, "hi from " + b.door()}} {
					ev := listen.expect("sse message", func(e sseEvent) bool { return e.event == "msg" })
					if ev.data.s("from") != want.from || ev.data.s("text") != want.text || ev.data.s("topic") != room {
						t.Fatalf("sse got %v, want %+v", ev.data, want)
					}
				}

				a.private(nb, "psst")
				b.expectPrivate(na, "psst")
				b.private(na, "psst back")
				a.expectPrivate(nb, "psst back")

				if code, body := post(t, ts, room, "from the web", nil); code != 202 || body["delivered"] != float64(3) {
					t.Fatalf("http publish: %d %v", code, body)
				}
				a.expectMessage(room, "http", "from the web")
				b.expectMessage(room, "http", "from the web")
				listen.expect("http message", func(e sseEvent) bool { return e.data.s("from") == "http" })
			})
		}
	}
}

// TestGracefulShutdown checks that WebSocket and SSE streams are told and
// drained: every queued message arrives, then the notice, then a clean
// close (status 1001 on WebSocket, the end of the body on SSE).
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	w := dialWS(t, ts, "", nil)
	w.send(map[string]string{"op": "sub", "topic": "news"})
	w.expect("subscribed", func(f frame) bool { return f.s("re") == "sub" })
	s := dialSSE(t, ts, query("topic", "news"))
	s.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed news" })
	const n = 200
	for i := 0; i < n; i++ {
		post(t, ts, "news", fmt.Sprintf("m%d", i), nil)
	}
	// Shut down while reading, as a real client would: the WebSocket
	// close handshake needs the client's answer.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ts.stop(t)
	}()
	defer func() { <-stopped }()

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	got := 0
	var final frame
	for {
		f, err := w.next(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Fatalf("ws ended with %v, want close 1001", err)
			}
			break
		}
		switch {
		case f.s("op") == "msg":
			if f.s("text") != fmt.Sprintf("m%d", got) {
				t.Fatalf("ws message %d is %q", got, f.s("text"))
			}
			got++
		case f.s("final") != "":
			final = f
		}
	}
	if got != n || final.s("final") != "shutdown" || final.s("text") != "server shutting down" {
		t.Fatalf("ws: %d messages, final %v", got, final)
	}

	got = 0
	var last sseEvent
	for {
		ev, err := s.read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("sse ended with %v, want a clean end of stream", err)
			}
			break
		}
		if ev.event == "msg" {
			got++
		}
		last = ev
	}
	if got != n || last.event != "info" || last.data.s("final") != "shutdown" {
		t.Fatalf("sse: %d messages, last %+v", got, last)
	}
}

// TestSlowConsumers checks that a WebSocket or SSE reader that stops
// reading is disconnected by the queue rules and blocks nobody.
func TestSlowConsumers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Session.MaxPending = 64 << 10 })
	fast := dialSSE(t, ts, query("topic", "flood"))
	fast.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed flood" })

	// The slow ones subscribe and then never read again.
	slowWS := dialWS(t, ts, "", nil)
	slowWS.send(map[string]string{"op": "sub", "topic": "flood"})
	slowWS.expect("subscribed", func(f frame) bool { return f.s("re") == "sub" })
	slowSSE := dialSSE(t, ts, query("topic", "flood"))
	slowSSE.expect("subscribed", func(e sseEvent) bool { return e.comment == "subscribed flood" })

	pub := dialTCP(t, ts)
	text := strings.Repeat("x", 4000)
	var got atomic.Int64
	received := make(chan struct{})
	go func() {
		// The fast reader keeps up and must see every message.
		defer close(received)
		for {
			ev, err := fast.read()
			if err != nil || ev.data.s("text") == "END" {
				return
			}
			if ev.event == "msg" {
				got.Add(1)
			}
		}
	}()
	// Publish until both slow readers' socket buffers and queues are
	// full (a few MB on loopback); bounded.
	const maxSent = 50000
	sent := 0
	for ts.Registry().Stats().SlowConsumers < 2 && sent < maxSent {
		// Batches well under the queue limit, so the fast reader, which
		// is waited for, always keeps up.
		for i := 0; i < 12; i++ {
			pub.send("/pub flood " + text)
			sent++
		}
		testkit.Eventually(t, "the fast reader to catch up", func() bool { return got.Load() == int64(sent) })
	}
	if st := ts.Registry().Stats(); st.SlowConsumers < 2 {
		t.Fatalf("slow consumers not disconnected after %d messages: %+v", sent, st)
	}
	pub.send("/pub flood END")
	<-received
	if n := got.Load(); n != int64(sent) {
		t.Fatalf("the fast reader got %d of %d messages", n, sent)
	}
	testkit.Eventually(t, "slow sessions gone", func() bool {
		st := ts.Registry().Stats()
		return st.SessionsByDoor["ws"] == 0 && st.SessionsByDoor["sse"] == 1
	})
}
