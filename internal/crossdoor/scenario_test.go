package crossdoor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/webtest"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// client is what a scenario needs of a client, whatever its door. Each
// door has a small adapter that maps these operations onto its own
// syntax; a door that cannot do an operation itself borrows the web
// door's HTTP publish (SSE streams only listen).
type client interface {
	// Name is the sender name the messages this client publishes carry.
	Name() string
	// Subscribe subscribes to topic and returns once the server confirmed.
	Subscribe(topic string)
	// Publish publishes text on topic.
	Publish(topic, text string)
	// Sync returns once the server has handled everything sent so far.
	Sync()
	// ExpectMessage reads the next message (skipping notices and
	// replies) and checks that it is text on topic from from.
	ExpectMessage(topic, from, text string)
	// ExpectRefused checks that the last publish was refused with an
	// error that contains want.
	ExpectRefused(want string)
	// BadInputs are malformed requests in the door's own syntax.
	BadInputs() []badInput
	// ExpectEnd reads until the server ends the stream. A notice that is
	// not "" must be the last thing the server said; with "", any end
	// will do (a slow consumer's notice may never reach it).
	ExpectEnd(notice string)
}

// badInput is one malformed request: send sends it and returns the
// error the server answered, which must contain want.
type badInput struct {
	name string
	send func() string
	want string
}

// door is one way into the server, as a scenario sees it.
type door struct {
	name string
	dial func(t *testing.T, ts *testServer) client
	// listens: a client of this door that only reads shows it is alive
	// (a WebSocket client answers pings, an SSE stream takes writes), so
	// the idle timeout spares it; on the others a client must send.
	listens bool
}

// everyDoor lists the doors every scenario runs over.
var everyDoor = []door{
	{name: "tcp", dial: dialLine},
	{name: "ws", dial: dialWebSocket, listens: true},
	{name: "sse+http", dial: dialSSEPublisher, listens: true},
}

// shutdownNotice is what every door says last when the server stops.
const shutdownNotice = "server shutting down"

// TestScenarios runs each scenario body over every door, each on a
// server of its own.
func TestScenarios(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name string
		cfg  func(*server.Config)
		run  func(t *testing.T, ts *testServer, d door)
	}{
		{"chat", nil, chat},
		{"slow consumer", func(c *server.Config) {
			c.Session.MaxPending = 64 << 10
			c.TCP.MaxLine = 32 << 10 // room for the big messages below
		}, slowConsumer},
		{"shutdown drain", nil, shutdownDrain},
		{"bad input", nil, badInputs},
		{"rejoin", func(c *server.Config) { c.History.Keep = rejoinKeep }, rejoin},
		{"rate limit", func(c *server.Config) {
			// One message, then none for 1,000 s: refused however
			// slowly the test runs.
			c.Session.RateLimit = 0.001
			c.Session.RateBurst = 1
		}, rateLimit},
	}
	for _, sc := range scenarios {
		for _, d := range everyDoor {
			t.Run(sc.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				sc.run(t, startServer(t, sc.cfg), d)
			})
		}
	}
}

// chat: two clients of the door subscribe to a room and talk; each hears
// the other, in order, and never itself.
func chat(t *testing.T, ts *testServer, d door) {
	a, b := d.dial(t, ts), d.dial(t, ts)
	a.Subscribe("lobby")
	b.Subscribe("lobby")
	a.Publish("lobby", "hello from a")
	b.ExpectMessage("lobby", a.Name(), "hello from a")
	b.Publish("lobby", "hi from b")
	b.Publish("lobby", "how are you?")
	a.ExpectMessage("lobby", b.Name(), "hi from b")
	a.ExpectMessage("lobby", b.Name(), "how are you?")
	a.Publish("lobby", "fine")
	b.ExpectMessage("lobby", a.Name(), "fine")
}

