package crossdoor_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// requester is a client that can send any request and read its answer:
// the TCP and WebSocket doors' adapters. (An SSE stream asks for nothing
// but its topics; the scenarios check its form of each limit apart.)
type requester interface {
	client
	// Request sends a request of op with its argument.
	Request(op session.Op, arg string)
	// Answer reads up to the answer to a request of op (skipping
	// messages and events) and returns it.
	Answer(op session.Op) answer
}

// answer is one reply, door-neutral.
type answer struct {
	refused bool
	code    string // the stable code (the line door shows none: "")
	text    string
	more    int // for listings on WebSocket: entries left out
}

func (c *lineClient) Request(op session.Op, arg string) {
	c.T.Helper()
	c.Send(strings.TrimSpace("/" + op.String() + " " + arg))
}

// roomEvent is a line-protocol room event, which is not an answer.
var roomEvent = regexp.MustCompile(`^\* \S+ (joined|left) \S+$|^\* \S+ is now known as \S+$`)

func (c *lineClient) Answer(session.Op) answer {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		l := c.next()
		if strings.HasPrefix(l, "! ") || (strings.HasPrefix(l, "* ") && !roomEvent.MatchString(l)) {
			return answer{refused: l[0] == '!', text: l[2:]}
		}
	}
	c.T.Fatalf("%s: no answer", c.Nick)
	return answer{}
}

func (c *wsDoorClient) Request(op session.Op, arg string) {
	c.T.Helper()
	m := map[string]string{"op": op.String()}
	switch op {
	case session.OpJoin, session.OpPart, session.OpWho:
		m["room"] = arg
	case session.OpSub, session.OpUnsub:
		m["topic"] = arg
	case session.OpPing:
		m["text"] = arg
	}
	c.Send(m)
}

func (c *wsDoorClient) Answer(op session.Op) answer {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		if f := c.next(); f.S("re") == op.String() {
			more, _ := f["more"].(float64)
			return answer{refused: f.S("op") == "error", code: f.S("code"), text: f.S("text"), more: int(more)}
		}
	}
	c.T.Fatalf("%s: no answer to %v", c.Nick, op)
	return answer{}
}

// TestLimitScenarios runs the per-client limits (issue 11) over every
// door, each on a server of its own.
func TestLimitScenarios(t *testing.T) {
	t.Parallel()
	// The doors whose clients send commands (an SSE stream sends none
	// after its topics).
	var commanding []door
	for _, d := range everyDoor {
		if d.name != "sse+http" {
			commanding = append(commanding, d)
		}
	}
	scenarios := []struct {
		name  string
		cfg   func(*server.Config)
		run   func(t *testing.T, ts *testServer, d door)
		doors []door
	}{
		{"caps", func(c *server.Config) { c.Session.MaxSubs, c.Session.MaxRooms = 3, 2 }, caps, everyDoor},
		{"command flood", func(c *server.Config) {
			c.Session.CommandRate, c.Session.CommandBurst = floodRate, floodRate
		}, commandFlood, commanding},
		{"listing", func(c *server.Config) {
			c.Session.MaxPending = listingQueue
			c.Session.MaxRooms, c.Session.MaxSubs = -1, -1
		}, listing, commanding},
		// Point 10: the hard limit is out of reach of the slow consumer
		// scenario's 5,000 messages (80 MB); the soft one cuts the
		// reader that stops.
		{"slow consumer, soft limit", func(c *server.Config) {
			c.Session.MaxPending = 256 << 20
			c.Session.PendingSoft, c.Session.PendingSoftFor = 64<<10, 100*time.Millisecond
			c.TCP.MaxLine = 32 << 10
		}, slowConsumer, everyDoor},
	}
	for _, sc := range scenarios {
		for _, d := range sc.doors {
			t.Run(sc.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t, startServer(t, sc.cfg), d)
			})
		}
	}
}

