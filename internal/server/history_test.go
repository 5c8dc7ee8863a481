package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// withHistory keeps keep messages per topic.
func withHistory(keep int) func(*server.Config) {
	return func(c *server.Config) { c.History = history.Config{Keep: keep} }
}

// pacedPublisher publishes "/pub topic i" for i = 1 … n on topics in
// turn, one every 2 ms, from its own TCP connection, so that a reader can
// be cut and resume while it runs. It returns a channel closed when done.
func pacedPublisher(t *testing.T, addr string, n int, topics ...string) <-chan struct{} {
	t.Helper()
	c := linetest.Dial(t, addr)
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, c.Conn) }()
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := 1; i <= n; i++ {
			<-tick.C
			_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := fmt.Fprintf(c.Conn, "/pub %s %d\n", topics[(i-1)%len(topics)], (i-1)/len(topics)+1); err != nil {
				t.Errorf("publisher: %v", err)
				return
			}
		}
	}()
	return done
}

// checkRun fails unless seqs is exactly from, from+1, … to.
func checkRun(t *testing.T, what string, seqs []uint64, from, to uint64) {
	t.Helper()
	if len(seqs) != int(to-from+1) {
		t.Fatalf("%s: got %d messages %v, want %d…%d", what, len(seqs), seqs, from, to)
	}
	for i, s := range seqs {
		if s != from+uint64(i) {
			t.Fatalf("%s: message %d is #%d, want #%d (all: %v)", what, i, s, from+uint64(i), seqs)
		}
	}
}

// lineSeqs reads id lines on topic from c until it has seen seq last,
// and returns their positions; other lines must be info lines.
func lineSeqs(t *testing.T, c *linetest.Client, topic string, last uint64) []uint64 {
	t.Helper()
	var out []uint64
	for len(out) == 0 || out[len(out)-1] < last {
		l := c.Next()
		sl, err := line.ParseServerLine([]byte(l))
		switch {
		case err == nil && sl.Kind == line.KindMessage && sl.HasSeq && string(sl.Topic) == topic:
			out = append(out, sl.Seq)
		case strings.HasPrefix(l, "* "):
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	return out
}

const resumeN = 300 // messages per resume test; the ring keeps them all

// TestResumeLine: a line client with /ids on is cut mid-stream and
// comes back with /sub TOPIC since=SEQ: every message exactly once.
func TestResumeLine(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, withHistory(1000))
	a := linetest.Dial(t, srv.TCPAddr())
	a.Send("/ids on", "/sub feed")
	a.Expect("* ids on")
	a.ExpectLine("* subscribed feed")
	done := pacedPublisher(t, srv.TCPAddr(), resumeN, "feed")
	first := lineSeqs(t, a, "feed", 40)
	checkRun(t, "before the cut", first, 1, 40)
	_ = a.Conn.Close() // the client dies mid-stream

	b := linetest.Dial(t, srv.TCPAddr())
	b.Send("/ids on", "/sub feed since=40")
	rest := lineSeqs(t, b, "feed", resumeN)
	<-done
	checkRun(t, "after resuming", rest, 41, resumeN)
}

// wsDial opens a WebSocket to the server and reads its welcome.
func wsDial(t *testing.T, srv *server.Server) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+srv.HTTPAddr()+"/ws", nil)
	if err != nil {
		t.Fatalf("ws dial: %v", err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	wsExpect(t, c, "welcome", func(f wsFrame) bool { return f.s("op") == "info" })
	return c
}

// wsSeqs reads msg frames on topic until seq last and returns their seqs.
func wsSeqs(t *testing.T, c *websocket.Conn, topic string, last uint64) []uint64 {
	t.Helper()
	var out []uint64
	for len(out) == 0 || out[len(out)-1] < last {
		f := wsExpect(t, c, "messages", func(f wsFrame) bool { return f.s("op") == "msg" || f.s("op") == "gap" })
		if f.s("op") == "gap" {
			t.Fatalf("unexpected gap %v", f)
		}
		if f.s("topic") == topic {
			out = append(out, uint64(f["seq"].(float64)))
		}
	}
	return out
}

func TestResumeWebSocket(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, withHistory(1000))
	a := wsDial(t, srv)
	wsSend(t, a, map[string]string{"op": "sub", "topic": "feed"})
	wsExpect(t, a, "subscribed", func(f wsFrame) bool { return f.s("re") == "sub" })
	done := pacedPublisher(t, srv.TCPAddr(), resumeN, "feed")
	first := wsSeqs(t, a, "feed", 40)
	checkRun(t, "before the cut", first, 1, 40)
	_ = a.CloseNow()

	b := wsDial(t, srv)
	wsSend(t, b, map[string]string{"op": "sub", "topic": "feed", "since": "40"})
	rest := wsSeqs(t, b, "feed", resumeN)
	<-done
	checkRun(t, "after resuming", rest, 41, resumeN)
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct{ id, event, data string }

// sseStream reads events from an SSE response on a goroutine.
func sseStream(t *testing.T, url, lastID string) (<-chan sseEvent, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("sse: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("sse: status %d", resp.StatusCode)
	}
	ch := make(chan sseEvent, 1024)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		r := bufio.NewReader(resp.Body)
		var ev sseEvent
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimSuffix(l, "\n")
			switch {
			case l == "":
				if ev.event != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(l, "id: "):
				ev.id = l[4:]
			case strings.HasPrefix(l, "event: "):
				ev.event = l[7:]
			case strings.HasPrefix(l, "data: "):
				ev.data = l[6:]
			}
		}
	}()
	return ch, cancel
}

