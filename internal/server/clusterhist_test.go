package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// startHistoryCluster runs a NATS with JetStream and two nodes keeping
// keep messages per topic in the cluster history, each with a web door.
func startHistoryCluster(t *testing.T, keep int) (n1, n2 *node) {
	t.Helper()
	ns, err := natsembed.StartJetStream("", t.TempDir())
	if err != nil {
		t.Fatalf("start NATS with JetStream: %v", err)
	}
	t.Cleanup(ns.Shutdown) // after the nodes' cleanups
	with := func(c *server.Config) {
		c.History = history.Config{Keep: keep}
		c.Cluster.History = true
		c.Web.Addr = "127.0.0.1:0"
	}
	n1 = startNode(t, ns.ClientURL(), "n1", with)
	n2 = startNode(t, ns.ClientURL(), "n2", with)
	waitPeers(t, []*node{n1, n2})
	return n1, n2
}

// lineMsg is a message line with its position.
type lineMsg struct {
	seq  uint64
	text string
}

// lineMsgs reads n id lines on topic from c (info lines aside).
func lineMsgs(t *testing.T, c *linetest.Client, topic string, n int) []lineMsg {
	t.Helper()
	var out []lineMsg
	for len(out) < n {
		l := c.Next()
		sl, err := line.ParseServerLine([]byte(l))
		switch {
		case err == nil && sl.Kind == line.KindMessage && sl.HasSeq && string(sl.Topic) == topic:
			out = append(out, lineMsg{seq: sl.Seq, text: string(sl.Text)})
		case strings.HasPrefix(l, "* "):
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	return out
}

// TestClusterHistoryResumeOnOtherNode: messages published on n1 are
// numbered once for the cluster; a client on n2, where nobody was
// subscribed, resumes from a position n1's subscriber saw and gets
// exactly the missed ones, with the same numbers, by /sub since=, by
// /history, over WebSocket and from GET /history.
func TestClusterHistoryResumeOnOtherNode(t *testing.T) {
	t.Parallel()
	n1, n2 := startHistoryCluster(t, 100)
	a := linetest.Dial(t, n1.addr)
	a.Send("/ids on", "/sub feed")
	a.Expect("* ids on")
	a.ExpectLine("* subscribed feed")
	publishN(t, n1.addr, "feed", 30)
	seen := lineMsgs(t, a, "feed", 30)
	for i, m := range seen {
		if m.seq != uint64(i+1) || m.text != strconv.Itoa(i+1) {
			t.Fatalf("on n1, message %d is #%d %q", i, m.seq, m.text)
		}
	}

	b := linetest.Dial(t, n2.addr)
	b.Send("/ids on", "/sub feed since=10")
	b.Expect("* ids on")
	b.ExpectLine("* subscribed feed")
	got := lineMsgs(t, b, "feed", 20)
	if !slices.Equal(got, seen[10:]) {
		t.Fatalf("resumed on n2: %v, want %v", got, seen[10:])
	}
	b.Send("/history feed 2")
	b.ExpectLine("[feed#29] guest-n1-2: 29")
	b.ExpectLine("[feed#30] guest-n1-2: 30")
	b.ExpectLine("* end of history feed")

	w := wsDial(t, n2.Server)
	wsSend(t, w, map[string]string{"op": "sub", "topic": "feed", "since": "25"})
	checkRun(t, "WebSocket on n2", wsSeqs(t, w, "feed", 30), 26, 30)

	_, h1 := getHistory(t, n1.Server, "feed")
	_, h2 := getHistory(t, n2.Server, "feed?since=27")
	if h2.Seq != 30 || h2.Epoch == "" || h2.Epoch != h1.Epoch || len(h2.Messages) != 3 || h2.Messages[0].Seq != 28 || h2.Messages[0].Text != "28" {
		t.Fatalf("GET /history on n2: %+v; on n1 the epoch is %q", h2, h1.Epoch)
	}
	c := linetest.Dial(t, n2.addr)
	c.Send("/sub feed since=10@" + h1.Epoch)
	c.ExpectLine("* subscribed feed")
	c.ExpectLine("[feed] guest-n1-2: 11")
}

// TestClusterHistoryOneNumbering: messages published on both nodes to
// one topic, in turn and then concurrently, get 1 … N with no hole and
// no repeat, and every subscriber on either node sees the same number
// for each message.
func TestClusterHistoryOneNumbering(t *testing.T) {
	t.Parallel()
	n1, n2 := startHistoryCluster(t, 1000)
	var subs []*linetest.Client
	for _, n := range []*node{n1, n2} {
		s := linetest.Dial(t, n.addr)
		s.Send("/ids on", "/sub alt")
		s.Expect("* ids on")
		s.ExpectLine("* subscribed alt")
		subs = append(subs, s)
	}
	pubs := []*linetest.Client{linetest.Dial(t, n1.addr), linetest.Dial(t, n2.addr)}
	const turns, each = 20, 40
	for i := 1; i <= turns; i++ {
		p := pubs[i%2]
		p.Send(fmt.Sprintf("/pub alt t%d", i))
		p.Ping() // handled, so numbered, before the other node's next
	}
	var wg sync.WaitGroup
	for k, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				_, _ = fmt.Fprintf(p.Conn, "/pub alt c%d-%d\n", k, i)
			}
		}()
	}
	wg.Wait()
	const total = turns + 2*each
	var numbering []map[uint64]string
	for i, s := range subs {
		byseq := map[uint64]string{}
		for _, m := range lineMsgs(t, s, "alt", total) {
			if prev, dup := byseq[m.seq]; dup {
				t.Fatalf("subscriber %d: #%d twice (%q, %q)", i, m.seq, prev, m.text)
			}
			byseq[m.seq] = m.text
		}
		for seq := uint64(1); seq <= total; seq++ {
			if _, ok := byseq[seq]; !ok {
				t.Fatalf("subscriber %d: no #%d among %d messages", i, seq, len(byseq))
			}
		}
		for seq := uint64(1); seq <= turns; seq++ {
			if want := fmt.Sprintf("t%d", seq); byseq[seq] != want {
				t.Fatalf("subscriber %d: #%d is %q, want %q", i, seq, byseq[seq], want)
			}
		}
		numbering = append(numbering, byseq)
	}
	for seq, text := range numbering[0] {
		if numbering[1][seq] != text {
			t.Fatalf("#%d is %q on n1 and %q on n2", seq, text, numbering[1][seq])
		}
	}
	for _, n := range []*node{n1, n2} {
		st, err := n.ClusterStatus()
		if err != nil || st.History == nil || st.History.Unnumbered != 0 || !st.History.Connected || st.History.Stream != "SBCLUSTER_switchboard_test" {
			t.Fatalf("%s: history status %+v (%v)", n.name, st.History, err)
		}
		t.Logf("%s: %d conflicts", n.name, st.History.Conflicts)
	}
}