// slowConsumer: a subscriber that stops reading is cut off once its
// queue is over the limit; the publisher never waits and a subscriber
// that keeps up receives everything, in order.
func slowConsumer(t *testing.T, ts *testServer, d door) {
	slow, fast, pub := d.dial(t, ts), d.dial(t, ts), d.dial(t, ts)
	slow.Subscribe("flood")
	fast.Subscribe("flood")
	text := strings.Repeat("x", 16<<10)
	// Publish until the slow reader's socket buffers and queue are full
	// (a few MB on loopback); bounded in count.
	const maxSent = 5000
	sent := 0
	for ts.Registry().Stats().SlowConsumers == 0 && sent < maxSent {
		// Batches well under the queue limit, so the fast reader, which
		// is waited for, always keeps up. A frame counts against the
		// limit until its write returns, which can be after the reader
		// has it: the next batch can find the last one still counted,
		// so two batches must fit.
		const batch = 1
		for i := 0; i < batch; i++ {
			pub.Publish("flood", fmt.Sprintf("%d %s", sent, text))
			sent++
		}
		for i := sent - batch; i < sent; i++ {
			fast.ExpectMessage("flood", pub.Name(), fmt.Sprintf("%d %s", i, text))
		}
	}
	if st := ts.Registry().Stats(); st.SlowConsumers != 1 {
		t.Fatalf("%d slow consumers after %d messages of %d bytes, want 1: %+v", st.SlowConsumers, sent, len(text), st)
	}
	slow.ExpectEnd("")
	// The others go on as before.
	pub.Publish("flood", "after")
	fast.ExpectMessage("flood", pub.Name(), "after")
	t.Logf("%s: slow consumer cut after %d messages of %d bytes", d.name, sent, len(text))
}

// shutdownDrain: messages queued for a subscriber that is not reading
// are all delivered after the shutdown starts, in order, then the
// shutdown notice, then the end of the stream.
func shutdownDrain(t *testing.T, ts *testServer, d door) {
	sub, pub := d.dial(t, ts), d.dial(t, ts)
	sub.Subscribe("news")
	const n = 200
	for i := 0; i < n; i++ {
		pub.Publish("news", fmt.Sprintf("m%d", i))
	}
	pub.Sync() // every message is queued for sub, which has read none
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ts.stop(t)
	}()
	// Read while the server shuts down, as a real client would: the
	// WebSocket close handshake needs the client's answer.
	for i := 0; i < n; i++ {
		sub.ExpectMessage("news", pub.Name(), fmt.Sprintf("m%d", i))
	}
	sub.ExpectEnd(shutdownNotice)
	// The publisher is told too (an HTTP publisher has no stream).
	pub.ExpectEnd(shutdownNotice)
	<-stopped
}

// badInputs: every malformed request gets a clear error, and the client
// can go on: its next publish reaches a subscriber.
func badInputs(t *testing.T, ts *testServer, d door) {
	c, peer := d.dial(t, ts), d.dial(t, ts)
	peer.Subscribe("room")
	for _, b := range c.BadInputs() {
		if got := b.send(); !strings.Contains(got, b.want) {
			t.Errorf("%s: error %q, want one containing %q", b.name, got, b.want)
		}
	}
	c.Publish("room", "still here")
	peer.ExpectMessage("room", c.Name(), "still here")
}

// rateLimit: a publisher over its rate is refused with a clear error and
// its message goes nowhere; another client is unaffected.
func rateLimit(t *testing.T, ts *testServer, d door) {
	sub, p, other := d.dial(t, ts), d.dial(t, ts), d.dial(t, ts)
	sub.Subscribe("rl")
	p.Publish("rl", "first")
	p.Publish("rl", "second")
	p.ExpectRefused("rate limited")
	other.Publish("rl", "from another client")
	// The refused message never arrives: the next one is the other's.
	sub.ExpectMessage("rl", p.Name(), "first")
	sub.ExpectMessage("rl", other.Name(), "from another client")
}

// lineClient is the TCP door's adapter: the line protocol.
type lineClient struct {
	*linetest.Client
	held []string // lines read by Sync, not yet looked at
	pos  string   // the position of the last message read, with /ids on
}