// sseSeqs reads msg events until every topic in last has reached its
// seq, and returns each topic's seqs and the last event id.
func sseSeqs(t *testing.T, ch <-chan sseEvent, last map[string]uint64) (map[string][]uint64, string) {
	t.Helper()
	out := map[string][]uint64{}
	id := ""
	deadline := time.After(timeout)
	reached := func() bool {
		for topic, want := range last {
			s := out[topic]
			if len(s) == 0 || s[len(s)-1] < want {
				return false
			}
		}
		return true
	}
	for !reached() {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("sse stream ended; got %v", out)
			}
			if ev.event == "gap" || ev.event == "error" {
				t.Fatalf("unexpected %s event %s", ev.event, ev.data)
			}
			if ev.event != "msg" {
				continue
			}
			var f struct {
				Topic string `json:"topic"`
				Seq   uint64 `json:"seq"`
			}
			if err := json.Unmarshal([]byte(ev.data), &f); err != nil || ev.id == "" {
				t.Fatalf("bad msg event %+v: %v", ev, err)
			}
			out[f.Topic] = append(out[f.Topic], f.Seq)
			id = ev.id
		case <-deadline:
			t.Fatalf("timed out; got %v", out)
		}
	}
	return out, id
}

// TestResumeSSE: an SSE stream on a wildcard, cut mid-stream, comes back
// with Last-Event-ID and gets every message of every topic exactly once.
func TestResumeSSE(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, withHistory(1000))
	url := "http://" + srv.HTTPAddr() + "/sse?topic=feed.*"
	ch, cut := sseStream(t, url, "")
	done := pacedPublisher(t, srv.TCPAddr(), resumeN, "feed.a", "feed.b")
	first, id := sseSeqs(t, ch, map[string]uint64{"feed.a": 20, "feed.b": 20})
	cut()
	a, b := first["feed.a"], first["feed.b"]
	checkRun(t, "feed.a before the cut", a, 1, a[len(a)-1])
	checkRun(t, "feed.b before the cut", b, 1, b[len(b)-1])

	ch2, cut2 := sseStream(t, url, id)
	defer cut2()
	rest, _ := sseSeqs(t, ch2, map[string]uint64{"feed.a": resumeN / 2, "feed.b": resumeN / 2})
	<-done
	checkRun(t, "feed.a after resuming", rest["feed.a"], a[len(a)-1]+1, resumeN/2)
	checkRun(t, "feed.b after resuming", rest["feed.b"], b[len(b)-1]+1, resumeN/2)
}

// historyAnswer is the body of GET /history.
type historyAnswer struct {
	Topic    string `json:"topic"`
	Epoch    string `json:"epoch"`
	Seq      uint64 `json:"seq"`
	Messages []struct {
		Seq   uint64 `json:"seq"`
		Text  string `json:"text"`
		Epoch string `json:"epoch"`
	} `json:"messages"`
	Gaps []struct {
		Missed uint64 `json:"missed"`
		Lost   bool   `json:"lost"`
		Text   string `json:"text"`
	} `json:"gaps"`
	Error string `json:"error"`
}

func getHistory(t *testing.T, srv *server.Server, query string) (int, historyAnswer) {
	t.Helper()
	resp, err := http.Get("http://" + srv.HTTPAddr() + "/history/" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a historyAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("history body: %v", err)
	}
	return resp.StatusCode, a
}

// publishN publishes 1 … n on topic over TCP and waits until the server
// has handled them.
func publishN(t *testing.T, addr, topic string, n int) {
	t.Helper()
	c := linetest.Dial(t, addr)
	for i := 1; i <= n; i++ {
		c.Send(fmt.Sprintf("/pub %s %d", topic, i))
	}
	c.Ping()
}

func TestHistoryHTTP(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, withHistory(10))
	publishN(t, srv.TCPAddr(), "logs", 25)
	code, a := getHistory(t, srv, "logs?since=20&limit=3")
	if code != http.StatusOK || a.Seq != 25 || len(a.Epoch) != 8 || len(a.Messages) != 3 || a.Messages[0].Seq != 23 || a.Messages[2].Text != "25" {
		t.Fatalf("GET /history: %d %+v", code, a)
	}
	_, a = getHistory(t, srv, "logs?since=2")
	if len(a.Messages) != 10 || len(a.Gaps) != 1 || a.Gaps[0].Missed != 13 || a.Gaps[0].Text != "missed 13 messages on logs" {
		t.Fatalf("gap: %+v", a)
	}
	if code, a := getHistory(t, srv, "logs?since=soon"); code != http.StatusBadRequest || !strings.Contains(a.Error, "since") {
		t.Fatalf("bad since: %d %+v", code, a)
	}
	if code, _ := getHistory(t, srv, "a..b"); code != http.StatusBadRequest {
		t.Fatalf("bad topic: %d", code)
	}
}