// TestClusterHistorySeam: a client cut mid-stream on n1 comes back on
// n2 with since= while the publisher goes on: every message exactly
// once, in order.
func TestClusterHistorySeam(t *testing.T) {
	t.Parallel()
	n1, n2 := startHistoryCluster(t, 1000)
	a := linetest.Dial(t, n1.addr)
	a.Send("/ids on", "/sub feed")
	a.Expect("* ids on")
	a.ExpectLine("* subscribed feed")
	done := pacedPublisher(t, n1.addr, resumeN, "feed")
	checkRun(t, "on n1 before the cut", lineSeqs(t, a, "feed", 40), 1, 40)
	_ = a.Conn.Close() // the client dies mid-stream

	b := linetest.Dial(t, n2.addr)
	b.Send("/ids on", "/sub feed since=40")
	rest := lineSeqs(t, b, "feed", resumeN)
	<-done
	checkRun(t, "on n2 after resuming", rest, 41, resumeN)
}

// TestClusterHistoryGapAndSSE: on the other node, a position older than
// what is kept gets the missed-N marker, and an SSE id taken on one node
// resumes on the other (the journal is the stream's sequence).
func TestClusterHistoryGapAndSSE(t *testing.T) {
	t.Parallel()
	n1, n2 := startHistoryCluster(t, 10)
	publishN(t, n1.addr, "t", 30)
	c := linetest.Dial(t, n2.addr)
	c.Send("/ids on", "/sub t since=5")
	c.Expect("* ids on")
	c.ExpectLine("* subscribed t")
	c.ExpectLine("! missed 15 messages on t")
	checkRun(t, "kept", lineSeqs(t, c, "t", 30), 21, 30)

	ch, cut := sseStream(t, "http://"+n1.HTTPAddr()+"/sse?topic=t&since=22", "")
	_, id := sseSeqs(t, ch, map[string]uint64{"t": 25}) // the SSE id of #25
	cut()
	publishN(t, n2.addr, "t", 2) // #31 and #32, from n2
	ch2, cut2 := sseStream(t, "http://"+n2.HTTPAddr()+"/sse?topic=t", id)
	defer cut2()
	seqs, _ := sseSeqs(t, ch2, map[string]uint64{"t": 32})
	checkRun(t, "SSE on n2 from n1's id", seqs["t"], 26, 32)
}

