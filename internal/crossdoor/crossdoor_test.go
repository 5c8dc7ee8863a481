package crossdoor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/webtest"
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

type wsChatter struct{ *webtest.WS }

func (c wsChatter) door() string { return "ws" }
func (c wsChatter) nick(n string) {
	c.Send(map[string]string{"op": "nick", "nick": n})
	c.Expect("nick", func(f webtest.Frame) bool { return f.S("re") == "nick" && f.S("nick") == n })
}
func (c wsChatter) join(room string) {
	c.Send(map[string]string{"op": "join", "room": room})
	c.Expect("join", func(f webtest.Frame) bool { return f.S("re") == "join" && f.S("room") == room })
}
func (c wsChatter) say(room, text string) {
	c.Send(map[string]string{"op": "pub", "topic": room, "text": text})
}
func (c wsChatter) private(to, text string) {
	c.Send(map[string]string{"op": "msg", "to": to, "text": text})
}
func (c wsChatter) expectMessage(room, from, text string) {
	c.Expect("message "+text, func(f webtest.Frame) bool {
		return f.S("op") == "msg" && f.S("topic") == room && f.S("from") == from && f.S("text") == text && f["seq"] != nil && f["ts"] != nil
	})
}
func (c wsChatter) expectPrivate(from, text string) {
	c.Expect("private "+text, func(f webtest.Frame) bool {
		return f.S("op") == "private" && f.S("from") == from && f.S("text") == text
	})
}
func (c wsChatter) expectJoin(room, nick string) {
	c.Expect("join event", func(f webtest.Frame) bool {
		return f.S("op") == "event" && f.S("kind") == "join" && f.S("room") == room && f.S("nick") == nick
	})
}

var doors = map[string]func(t *testing.T, ts *testServer) chatter{
	"tcp": func(t *testing.T, ts *testServer) chatter { return tcpChatter{dialTCP(t, ts)} },
	"ws":  func(t *testing.T, ts *testServer) chatter { return wsChatter{webtest.DialWS(t, ts.base, "", nil)} },
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
				listen := webtest.DialSSE(t, ts.base, webtest.Query("topic", room))
				listen.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed "+room })

				a.join(room)
				b.join(room)
				a.expectJoin(room, nb)

				a.say(room, "hello from "+a.door())
				b.expectMessage(room, na, "hello from "+a.door())
				b.say(room, "hi from "+b.door())
				a.expectMessage(room, nb, "hi from "+b.door())

				for _, want := range []struct{ from, text string }{{na, "hello from " + a.door()}, {nb, "hi from " + b.door()}} {
					ev := listen.Expect("sse message", func(e webtest.Event) bool { return e.Event == "msg" })
					if ev.Data.S("from") != want.from || ev.Data.S("text") != want.text || ev.Data.S("topic") != room {
						t.Fatalf("sse got %v, want %+v", ev.Data, want)
					}
				}

				a.private(nb, "psst")
				b.expectPrivate(na, "psst")
				b.private(na, "psst back")
				a.expectPrivate(nb, "psst back")

				if code, body := webtest.Post(t, ts.base, room, "from the web", nil); code != 202 || body["delivered"] != float64(3) {
					t.Fatalf("http publish: %d %v", code, body)
				}
				a.expectMessage(room, "http", "from the web")
				b.expectMessage(room, "http", "from the web")
				listen.Expect("http message", func(e webtest.Event) bool { return e.Data.S("from") == "http" })
			})
		}
	}
}