// TestGapBiggerThanRing: a line client asking for more than is kept is
// told how many it missed before what is kept.
func TestGapBiggerThanRing(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, withHistory(10))
	publishN(t, srv.TCPAddr(), "t", 30)
	c := linetest.Dial(t, srv.TCPAddr())
	c.Send("/ids on", "/sub t since=5")
	c.Expect("* ids on")
	c.ExpectLine("* subscribed t")
	c.ExpectLine("! missed 15 messages on t")
	checkRun(t, "kept", lineSeqs(t, c, "t", 30), 21, 30)
	c.Send("/history t 2")
	c.ExpectLine("[t#29] guest-1: 29")
	c.ExpectLine("[t#30] guest-1: 30")
	c.ExpectLine("* end of history t")
}

// TestRestartChangesEpoch: without a durable store a restart loses the
// history, and a client coming back with its old position is told so.
func TestRestartChangesEpoch(t *testing.T) {
	t.Parallel()
	srv1, _ := startWeb(t, webfront.Config{}, withHistory(10))
	publishN(t, srv1.TCPAddr(), "t", 3)
	_, before := getHistory(t, srv1, "t")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	srv2, _ := startWeb(t, webfront.Config{}, withHistory(10))
	publishN(t, srv2.TCPAddr(), "t", 1)
	_, after := getHistory(t, srv2, "t")
	if before.Epoch == "" || before.Epoch == after.Epoch {
		t.Fatalf("epoch %q before the restart, %q after", before.Epoch, after.Epoch)
	}
	c := linetest.Dial(t, srv2.TCPAddr())
	c.Send("/sub t since=3@" + before.Epoch)
	c.ExpectLine("* subscribed t")
	c.ExpectLine("! history for t was lost (epoch changed)")
	c.ExpectLine("[t] guest-1: 1")
	_, a := getHistory(t, srv2, "t?since="+strconv.Itoa(3))
	if len(a.Gaps) != 1 || !a.Gaps[0].Lost {
		t.Fatalf("a seq past the new top must say the history was lost: %+v", a)
	}
}

// TestStoreSurvivesRestart: with --store a restarted server keeps the
// history, its numbering and its epochs: a client back from a position
// taken before the restart gets exactly what it missed, with no marker,
// and SSE ids stay valid. Without --store the same position is reported
// lost (TestRestartChangesEpoch).
func TestStoreSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	withStore := func(c *server.Config) { c.History = history.Config{Keep: 10}; c.StoreDir = dir }
	srv1, _ := startWeb(t, webfront.Config{}, withStore)
	publishN(t, srv1.TCPAddr(), "t", 5)
	_, before := getHistory(t, srv1, "t")
	ch, cut := sseStream(t, "http://"+srv1.HTTPAddr()+"/sse?topic=t&since=2", "")
	_, id := sseSeqs(t, ch, map[string]uint64{"t": 3}) // the SSE id of #3
	cut()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	srv2, _ := startWeb(t, webfront.Config{}, withStore)
	_, after := getHistory(t, srv2, "t")
	if before.Epoch == "" || after.Epoch != before.Epoch || after.Seq != 5 || len(after.Messages) != 5 {
		t.Fatalf("before the restart %+v, after %+v: want the same epoch and the 5 messages", before, after)
	}
	publishN(t, srv2.TCPAddr(), "t", 2) // #6 and #7, numbered on
	c := linetest.Dial(t, srv2.TCPAddr())
	c.Send("/ids on", "/sub t since=3@"+before.Epoch)
	c.Expect("* ids on")
	c.ExpectLine("* subscribed t")
	checkRun(t, "resumed across the restart", lineSeqs(t, c, "t", 7), 4, 7)
	ch2, cut2 := sseStream(t, "http://"+srv2.HTTPAddr()+"/sse?topic=t", id)
	defer cut2()
	seqs, _ := sseSeqs(t, ch2, map[string]uint64{"t": 7})
	checkRun(t, "SSE back with an id from before the restart", seqs["t"], 4, 7)
	if _, a := getHistory(t, srv2, "t?since=3@"+before.Epoch); len(a.Gaps) != 0 || len(a.Messages) != 4 || a.Messages[0].Text != "4" || a.Messages[3].Text != "2" {
		t.Fatalf("GET /history after the restart: %+v", a)
	}
}

// TestStoreRefusals: --store needs history to keep and a single node.
func TestStoreRefusals(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mod  func(*server.Config)
		want string
	}{
		{"no history", func(c *server.Config) { c.StoreDir = t.TempDir() }, "--store needs history"},
		{"cluster", func(c *server.Config) {
			c.History.Keep, c.StoreDir, c.Cluster.URLs = 10, t.TempDir(), []string{"nats://127.0.0.1:1"}
		}, "--store with --cluster needs --nats-embed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}
			tt.mod(&cfg)
			srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("server.New accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}
