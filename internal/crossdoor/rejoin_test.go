package crossdoor_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// rejoiner is a client that reads a room with positions and can come
// back to it, on a new connection, from the position it had: the line
// door's "/ids on" and "/join ROOM since=SEQ", the WebSocket door's join
// with "since", and an SSE stream on the room's topic reconnecting with
// Last-Event-ID as an EventSource does.
type rejoiner interface {
	client
	// JoinRoom joins room, reading message positions from now on.
	JoinRoom(room string)
	// Position is where the client stands: the position of the last
	// message it read, in the form its door resumes from.
	Position() string
	// Drop ends the connection abruptly, as a dying client does.
	Drop()
	// Rejoin joins room again from since, reading positions, and returns
	// once the server confirmed.
	Rejoin(room, since string)
	// ExpectGap reads the next gap marker, failing on a message first,
	// and returns its text.
	ExpectGap() string
}

// rejoinKeep is how many messages each topic keeps in the rejoin
// scenario: few, so that coming back late is a gap.
const rejoinKeep = 5

// rejoin: a member of a room drops out, messages go on, and it comes
// back with where it was: exactly what it missed, then live, nothing
// twice; coming back after more than is kept, it is told how much it
// missed before what is kept.
func rejoin(t *testing.T, ts *testServer, d door) {
	const room = "lobby"
	pub := d.dial(t, ts)
	a := d.dial(t, ts).(rejoiner)
	a.JoinRoom(room)
	say := func(from, to int) {
		for i := from; i <= to; i++ {
			pub.Publish(room, fmt.Sprintf("m%d", i))
		}
		pub.Sync()
	}
	read := func(c rejoiner, from, to int) {
		for i := from; i <= to; i++ {
			c.ExpectMessage(room, pub.Name(), fmt.Sprintf("m%d", i))
		}
	}
	say(1, 3)
	read(a, 1, 3)
	pos := a.Position()
	if pos == "" {
		t.Fatalf("%s: no position after three messages", d.name)
	}
	a.Drop()

	say(4, 6) // while a is away
	b := d.dial(t, ts).(rejoiner)
	b.Rejoin(room, pos)
	read(b, 4, 6)
	say(7, 7) // live: the next message b reads, so nothing came twice
	read(b, 7, 7)

	// Seven published, five kept (3 … 7); four more keep 7 … 11, and a
	// client back from m3 missed m4 … m6.
	say(8, 11)
	c := d.dial(t, ts).(rejoiner)
	c.Rejoin(room, pos)
	want := "missed 3 messages on " + room
	if d.name == "sse+http" {
		// An SSE id is a place in the node's journal of all topics,
		// which does not say how many of one topic's messages it
		// stands after: the marker says some were missed.
		want = "missed messages on " + room + " (older ones are no longer kept)"
	}
	if got := c.ExpectGap(); got != want {
		t.Fatalf("%s: gap marker %q, want %q", d.name, got, want)
	}
	read(c, 7, 11)
	say(12, 12)
	read(c, 12, 12)
}

// The line door: "/ids on", "/join ROOM [since=SEQ]".

func (c *lineClient) JoinRoom(room string) {
	c.T.Helper()
	c.Send("/ids on")
	c.Expect("* ids on")
	c.Join(room)
}

func (c *lineClient) Position() string { return c.pos }

func (c *lineClient) Drop() { _ = c.Conn.Close() }

func (c *lineClient) Rejoin(room, since string) {
	c.T.Helper()
	c.Send("/ids on")
	c.Expect("* ids on")
	c.Send("/join " + room + " since=" + since)
	if l := c.next(); !strings.HasPrefix(l, "* joined "+room+" (") {
		c.T.Fatalf("%s: /join %s since=%s: got %q", c.Nick, room, since, l)
	}
}

func (c *lineClient) ExpectGap() string {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		l := c.next()
		if isMessage(l) {
			c.T.Fatalf("%s: got message %q before a gap marker", c.Nick, l)
		}
		if strings.HasPrefix(l, "! ") {
			return l[2:]
		}
	}
	c.T.Fatalf("%s: no gap marker", c.Nick)
	return ""
}

// The WebSocket door: {"op":"join","room":ROOM,"since":SEQ@EPOCH}.

func (c *wsDoorClient) JoinRoom(room string) { c.T.Helper(); c.Join(room) }

func (c *wsDoorClient) Position() string { return c.pos }

func (c *wsDoorClient) Drop() { _ = c.C.CloseNow() }

func (c *wsDoorClient) Rejoin(room, since string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "join", "room": room, "since": since})
	if f := c.next(); f.S("re") != "join" || f.S("op") == "error" || f.S("room") != room {
		c.T.Fatalf("%s: join %s since %s: got %v", c.Nick, room, since, f)
	}
}

func (c *wsDoorClient) ExpectGap() string {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		f := c.next()
		if isMessageFrame(f) {
			c.T.Fatalf("%s: got message %v before a gap marker", c.Nick, f)
		}
		if f.S("op") == "gap" {
			return f.S("text")
		}
	}
	c.T.Fatalf("%s: no gap frame", c.Nick)
	return ""
}

// The SSE door: a stream on the room's topic; it comes back with
// Last-Event-ID.

func (c *sseDoorClient) JoinRoom(room string) { c.t.Helper(); c.Subscribe(room) }

func (c *sseDoorClient) Position() string { return c.pos }

func (c *sseDoorClient) Drop() { _ = c.stream.Resp.Body.Close() }

func (c *sseDoorClient) Rejoin(room, since string) {
	c.t.Helper()
	c.topic = room
	c.stream = webtest.DialSSEHeader(c.t, c.hc, c.base, webtest.Query("topic", room), http.Header{"Last-Event-ID": {since}})
	c.stream.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed "+room })
}

func (c *sseDoorClient) ExpectGap() string {
	c.t.Helper()
	ev := c.stream.Expect("a gap or a message", func(e webtest.Event) bool { return e.Event == "gap" || e.Event == "msg" })
	if ev.Event != "gap" {
		c.t.Fatalf("sse: got message %v before a gap marker", ev.Data)
	}
	return ev.Data.S("text")
}