func dialLine(t *testing.T, ts *testServer) client {
	return &lineClient{Client: linetest.Dial(t, ts.TCP)}
}

// next returns the next line, held ones first.
func (c *lineClient) next() string {
	c.T.Helper()
	if len(c.held) > 0 {
		l := c.held[0]
		c.held = c.held[1:]
		return l
	}
	return c.Next()
}

// nextError skips messages and notices up to the next error line and
// returns its text.
func (c *lineClient) nextError() string {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		if l := c.next(); strings.HasPrefix(l, "! ") {
			return l[2:]
		}
	}
	c.T.Fatalf("%s: no error line", c.Nick)
	return ""
}

func (c *lineClient) Name() string { return c.Nick }

func (c *lineClient) Subscribe(topic string) {
	c.T.Helper()
	c.Send("/sub " + topic)
	if l := c.next(); l != "* subscribed "+topic {
		c.T.Fatalf("%s: /sub %s: got %q", c.Nick, topic, l)
	}
}

func (c *lineClient) Publish(topic, text string) { c.T.Helper(); c.Send("/pub " + topic + " " + text) }

func (c *lineClient) Sync() { c.T.Helper(); c.held = append(c.held, c.Ping()...) }

func (c *lineClient) ExpectMessage(topic, from, text string) {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		l := c.next()
		if !isMessage(l) {
			continue
		}
		// "[topic] from: text", or "[topic#seq] from: text" with /ids on.
		m, err := line.ParseServerLine([]byte(l))
		if err != nil || m.Kind != line.KindMessage || string(m.Topic) != topic || string(m.From) != from || string(m.Text) != text {
			c.T.Fatalf("%s: got message %.80q, want [%s] %s: %.80q", c.Nick, l, topic, from, text)
		}
		if m.HasSeq {
			c.pos = strconv.FormatUint(m.Seq, 10)
		}
		return
	}
}

func (c *lineClient) ExpectRefused(want string) {
	c.T.Helper()
	if got := c.nextError(); !strings.Contains(got, want) {
		c.T.Fatalf("%s: refusal %q, want one containing %q", c.Nick, got, want)
	}
}

func (c *lineClient) BadInputs() []badInput {
	send := func(l string) func() string { return func() string { c.Send(l); return c.nextError() } }
	return []badInput{
		{"unknown command", send("/frobnicate now"), "unknown command /frobnicate"},
		{"bad topic", send("/pub a..b hello"), "bad topic"},
		{"missing argument", send("/pub"), "/pub"},
		{"line too long", send(strings.Repeat("x", 5000)), "line too long"},
	}
}

func (c *lineClient) ExpectEnd(notice string) {
	c.T.Helper()
	rest := append(c.held, c.ExpectEOF()...)
	c.held = nil
	if notice == "" {
		return
	}
	if len(rest) == 0 || (rest[len(rest)-1] != "* "+notice && rest[len(rest)-1] != "! "+notice) {
		c.T.Fatalf("%s: the stream ended with %q, want the notice %q last", c.Nick, rest, notice)
	}
}

func (c *lineClient) SetNick(n string) {
	c.T.Helper()
	c.Send("/nick " + n)
	if l := c.next(); l != "* you are now "+n {
		c.T.Fatalf("%s: /nick %s: got %q", c.Nick, n, l)
	}
	c.Nick = n
}

func (c *lineClient) Join(room string) {
	c.T.Helper()
	c.Send("/join " + room)
	if l := c.next(); !strings.HasPrefix(l, "* joined "+room+" (") {
		c.T.Fatalf("%s: /join %s: got %q", c.Nick, room, l)
	}
}

func (c *lineClient) Private(to, text string) { c.T.Helper(); c.Send("/msg " + to + " " + text) }

func (c *lineClient) ExpectPrivate(from, text string) {
	c.T.Helper()
	want := fmt.Sprintf("(private) %s: %s", from, text)
	for i := 0; i < 100000; i++ {
		if l := c.next(); isMessage(l) {
			if l != want {
				c.T.Fatalf("%s: got message %q, want %q", c.Nick, l, want)
			}
			return
		}
	}
}