// caps (point 4): with --max-subs 3 --max-rooms 2, a client gets the same
// refusals on every door (on WebSocket with the stable code "too_many"),
// rooms count as subscriptions, a rejoin is never refused, and another
// client is served meanwhile. An SSE stream asking for more topics than
// the cap is refused with 400 before it starts.
func caps(t *testing.T, ts *testServer, d door) {
	c, other := d.dial(t, ts), d.dial(t, ts)
	r, ok := c.(requester)
	if !ok {
		// Bounded: a stream that starts instead would never end.
		hc := &http.Client{Timeout: testkit.Timeout}
		resp, err := hc.Get(ts.base + "/sse" + webtest.Query("topic", "s.a", "topic", "s.b", "topic", "s.c", "topic", "s.d"))
		if err != nil {
			t.Fatalf("sse: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "too many subscriptions (max 3)") {
			t.Errorf("4 topics over a cap of 3: %d %s", resp.StatusCode, body)
		}
		s := webtest.DialSSE(t, ts.base, webtest.Query("topic", "s.a", "topic", "s.b", "topic", "s.c"))
		s.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed s.c" })
		return
	}
	wantCode := ""
	if d.name == "ws" {
		wantCode = "too_many"
	}
	steps := []struct {
		op      session.Op
		arg     string
		refused bool
		text    string
	}{
		{session.OpJoin, "r1", false, "joined r1 (1 here)"},
		{session.OpJoin, "r2", false, "joined r2 (1 here)"},
		{session.OpJoin, "r3", true, "too many rooms (max 2)"},
		{session.OpSub, "a", false, "subscribed a"},
		{session.OpSub, "b", true, "too many subscriptions (max 3)"},
		{session.OpJoin, "r1", false, "now talking in r1 (1 here)"},
		{session.OpUnsub, "a", false, "unsubscribed a"},
		{session.OpSub, "b", false, "subscribed b"},
	}
	other.Subscribe("news")
	for i, st := range steps {
		r.Request(st.op, st.arg)
		a := r.Answer(st.op)
		if a.refused != st.refused || a.text != st.text || (st.refused && a.code != wantCode) {
			t.Errorf("%v %s: got %+v, want refused=%v %q code %q", st.op, st.arg, a, st.refused, st.text, wantCode)
		}
		// Nobody else is affected: the other client is served.
		c.Publish("news", fmt.Sprint("step ", i))
		other.ExpectMessage("news", c.Name(), fmt.Sprint("step ", i))
	}
}

// floodRate is the command budget of the command flood scenario, per
// second and at once.
const floodRate = 20

// commandFlood (point 4): a client flooding listings is refused past its
// command budget, and another client is served meanwhile.
func commandFlood(t *testing.T, ts *testServer, d door) {
	const flood = 300
	c, other := d.dial(t, ts), d.dial(t, ts)
	r := c.(requester)
	other.Subscribe("news")
	start := time.Now()
	for range flood {
		r.Request(session.OpRooms, "")
	}
	listed, refused := 0, 0
	for range flood {
		a := r.Answer(session.OpRooms)
		switch {
		case !a.refused:
			listed++
		case a.text == fmt.Sprintf("rate limited: at most %d commands a second", floodRate) && (d.name != "ws" || a.code == "rate_limited"):
			refused++
		default:
			t.Fatalf("unexpected answer %+v", a)
		}
	}
	// The budget: the burst, plus what the rate refilled while the
	// flood was read (a slow machine reads slowly).
	if most := floodRate + int(time.Since(start).Seconds()*floodRate) + 1; refused == 0 || listed > most {
		t.Errorf("%d listings answered, %d refused; want at most %d answered", listed, refused, most)
	}
	c.Publish("news", "after the flood")
	other.ExpectMessage("news", c.Name(), "after the flood")
}

// listingQueue is the queue limit of the listing scenario: far less than
// a full listing of its rooms.
const listingQueue = 8 << 10

// listing (point 5): with 100 rooms of 200-byte names (20 KB of names) and
// an 8 KiB queue limit, the answer to a rooms listing is cut short with a
// note of how many more there are, the asker is not cut as a slow
// consumer, and nobody else is affected.
func listing(t *testing.T, ts *testServer, d door) {
	maker, asker, other := d.dial(t, ts).(requester), d.dial(t, ts).(requester), d.dial(t, ts)
	long := strings.Repeat("x", 200)
	for i := range 100 {
		room := fmt.Sprintf("%s%03d", long, i)
		maker.Request(session.OpJoin, room)
		if a := maker.Answer(session.OpJoin); a.refused {
			t.Fatalf("join %d: %+v", i, a)
		}
	}
	other.Subscribe("news")
	for range 3 { // asking again and again changes nothing
		asker.Request(session.OpRooms, "")
		a := asker.Answer(session.OpRooms)
		switch d.name {
		case "ws":
			if a.refused || a.more <= 0 || a.more >= 100 || !strings.HasPrefix(a.text, "100 rooms, first ") {
				t.Fatalf("rooms: %+v", a)
			}
		default:
			if a.refused || !strings.HasPrefix(a.text, "100 rooms: "+long+"000 (1), ") || !strings.HasSuffix(a.text, " more") || len(a.text) > listingQueue/8+64 {
				t.Fatalf("rooms: %d bytes: %.100q…%q", len(a.text), a.text, a.text[max(0, len(a.text)-20):])
			}
		}
		asker.Publish("news", "still here")
		other.ExpectMessage("news", asker.Name(), "still here")
	}
	if n := ts.Registry().Stats().SlowConsumers; n != 0 {
		t.Errorf("%d slow consumers, want none", n)
	}
}

// countWhoJS wraps the page's WebSocket before its scripts run, counting
// the who requests it sends.
const countWhoJS = `window.__who = 0;
(function () {
  var send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) {
    try { if (JSON.parse(d).op === 'who') window.__who++; } catch (e) {}
    return send.call(this, d);
  };
})();`

// TestBrowserMembersFromEvents (point 5): the chat page asks for a room's
// members once per room (not after every join answer: rejoining, as the
// page does on switching with /join, asks nothing), keeps the list by
// join and part events, and shows a bounded who's "… and N more".
func TestBrowserMembersFromEvents(t *testing.T) {
	bctx := browser(t)
	ts := startServer(t, func(c *server.Config) { c.Session.MaxList = 2 })
	var terms []*tcpClient
	for _, n := range []string{"ann", "bea"} {
		c := dialTCP(t, ts)
		c.send("/nick " + n)
		c.send("/join lobby")
		c.expect("joined", func(l string) bool { return strings.HasPrefix(l, "* joined lobby") })
		terms = append(terms, c)
	}
	p := newPage(t, bctx, "zoe", true)
	p.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: countWhoJS})
		return err
	}))
	p.do(chromedp.Navigate(ts.base + "/"))
	p.wait("in lobby", `document.querySelector('#room-title').textContent === 'lobby'`)
	p.typeLine("#nick-input", "zoe")
	members := `Array.from(document.querySelectorAll('#members li')).map(li => li.textContent).join(',') + ' ' + document.querySelector('#member-count').textContent`
	// ann, bea and zoe: the listing shows two and says one more.
	p.wait("a bounded member list", members+` === 'ann,bea,… and 1 more (3)'`)
	p.typeLine("#join-input", "dev")
	p.wait("in dev", `document.querySelector('#room-title').textContent === 'dev'`)
	p.typeLine("#text", "/join lobby")
	p.wait("back in lobby", `document.querySelector('#room-title').textContent === 'lobby'`)
	p.typeLine("#text", "/join dev")
	p.wait("back in dev", `document.querySelector('#room-title').textContent === 'dev'`)
	p.typeLine("#text", "/join lobby")
	p.wait("in lobby again", `document.querySelector('#room-title').textContent === 'lobby'`)

	// The list follows events: cid joins, bea leaves.
	cid := dialTCP(t, ts)
	cid.send("/nick cid")
	cid.send("/join lobby")
	cid.expect("joined", func(l string) bool { return strings.HasPrefix(l, "* joined lobby") })
	p.wait("cid joined", members+` === 'ann,bea,cid,… and 1 more (4)'`)
	terms[1].send("/part lobby")
	p.wait("bea left", members+` === 'ann,cid,… and 1 more (3)'`)
	if n := p.eval(`String(window.__who)`); n != "2" {
		t.Errorf("the page sent %s who requests, want 2 (one per room)", n)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
