package crossdoor_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for a test, or skips the test when
// Chromium is missing outside CI (in CI, set CI=true, it must be there).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testkit.Unavailable(t, "there is no Chromium at "+chromiumPath+" (apt-get install chromium)")
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(bctx)
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// page is one browser tab with a record of its console errors, uncaught
// exceptions and CSP violations.
type page struct {
	t    *testing.T
	ctx  context.Context
	name string

	mu     sync.Mutex
	errors []string
}

func newPage(t *testing.T, parent context.Context, name string, first bool) *page {
	t.Helper()
	ctx := parent
	if !first {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(parent)
		t.Cleanup(cancel)
	}
	p := &page{t: t, ctx: ctx, name: name}
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatalf("%s: start tab: %v", name, err)
	}
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, runtime.Enable, cdp.Empty{})
		return err
	}))
	return p
}

func (p *page) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			msg = "console.error"
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			msg = fmt.Sprintf("%s: %s", ev.Entry.Source, ev.Entry.Text)
		}
	}
	if msg != "" {
		p.mu.Lock()
		p.errors = append(p.errors, msg)
		p.mu.Unlock()
	}
}

// do runs actions with a time limit, failing the test on error.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v (page errors: %v)", p.name, err, p.pageErrors())
	}
}

// wait polls a JavaScript predicate until it is true.
func (p *page) wait(what, js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.t.Fatalf("%s: waiting for %s: %v (page errors: %v)", p.name, what, err, p.pageErrors())
	}
}

func (p *page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: eval %s: %v", p.name, js, err)
	}
	return v
}

func (p *page) pageErrors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errors...)
}

// typeLine types text into an input and presses Enter.
func (p *page) typeLine(sel, text string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(document.querySelector(%s).value = '', '')`, js(sel)))
	p.do(chromedp.SendKeys(chromedp.CSS(sel), text+kb.Enter))
}

func (p *page) screenshot(path string, full bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100)
	}
	b, err := chromedp.Run(ctx, shot)
	if err != nil {
		p.t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("%s: screenshot %s", p.name, path)
}

func js(s string) string { return fmt.Sprintf("%q", s) }

// hasLine is a predicate: the chat log shows a message line with this
// sender and text.
func hasLine(cls, from, text string) string {
	return fmt.Sprintf(`Array.from(document.querySelectorAll('#log li.%s')).some(li => li.dataset.from === %s && li.dataset.text === %s)`, cls, js(from), js(text))
}

// screenshotDir returns where the test's screenshots go: the directory
// named by SWITCHBOARD_SCREENSHOTS (relative to the repository root), or
// else the test's own temporary directory, which is removed when it ends.
// `SWITCHBOARD_SCREENSHOTS=docs/img go test -run TestBrowser
// ./internal/crossdoor` refreshes the pictures in README.md and
// docs/web.md.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("SWITCHBOARD_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // from internal/crossdoor
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots go to %s", dir)
	return dir
}

// settled is a predicate: no CSS transition or animation is running, so a
// screenshot shows the layout at rest (the phone's side panel slides).
const settled = `document.getAnimations().every(a => a.playState !== 'running')`