// TestClusterHistorySSEWildcard: an SSE stream on a wildcard, cut
// mid-stream on n1, comes back on n2 with Last-Event-ID and gets every
// message of every topic exactly once.
func TestClusterHistorySSEWildcard(t *testing.T) {
	t.Parallel()
	n1, n2 := startHistoryCluster(t, 1000)
	ch, cut := sseStream(t, "http://"+n1.HTTPAddr()+"/sse?topic=feed.*", "")
	done := pacedPublisher(t, n1.addr, resumeN, "feed.a", "feed.b")
	first, id := sseSeqs(t, ch, map[string]uint64{"feed.a": 20, "feed.b": 20})
	cut()
	a, b := first["feed.a"], first["feed.b"]
	checkRun(t, "feed.a before the cut", a, 1, a[len(a)-1])
	checkRun(t, "feed.b before the cut", b, 1, b[len(b)-1])

	ch2, cut2 := sseStream(t, "http://"+n2.HTTPAddr()+"/sse?topic=feed.*", id)
	defer cut2()
	rest, _ := sseSeqs(t, ch2, map[string]uint64{"feed.a": resumeN / 2, "feed.b": resumeN / 2})
	<-done
	checkRun(t, "feed.a on n2", rest["feed.a"], a[len(a)-1]+1, resumeN/2)
	checkRun(t, "feed.b on n2", rest["feed.b"], b[len(b)-1]+1, resumeN/2)
}

// TestClusterHistoryNATSDown: while JetStream is unreachable a message
// is still delivered live, without a position, and counted; once NATS is
// back (its store intact) the numbering goes on in the same epoch.
func TestClusterHistoryNATSDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns, err := natsembed.StartJetStream("", dir)
	if err != nil {
		t.Fatalf("start NATS with JetStream: %v", err)
	}
	addr := ns.Addr()
	n1 := startNode(t, ns.ClientURL(), "n1", func(c *server.Config) {
		c.History, c.Cluster.History = history.Config{Keep: 10}, true
	})
	c := linetest.Dial(t, n1.addr)
	c.Send("/ids on", "/sub t")
	c.Expect("* ids on")
	c.ExpectLine("* subscribed t")
	p := linetest.Dial(t, n1.addr)
	p.Send("/pub t one")
	c.ExpectLine("[t#1] guest-n1-2: one")
	history := func() *natsbp.HistoryStatus {
		st, err := n1.ClusterStatus()
		if err != nil || st.History == nil {
			t.Fatalf("status: %+v %v", st, err)
		}
		return st.History
	}

	ns.Shutdown()
	testkit.Eventually(t, "the history to see NATS gone", func() bool { return !history().Connected })
	p.Send("/pub t during")
	c.ExpectLine("[t] guest-n1-2: during")
	if h := history(); h.Unnumbered != 1 {
		t.Fatalf("unnumbered %d, want 1", h.Unnumbered)
	}
	if h, ok := n1.Metrics().Cluster(); !ok || !h.History || h.HistoryUnnumbered != 1 {
		t.Fatalf("metrics: %+v", h)
	}

	ns2, err := natsembed.StartJetStream(addr, dir)
	if err != nil {
		t.Fatalf("restart NATS: %v", err)
	}
	t.Cleanup(ns2.Shutdown) // after the node's
	testkit.Eventually(t, "the history to reconnect", func() bool { return history().Connected })
	p.Send("/pub t two")
	c.ExpectLine("[t#2] guest-n1-2: two")
	c.Send("/history t")
	c.ExpectLine("[t#1] guest-n1-2: one")
	c.ExpectLine("[t#2] guest-n1-2: two")
	c.ExpectLine("* end of history t")
}