func (c *lineClient) ExpectJoin(room, nick string) {
	c.T.Helper()
	want := "* " + nick + " joined " + room
	for i := 0; i < 100000; i++ {
		l := c.next()
		if l == want {
			return
		}
		if isMessage(l) {
			c.T.Fatalf("%s: got message %q before %q", c.Nick, l, want)
		}
	}
}

// wsDoorClient is the WebSocket door's adapter: JSON frames.
type wsDoorClient struct {
	*webtest.WS
	held  []webtest.Frame // frames read by Sync, not yet looked at
	pings int
	pos   string // the position of the last message read: SEQ@EPOCH
}

func dialWebSocket(t *testing.T, ts *testServer) client {
	return &wsDoorClient{WS: webtest.DialWS(t, ts.base, "", nil)}
}

// next returns the next frame, held ones first.
func (c *wsDoorClient) next() webtest.Frame {
	c.T.Helper()
	if len(c.held) > 0 {
		f := c.held[0]
		c.held = c.held[1:]
		return f
	}
	return c.Expect("a frame", func(webtest.Frame) bool { return true })
}

// nextError skips frames up to the next error frame and returns it.
func (c *wsDoorClient) nextError() webtest.Frame {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		if f := c.next(); f.S("op") == "error" {
			return f
		}
	}
	c.T.Fatalf("%s: no error frame", c.Nick)
	return nil
}

func (c *wsDoorClient) Name() string { return c.Nick }

func (c *wsDoorClient) Subscribe(topic string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "sub", "topic": topic})
	if f := c.next(); f.S("re") != "sub" || f.S("op") == "error" {
		c.T.Fatalf("%s: sub %s: got %v", c.Nick, topic, f)
	}
}

func (c *wsDoorClient) Publish(topic, text string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "pub", "topic": topic, "text": text})
}

func (c *wsDoorClient) Sync() {
	c.T.Helper()
	c.pings++
	token := fmt.Sprintf("sync-%d", c.pings)
	c.Send(map[string]string{"op": "ping", "text": token})
	for i := 0; i < 100000; i++ {
		f := c.Expect("a frame", func(webtest.Frame) bool { return true })
		if f.S("re") == "ping" && strings.Contains(f.S("text"), token) {
			return
		}
		c.held = append(c.held, f)
	}
}

func (c *wsDoorClient) ExpectMessage(topic, from, text string) {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		f := c.next()
		if !isMessageFrame(f) {
			continue
		}
		if f.S("op") != "msg" || f.S("topic") != topic || f.S("from") != from || f.S("text") != text || f["seq"] == nil || f["ts"] == nil {
			c.T.Fatalf("%s: got message %v, want %s from %s: %.80q", c.Nick, f, topic, from, text)
		}
		if seq, ok := f["seq"].(float64); ok && f.S("epoch") != "" {
			c.pos = fmt.Sprintf("%d@%s", uint64(seq), f.S("epoch"))
		}
		return
	}
}

func (c *wsDoorClient) ExpectRefused(want string) {
	c.T.Helper()
	if f := c.nextError(); f.S("re") != "pub" || !strings.Contains(f.S("text"), want) {
		c.T.Fatalf("%s: refusal %v, want a pub error containing %q", c.Nick, f, want)
	}
}

func (c *wsDoorClient) BadInputs() []badInput {
	send := func(b string) func() string {
		return func() string { c.SendRaw(websocket.MessageText, []byte(b)); return c.nextError().S("text") }
	}
	return []badInput{
		{"not JSON", send(`{"op":`), "not valid JSON"},
		{"no op", send(`{"topic":"room"}`), `missing "op"`},
		{"unknown op", send(`{"op":"frobnicate"}`), `unknown op "frobnicate"`},
		{"bad topic", send(`{"op":"pub","topic":"a..b","text":"hello"}`), "bad topic"},
		{"missing field", send(`{"op":"pub","topic":"room"}`), `pub needs "text"`},
		{"wrong type", send(`{"op":"pub","topic":"room","text":7}`), `field "text" must be a string`},
	}
}

