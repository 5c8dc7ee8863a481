package crossdoor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hub/switchboard/internal/faultproxy"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// countLines is a JavaScript expression: how many message lines from
// sender with text the chat log shows.
func countLines(from, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll('#log li.msg')).filter(li => li.dataset.from === %s && li.dataset.text === %s).length`, js(from), js(text))
}

// TestBrowserHistory: the chat app shows a room's recent history on join
// and, after its WebSocket is cut and reconnects, every message it missed
// exactly once. The page reaches the server through a proxy that the test
// cuts; a TCP client publishes while the page is away.
func TestBrowserHistory(t *testing.T) {
	bctx := browser(t)
	ts := startServer(t, func(c *server.Config) { c.History = history.Config{Keep: 100} })
	proxy, err := faultproxy.Start(strings.TrimPrefix(ts.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)

	pub := dialTCP(t, ts)
	pub.send("/nick ann")
	pub.send("/join ops")
	pub.send("before you came")
	pub.Ping()

	p := newPage(t, bctx, "erin", true)
	p.do(chromedp.Navigate("http://" + proxy.Addr() + "/"))
	p.wait("online", `document.querySelector('#status').classList.contains('online')`)
	p.typeLine("#join-input", "ops")
	p.wait("in ops", `document.querySelector('#room-title').textContent === 'ops'`)
	p.wait("the backlog on join", hasLine("msg", "ann", "before you came"))
	pub.send("while you are here")
	p.wait("a live message", hasLine("msg", "ann", "while you are here"))

	proxy.Drop()
	p.wait("offline", `document.querySelector('#status').classList.contains('offline')`)
	testkit.Eventually(t, "the server to see the page go", func() bool { return ts.Registry().Stats().SessionsByDoor["ws"] == 0 })
	for i := 1; i <= 10; i++ {
		pub.send(fmt.Sprintf("missed %d", i))
	}
	pub.Ping()
	if n := ts.Registry().Stats().SessionsByDoor["ws"]; n != 0 {
		t.Fatalf("the page reconnected before the messages were published (%d ws sessions): the test proves nothing", n)
	}
	p.wait("back", `document.querySelector('#status').classList.contains('online')`)
	p.wait("the last missed message", hasLine("msg", "ann", "missed 10"))
	pub.send("after the reconnect")
	p.wait("live again", hasLine("msg", "ann", "after the reconnect"))
	for _, text := range []string{"before you came", "while you are here", "missed 1", "missed 5", "missed 10", "after the reconnect"} {
		if n := p.eval(countLines("ann", text) + ` + ''`); n != "1" {
			t.Errorf("%q shown %s times, want once", text, n)
		}
	}
	order := p.eval(`Array.from(document.querySelectorAll('#log li.msg')).map(li => li.dataset.text).join('|')`)
	want := "before you came|while you are here|missed 1|missed 2|missed 3|missed 4|missed 5|missed 6|missed 7|missed 8|missed 9|missed 10|after the reconnect"
	if order != want {
		t.Errorf("log reads %q, want %q", order, want)
	}
	for _, e := range p.pageErrors() {
		if !strings.Contains(e, "network") && !strings.Contains(e, "WebSocket") {
			t.Errorf("page error: %s", e)
		}
	}
}