// TestClusterHistoryRefusals: --cluster-history needs a cluster, history
// to keep and JetStream; --store with --cluster needs them too.
func TestClusterHistoryRefusals(t *testing.T) {
	t.Parallel()
	plain := startNATS(t, "")
	t.Cleanup(plain.Shutdown)
	for _, tt := range []struct {
		name string
		mod  func(*server.Config)
		want string
	}{
		{"single node", func(c *server.Config) { c.History.Keep, c.Cluster.History = 10, true }, "--cluster-history needs --cluster"},
		{"no history", func(c *server.Config) {
			c.Cluster.URLs, c.Cluster.History = []string{plain.ClientURL()}, true
		}, "--cluster-history needs history"},
		{"no JetStream", func(c *server.Config) {
			c.History.Keep, c.Cluster.URLs, c.Cluster.History = 10, []string{plain.ClientURL()}, true
		}, "no JetStream"},
		{"NATS unreachable, optional", func(c *server.Config) {
			c.History.Keep, c.Cluster.URLs, c.Cluster.History, c.Cluster.Optional = 10, []string{"nats://127.0.0.1:1"}, true, true
		}, "needs NATS at start"},
		{"store without cluster history", func(c *server.Config) {
			c.History.Keep, c.StoreDir, c.Cluster.URLs = 10, t.TempDir(), []string{plain.ClientURL()}
		}, "--store with --cluster needs --nats-embed and --cluster-history"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}
			cfg.Cluster.Config = natsbp.Config{ClusterName: "refuse", NodeName: "r"}
			tt.mod(&cfg)
			srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
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

// TestClusterHistoryEmbedded: --nats-embed with --cluster-history and
// --store runs JetStream in the embedded NATS, storing in DIR; a second
// node pointed at it shares the history.
func TestClusterHistoryEmbedded(t *testing.T) {
	t.Parallel()
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, History: history.Config{Keep: 10}, StoreDir: t.TempDir()}
	cfg.Cluster = server.ClusterConfig{EmbedAddr: "127.0.0.1:0", History: true,
		Config: natsbp.Config{ClusterName: "emb", NodeName: "e1"}}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n1 := &node{Server: srv, name: "e1", addr: srv.TCPAddr(), cancel: cancel, served: make(chan error, 1)}
	go func() { n1.served <- srv.Serve(ctx) }()
	st, err := srv.ClusterStatus()
	if err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, st.URL, "e2", func(c *server.Config) {
		c.History, c.Cluster.History, c.Cluster.ClusterName = history.Config{Keep: 10}, true, "emb"
	})
	t.Cleanup(func() { n1.stop(t) }) // after n2's
	publishN(t, n1.addr, "t", 3)
	c := linetest.Dial(t, n2.addr)
	c.Send("/history t")
	c.ExpectLine("[t] guest-e1-1: 1")
	c.ExpectLine("[t] guest-e1-1: 2")
	c.ExpectLine("[t] guest-e1-1: 3")
	c.ExpectLine("* end of history t")
}

// TestClusterHistoryEmbeddedTemporary: --nats-embed with
// --cluster-history and no --store runs JetStream in a temporary
// directory, removed at shutdown.
func TestClusterHistoryEmbeddedTemporary(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // not parallel: the process's environment
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, History: history.Config{Keep: 10}}
	cfg.Cluster = server.ClusterConfig{EmbedAddr: "127.0.0.1:0", History: true,
		Config: natsbp.Config{ClusterName: "tmp", NodeName: "e1"}}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{Server: srv, name: "e1", addr: srv.TCPAddr(), cancel: cancel, served: make(chan error, 1)}
	go func() { n.served <- srv.Serve(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	publishN(t, n.addr, "t", 2)
	c := linetest.Dial(t, n.addr)
	c.Send("/history t")
	c.ExpectLine("[t] guest-e1-1: 1")
	c.ExpectLine("[t] guest-e1-1: 2")
	c.ExpectLine("* end of history t")
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "switchboard-jetstream-*")); len(dirs) != 1 {
		t.Fatalf("JetStream's temporary store: %v", dirs)
	}
	_ = c.Conn.Close()
	n.stop(t)
	if dirs, _ := filepath.Glob(filepath.Join(tmp, "switchboard-jetstream-*")); len(dirs) != 0 {
		t.Fatalf("left after shutdown: %v", dirs)
	}
}