func (c *wsDoorClient) ExpectEnd(notice string) {
	c.T.Helper()
	var final webtest.Frame
	for _, f := range c.held {
		if f.S("final") != "" {
			final = f
		}
	}
	c.held = nil
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	var err error
	for i := 0; i < 1000000; i++ {
		var f webtest.Frame
		if f, err = c.Next(ctx); err != nil {
			break
		}
		if f.S("final") != "" {
			final = f
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		c.T.Fatalf("%s: the stream did not end", c.Nick)
	}
	if notice == "" {
		return
	}
	if final == nil || final.S("text") != notice {
		c.T.Fatalf("%s: final frame %v, want the notice %q", c.Nick, final, notice)
	}
	if notice == shutdownNotice && websocket.CloseStatus(err) != websocket.StatusGoingAway {
		c.T.Fatalf("%s: ended with %v, want close status 1001 (going away)", c.Nick, err)
	}
}

func (c *wsDoorClient) SetNick(n string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "nick", "nick": n})
	if f := c.next(); f.S("re") != "nick" || f.S("op") == "error" || f.S("nick") != n {
		c.T.Fatalf("%s: nick %s: got %v", c.Nick, n, f)
	}
	c.Nick = n
}

func (c *wsDoorClient) Join(room string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "join", "room": room})
	if f := c.next(); f.S("re") != "join" || f.S("op") == "error" || f.S("room") != room {
		c.T.Fatalf("%s: join %s: got %v", c.Nick, room, f)
	}
}

func (c *wsDoorClient) Private(to, text string) {
	c.T.Helper()
	c.Send(map[string]string{"op": "msg", "to": to, "text": text})
}

func (c *wsDoorClient) ExpectPrivate(from, text string) {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		if f := c.next(); isMessageFrame(f) {
			if f.S("op") != "private" || f.S("from") != from || f.S("text") != text {
				c.T.Fatalf("%s: got message %v, want private from %s: %q", c.Nick, f, from, text)
			}
			return
		}
	}
}

func (c *wsDoorClient) ExpectJoin(room, nick string) {
	c.T.Helper()
	for i := 0; i < 100000; i++ {
		f := c.next()
		if f.S("op") == "event" && f.S("kind") == "join" && f.S("room") == room && f.S("nick") == nick {
			return
		}
		if isMessageFrame(f) {
			c.T.Fatalf("%s: got message %v before %s joined %s", c.Nick, f, nick, room)
		}
	}
}

// isMessageFrame reports whether a frame is a message (a topic's or a
// private one), not a reply or an event.
func isMessageFrame(f webtest.Frame) bool { return f.S("op") == "msg" || f.S("op") == "private" }

// sseDoorClient is the SSE door's adapter: it listens on an event
// stream and, as SSE cannot send, publishes with HTTP POST /pub. Each
// client has a loopback source address of its own, so the per-address
// HTTP publish rate limit sees distinct clients. An HTTP publish is not
// the stream's session, so a client's own publish on the topic it
// listens to comes back on its stream, unlike on the other doors; the
// adapter expects those echoes and takes them off, in order.
type sseDoorClient struct {
	t        testing.TB
	base     string
	hc       *http.Client
	stream   *webtest.SSE // opened by Subscribe
	topic    string       // the stream's topic
	echoes   []string     // own publishes on topic still to come back
	lastCode int          // the last publish's status and body
	lastBody webtest.Frame
	pos      string // the id of the last message read
}

// sseSources numbers the SSE clients' source addresses 127.0.1.N.
var sseSources atomic.Int32

func dialSSEPublisher(t *testing.T, ts *testServer) client {
	n := sseSources.Add(1)
	src := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: src, Timeout: testkit.Timeout}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &sseDoorClient{t: t, base: ts.base, hc: &http.Client{Transport: tr}}
}

