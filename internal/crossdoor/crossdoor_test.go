package crossdoor_test

import (
	"fmt"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// chatter is a client that also chats in rooms (the TCP and WebSocket
// doors): the scenario adapters of scenario_test.go, with nicks, rooms and
// private messages.
type chatter interface {
	client
	SetNick(n string)
	Join(room string)
	Private(to, text string)
	// ExpectPrivate reads the next message and checks that it is a
	// private text from from.
	ExpectPrivate(from, text string)
	// ExpectJoin reads notices until nick's joining room, failing on a
	// message first.
	ExpectJoin(room, nick string)
}

var chatDoors = map[string]func(t *testing.T, ts *testServer) chatter{
	"tcp": func(t *testing.T, ts *testServer) chatter { return dialLine(t, ts).(chatter) },
	"ws":  func(t *testing.T, ts *testServer) chatter { return dialWebSocket(t, ts).(chatter) },
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
				a, b := chatDoors[da](t, ts), chatDoors[db](t, ts)
				na, nb := fmt.Sprintf("a%d%s", n, da), fmt.Sprintf("b%d%s", n, db)
				a.SetNick(na)
				b.SetNick(nb)
				listen := webtest.DialSSE(t, ts.base, webtest.Query("topic", room))
				listen.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed "+room })

				a.Join(room)
				b.Join(room)
				a.ExpectJoin(room, nb)

				a.Publish(room, "hello from "+da)
				b.ExpectMessage(room, na, "hello from "+da)
				b.Publish(room, "hi from "+db)
				a.ExpectMessage(room, nb, "hi from "+db)

				for _, want := range []struct{ from, text string }{{na, "hello from " + da}, {nb, "hi from " + db}} {
					ev := listen.Expect("sse message", func(e webtest.Event) bool { return e.Event == "msg" })
					if ev.Data.S("from") != want.from || ev.Data.S("text") != want.text || ev.Data.S("topic") != room {
						t.Fatalf("sse got %v, want %+v", ev.Data, want)
					}
				}

				a.Private(nb, "psst")
				b.ExpectPrivate(na, "psst")
				b.Private(na, "psst back")
				a.ExpectPrivate(nb, "psst back")

				if code, body := webtest.Post(t, ts.base, room, "from the web", nil); code != 202 || body["delivered"] != float64(3) {
					t.Fatalf("http publish: %d %v", code, body)
				}
				a.ExpectMessage(room, "http", "from the web")
				b.ExpectMessage(room, "http", "from the web")
				listen.Expect("http message", func(e webtest.Event) bool { return e.Data.S("from") == "http" })
			})
		}
	}
}