// TestBrowser drives real headless Chromium: two chat pages and a
// terminal (TCP) user talk in one room; the dashboard's goroutine count
// rises while 1,000 extra TCP clients are connected.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	ts := startServer(t, nil)
	shots := screenshotDir(t)

	alice := newPage(t, bctx, "alice", true)
	bob := newPage(t, bctx, "bob", false)
	for _, p := range []*page{alice, bob} {
		p.do(chromedp.Navigate(ts.base + "/"))
		p.wait("online", `document.querySelector('#status').classList.contains('online')`)
		p.wait("in lobby", `document.querySelector('#room-title').textContent === 'lobby'`)
		p.typeLine("#nick-input", p.name)
		p.wait("nick", fmt.Sprintf(`document.querySelector('#nick-input').value === %s && document.querySelector('#members li.me')?.textContent === %s`, js(p.name), js(p.name)))
	}
	carol := dialTCP(t, ts)
	carol.send("/nick carol")
	carol.send("/join lobby")
	carol.expect("joined", func(l string) bool { return strings.HasPrefix(l, "* joined lobby") })
	for _, p := range []*page{alice, bob} {
		p.wait("three members", `Array.from(document.querySelectorAll('#members li')).map(li => li.textContent).join(',') === 'alice,bob,carol'`)
	}

	alice.typeLine("#text", "hello from the browser")
	bob.wait("alice's message", hasLine("msg", "alice", "hello from the browser"))
	carol.expect("alice's message", func(l string) bool { return l == "[lobby] alice: hello from the browser" })

	carol.send("hi from the terminal")
	alice.wait("carol's message", hasLine("msg", "carol", "hi from the terminal"))
	bob.wait("carol's message", hasLine("msg", "carol", "hi from the terminal"))

	bob.typeLine("#text", "bob here, on a phone soon")
	alice.wait("bob's message", hasLine("msg", "bob", "bob here, on a phone soon"))
	carol.expect("bob's message", func(l string) bool { return l == "[lobby] bob: bob here, on a phone soon" })

	carol.send("/msg alice psst, only you can read this")
	alice.wait("private message", hasLine("private", "carol → you", "psst, only you can read this"))
	if code, _ := webtest.Post(t, ts.base, "lobby", "deploy finished ✔", nil); code != 202 {
		t.Fatalf("http publish: %d", code)
	}
	alice.wait("http message", hasLine("msg", "http", "deploy finished ✔"))
	alice.typeLine("#text", "thanks, carol!")
	carol.expect("alice's reply", func(l string) bool { return l == "[lobby] alice: thanks, carol!" })
	// What a new user tries: /who answers in the message pane; a space
	// after the slash is refused, not taken as /join; the sidebar names
	// the TCP door the server really has.
	alice.typeLine("#text", "/who")
	alice.wait("/who answered", `Array.from(document.querySelectorAll('#log li.info')).some(li => li.dataset.text === 'lobby: alice, bob, carol (3)')`)
	alice.typeLine("#text", "/ join t1")
	alice.wait("space after the slash refused", `Array.from(document.querySelectorAll('#log li.error')).some(li => li.dataset.text.startsWith("no space after '/': type /join"))`)
	if title := alice.eval(`document.querySelector('#room-title').textContent`); title != "lobby" {
		t.Errorf("after '/ join t1' the room is %q, want lobby", title)
	}
	_, port, _ := net.SplitHostPort(ts.TCP)
	alice.wait("the real TCP door in the hint", fmt.Sprintf(`document.querySelector('#tcp-cmd').textContent === %s && !document.querySelector('#tcp-hint').classList.contains('hidden')`, js("nc 127.0.0.1 "+port)))
	alice.screenshot(filepath.Join(shots, "chat.png"), false)

	// Phone-sized: the side panel folds away; the conversation stays.
	bob.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	bob.wait("phone layout", `getComputedStyle(document.querySelector('#menu')).display !== 'none' && document.documentElement.scrollWidth <= 390 && document.querySelector('#send').getBoundingClientRect().right <= 390`)
	// A guest nick fits the nick box whole.
	fits := bob.eval(`(() => { const i = document.querySelector('#nick-input'), v = i.value; i.value = 'guest-1422'; const ok = i.scrollWidth <= i.clientWidth; i.value = v; return String(ok); })()`)
	if fits != "true" {
		t.Errorf("at 390 px the nick box cuts guest-1422")
	}
	bob.wait("the side panel has slid away", settled)
	bob.screenshot(filepath.Join(shots, "chat-phone.png"), false)

	// The dashboard.
	dash := newPage(t, bctx, "dashboard", false)
	dash.do(chromedp.Navigate(ts.base + "/dashboard"))
	dash.wait("live", `document.querySelector('#status').classList.contains('online') && /\d/.test(document.querySelector('#v-goroutines').textContent)`)
	goroutines := func() string {
		return `parseInt(document.querySelector('#v-goroutines').textContent.replace(/\D/g, ''), 10)`
	}
	var before int
	if _, err := fmt.Sscan(dash.eval(`String(`+goroutines()+`)`), &before); err != nil || before <= 0 {
		t.Fatalf("dashboard goroutines %d: %v", before, err)
	}

	const extra = 1000
	conns := make([]net.Conn, 0, extra)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := 0; i < extra; i++ {
		c, err := net.Dial("tcp", ts.TCPAddr())
		if err != nil {
			t.Fatalf("extra client %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	testkit.Eventually(t, "1,000 more TCP sessions", func() bool { return ts.Registry().Stats().SessionsByDoor["tcp"] >= extra+1 })
	// Keep the extra clients busy: the TCP door may park the goroutine
	// of a connection that stays idle, and this test is about the
	// dashboard showing goroutines, not about idle connections.
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, c := range conns {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write([]byte("/ping\n"))
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	dash.wait("goroutines rise", fmt.Sprintf(`%s >= %d`, goroutines(), before+extra/2))
	dash.wait("connections shown", fmt.Sprintf(`parseInt(document.querySelector('#v-conns').textContent.replace(/\D/g, ''), 10) >= %d`, extra+3))
	dash.wait("six charts", `document.querySelectorAll('.uplot').length === 6`)
	// Let the charts gather a few seconds of the new level.
	dash.do(chromedp.Sleep(3 * time.Second))
	dash.wait("the dot scale is labelled", `/^1 dot ≈ [\d,]+ goroutines/.test(document.querySelector('#gmp').textContent.match(/1 dot[^)]*/)?.[0] ?? '')`)
	dash.wait("GC pause with a unit", `/^p99 pause [\d.]+ (ns|µs|ms|s)$/.test(document.querySelector('#s-gc').textContent)`)
	dash.screenshot(filepath.Join(shots, "dashboard.png"), true)
	after := dash.eval(`document.querySelector('#v-goroutines').textContent`)
	t.Logf("dashboard goroutines: %d before, %s with %d extra busy TCP clients", before, after, extra)
	dash.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	dash.wait("phone layout", `document.documentElement.scrollWidth <= 390`)
	dash.wait("settled", settled)
	dash.screenshot(filepath.Join(shots, "dashboard-phone.png"), false)
	close(stop)
	<-pinged
	for _, c := range conns {
		_ = c.Close()
	}
	conns = nil

	for _, p := range []*page{alice, bob, dash} {
		if errs := p.pageErrors(); len(errs) > 0 {
			t.Errorf("%s: page errors (CSP violations included): %v", p.name, errs)
		}
	}
}

// TestBrowserReconnect checks that the chat page says when the server goes
// away, reconnects by itself when it is back, and restores nick and room.
func TestBrowserReconnect(t *testing.T) {
	bctx := browser(t)
	first := startServer(t, nil)
	addr := strings.TrimPrefix(first.base, "http://")

	p := newPage(t, bctx, "dave", true)
	p.do(chromedp.Navigate(first.base + "/"))
	p.wait("online", `document.querySelector('#status').classList.contains('online')`)
	p.typeLine("#join-input", "ops")
	p.wait("in ops", `document.querySelector('#room-title').textContent === 'ops'`)
	p.typeLine("#nick-input", "dave")
	p.wait("nick", `document.querySelector('#members li.me')?.textContent === 'dave'`)

	first.stop(t)
	p.wait("told", `document.querySelector('#status').classList.contains('offline') && /reconnecting/.test(document.querySelector('#banner').textContent)`)

	second := startServer(t, func(c *server.Config) { c.Web.Addr = addr })
	p.wait("back", `document.querySelector('#status').classList.contains('online') && /Reconnected/.test(document.querySelector('#banner').textContent)`)
	p.wait("room and nick restored", `document.querySelector('#room-title').textContent === 'ops' && document.querySelector('#members li.me')?.textContent === 'dave'`)
	testkit.Eventually(t, "dave in ops on the new server", func() bool {
		who := second.Hub().Who("ops")
		return len(who) == 1 && who[0] == "dave"
	})
	if errs := p.pageErrors(); len(errs) > 0 {
		// A refused reconnect attempt is logged by the browser as a
		// network error while the server is down; anything else is not
		// expected.
		for _, e := range errs {
			if !strings.Contains(e, "network") && !strings.Contains(e, "WebSocket") {
				t.Errorf("page error: %s", e)
			}
		}
	}
}