// HTTP publishes come from one sender name.
func (c *sseDoorClient) Name() string { return "http" }

func (c *sseDoorClient) Subscribe(topic string) {
	c.t.Helper()
	if c.stream != nil {
		c.t.Fatalf("sse: one topic per stream in these scenarios")
	}
	c.topic = topic
	c.stream = webtest.DialSSEWith(c.t, c.hc, c.base, webtest.Query("topic", topic))
	c.stream.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed "+topic })
}

func (c *sseDoorClient) Publish(topic, text string) {
	c.t.Helper()
	c.lastCode, c.lastBody = webtest.PostWith(c.t, c.hc, c.base, topic, text, nil)
	if c.lastCode == http.StatusAccepted && c.stream != nil && topic == c.topic {
		c.echoes = append(c.echoes, text)
	}
}

// Sync has nothing to wait for: an HTTP publish is answered once done.
func (c *sseDoorClient) Sync() {}

func (c *sseDoorClient) ExpectMessage(topic, from, text string) {
	c.t.Helper()
	ev := c.stream.Expect("a message", func(e webtest.Event) bool { return e.Event == "msg" })
	for len(c.echoes) > 0 && ev.Data.S("from") == c.Name() && ev.Data.S("text") == c.echoes[0] {
		c.echoes = c.echoes[1:]
		ev = c.stream.Expect("a message", func(e webtest.Event) bool { return e.Event == "msg" })
	}
	if ev.Data.S("topic") != topic || ev.Data.S("from") != from || ev.Data.S("text") != text {
		c.t.Fatalf("sse: got message %v, want %s from %s: %.80q", ev.Data, topic, from, text)
	}
	if ev.ID != "" {
		c.pos = ev.ID
	}
}

func (c *sseDoorClient) ExpectRefused(want string) {
	c.t.Helper()
	if c.lastCode == http.StatusAccepted || !strings.Contains(c.lastBody.S("error"), want) {
		c.t.Fatalf("http publish: %d %v, want a refusal containing %q", c.lastCode, c.lastBody, want)
	}
}

func (c *sseDoorClient) BadInputs() []badInput {
	post := func(topic, body string, code int) func() string {
		return func() string {
			got, b := webtest.PostWith(c.t, c.hc, c.base, topic, body, nil)
			if got != code {
				c.t.Errorf("POST /pub/%s: status %d, want %d", topic, got, code)
			}
			return b.S("error")
		}
	}
	stream := func(q string) func() string {
		return func() string {
			resp, err := c.hc.Get(c.base + "/sse" + q)
			if err != nil {
				c.t.Fatalf("sse: %v", err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				c.t.Errorf("GET /sse%s: status %d, want 400", q, resp.StatusCode)
			}
			return string(b)
		}
	}
	return []badInput{
		{"bad topic", post("a..b", "hello", http.StatusBadRequest), "bad topic"},
		{"empty message", post("room", "", http.StatusBadRequest), "empty message"},
		{"too large", post("room", strings.Repeat("x", 65<<10), http.StatusRequestEntityTooLarge), "message too large"},
		{"bad stream topic", stream(webtest.Query("topic", "a..b")), "bad pattern"},
	}
}

func (c *sseDoorClient) ExpectEnd(notice string) {
	c.t.Helper()
	if c.stream == nil {
		return // only publishes: no stream to end
	}
	timer := time.AfterFunc(testkit.Timeout, func() { _ = c.stream.Resp.Body.Close() })
	defer timer.Stop()
	var last webtest.Event
	var err error
	for i := 0; i < 1000000; i++ {
		var ev webtest.Event
		if ev, err = c.stream.Read(); err != nil {
			break
		}
		last = ev
	}
	if notice == "" {
		return
	}
	if !errors.Is(err, io.EOF) {
		c.t.Fatalf("sse: ended with %v, want a clean end of stream", err)
	}
	if last.Data.S("final") == "" || last.Data.S("text") != notice {
		c.t.Fatalf("sse: last event %+v, want the final notice %q", last, notice)
	}
}
