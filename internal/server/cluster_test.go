package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// TestMain checks for leaked goroutines. nats.go ends a closed
// connection's reader, flusher and callback goroutines asynchronously and
// nats-server its client goroutines after Shutdown returns; goleak's
// default retries (up to about a second) cover both, so no ignore options
// are needed. Started as a child node (see startChildNode), the test
// binary runs one node instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv(childNodeEnv) != "" {
		os.Exit(runChildNode())
	}
	goleak.VerifyTestMain(m)
}

// timeout bounds every wait; it only catches hangs and is never a
// measurement.
const timeout = 20 * time.Second

// node is one switchboard node of a test cluster.
type node struct {
	*server.Server
	name   string
	addr   string
	cancel context.CancelFunc
	served chan error
	once   sync.Once
}

// stop shuts the node down gracefully (idempotent).
func (n *node) stop(t testing.TB) {
	n.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("%s: Shutdown: %v", n.name, err)
		}
		n.cancel()
		select {
		case err := <-n.served:
			if err != nil {
				t.Errorf("%s: Serve: %v", n.name, err)
			}
		case <-time.After(timeout):
			t.Errorf("%s: Serve did not return", n.name)
		}
	})
}

// startNATS runs an embedded NATS server on addr ("" for a free port).
func startNATS(t testing.TB, addr string) *natsembed.Server {
	t.Helper()
	ns, err := natsembed.Start(addr)
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	return ns
}

// startNode starts one node of the cluster on url; opts adjust its
// configuration.
func startNode(t testing.TB, url, name string, opts ...func(*server.Config)) *node {
	t.Helper()
	cfg := server.Config{
		TCP: tcpfront.Config{Addr: "127.0.0.1:0"},
		Cluster: server.ClusterConfig{Config: natsbp.Config{
			URLs: []string{url}, ClusterName: "test", NodeName: name,
			Heartbeat: 100 * time.Millisecond, PeerTimeout: 600 * time.Millisecond,
			MaxBackoff: 200 * time.Millisecond,
		}},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("%s: server.New: %v", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{Server: srv, name: name, addr: srv.TCPAddr(), cancel: cancel, served: make(chan error, 1)}
	go func() { n.served <- srv.Serve(ctx) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// startCluster runs NATS and k nodes n1…nk that see each other; opts
// adjust every node's configuration.
func startCluster(t testing.TB, k int, opts ...func(*server.Config)) (*natsembed.Server, []*node) {
	t.Helper()
	ns := startNATS(t, "")
	t.Cleanup(ns.Shutdown) // runs after the nodes' cleanups
	var nodes []*node
	for i := 1; i <= k; i++ {
		nodes = append(nodes, startNode(t, ns.ClientURL(), fmt.Sprintf("n%d", i), opts...))
	}
	waitPeers(t, nodes)
	return ns, nodes
}

// waitPeers waits until every node hears from all the others.
func waitPeers(t testing.TB, nodes []*node) {
	t.Helper()
	testkit.Eventually(t, "nodes to see each other", func() bool {
		for _, n := range nodes {
			st, err := n.ClusterStatus()
			if err != nil || !st.Connected || len(st.Peers) != len(nodes)-1 {
				return false
			}
			for _, p := range st.Peers {
				if !p.Synced {
					return false
				}
			}
		}
		return true
	})
}

// client is the shared line-protocol test client, with a few cluster
// helpers.
type client struct{ *linetest.Client }

func dial(t testing.TB, n *node) *client { return &client{linetest.Dial(t, n.addr)} }

func dialNick(t testing.TB, n *node, nick string) *client {
	return &client{linetest.DialNick(t, n.addr, nick)}
}

// messages returns the lines before a ping barrier that are messages
// ("[topic] nick: text" or "(private) ..."), dropping notices.
func (c *client) messages() []string {
	c.T.Helper()
	var out []string
	for _, l := range c.Ping() {
		if !strings.HasPrefix(l, "* ") {
			out = append(out, l)
		}
	}
	return out
}

// waitMessages collects message lines until want have arrived.
func (c *client) waitMessages(want int) []string {
	c.T.Helper()
	var got []string
	testkit.Eventually(c.T, fmt.Sprintf("%s to receive %d messages", c.Nick, want), func() bool {
		got = append(got, c.messages()...)
		return len(got) >= want
	})
	return got
}

// ask sends a command and returns its one-line answer, skipping notices
// that are room events.
func (c *client) ask(cmd, prefix string) string {
	c.T.Helper()
	c.Send(cmd)
	for i := 0; i < 1000; i++ {
		l := c.Next()
		if strings.HasPrefix(l, prefix) {
			return l
		}
		if !strings.Contains(l, " joined ") && !strings.Contains(l, " left ") && !strings.Contains(l, " is now known as ") {
			c.T.Fatalf("%s: %s: got %q, want %q…", c.Nick, cmd, l, prefix)
		}
	}
	return ""
}

func (c *client) who(room string) string { return c.ask("/who "+room, "* "+room+":") }

func TestClusterChatAcrossNodes(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3)
	alice := dialNick(t, ns[0], "alice")
	bob := dialNick(t, ns[1], "bob")
	carol := dialNick(t, ns[2], "carol")
	for _, c := range []*client{alice, bob, carol} {
		c.ask("/join lobby", "* joined lobby")
	}
	const n = 100
	for i := 0; i < n; i++ {
		alice.Send(fmt.Sprintf("hello %d", i))
	}
	for _, c := range []*client{bob, carol} {
		got := c.waitMessages(n)
		if len(got) != n {
			t.Fatalf("%s got %d messages, want %d: %q", c.Nick, len(got), n, got)
		}
		for i, l := range got {
			if want := fmt.Sprintf("[lobby] alice: hello %d", i); l != want {
				t.Fatalf("%s: message %d is %q, want %q (order, duplicates)", c.Nick, i, l, want)
			}
		}
	}
	if got := alice.messages(); len(got) != 0 {
		t.Fatalf("alice received her own messages back: %q", got)
	}
	// A message from each node reaches the two others exactly once.
	bob.Send("from bob")
	carol.Send("from carol")
	if got := alice.waitMessages(2); len(got) != 2 || !slices.Contains(got, "[lobby] bob: from bob") || !slices.Contains(got, "[lobby] carol: from carol") {
		t.Fatalf("alice got %q", got)
	}
	if got := bob.waitMessages(1); len(got) != 1 || got[0] != "[lobby] carol: from carol" {
		t.Fatalf("bob got %q", got)
	}
	if got := carol.waitMessages(1); len(got) != 1 || got[0] != "[lobby] bob: from bob" {
		t.Fatalf("carol got %q", got)
	}
	// Private messages cross nodes, once alice's node has heard of
	// carol's nick (presence travels apart from room messages).
	testkit.Eventually(t, "alice's node to know carol", func() bool {
		alice.Send("/msg carol psst")
		return alice.Next() == "* sent to carol"
	})
	if got := carol.waitMessages(1); got[0] != "(private) alice: psst" {
		t.Fatalf("carol got %q", got)
	}
	alice.ask("/msg nobody-here hi", "! no such nick")
}

func TestClusterWildcardsAndQueueGroups(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3)
	pub := dial(t, ns[0])
	sportAll := dial(t, ns[1])
	sportOne := dial(t, ns[2])
	local := dial(t, ns[0])
	sportAll.ask("/sub news.>", "* subscribed news.>")
	sportOne.ask("/sub news.*", "* subscribed news.*")
	local.ask("/sub news.*", "* subscribed news.*")
	// The subscribed replies are promises: publish at once.
	pub.Send("/pub news.sport goal", "/pub news.sport.live kickoff", "/pub weather.today rain")
	if got := sportAll.waitMessages(2); len(got) != 2 || got[0] != "[news.sport] "+pub.Nick+": goal" || got[1] != "[news.sport.live] "+pub.Nick+": kickoff" {
		t.Fatalf("news.> got %q", got)
	}
	for _, c := range []*client{sportOne, local} {
		if got := c.waitMessages(1); len(got) != 1 || got[0] != "[news.sport] "+pub.Nick+": goal" {
			t.Fatalf("news.* got %q", got)
		}
	}

	// Queue groups: one member per message across the whole cluster.
	var workers []*client
	for _, n := range ns {
		for i := 0; i < 2; i++ {
			w := dial(t, n)
			w.ask("/sub jobs.* builders", "* subscribed jobs.* (group builders)")
			workers = append(workers, w)
		}
	}
	watcher := dial(t, ns[1])
	watcher.ask("/sub jobs.>", "* subscribed jobs.>")
	const jobs = 120
	for i := 0; i < jobs; i++ {
		pub.Send(fmt.Sprintf("/pub jobs.build job-%d", i))
	}
	if got := watcher.waitMessages(jobs); len(got) != jobs {
		t.Fatalf("plain subscriber beside the group got %d, want %d", len(got), jobs)
	}
	seen := make(map[string]int)
	nodesServed := make(map[int]bool)
	testkit.Eventually(t, "every job to reach one builder", func() bool {
		for i, w := range workers {
			for _, l := range w.messages() {
				seen[l]++
				nodesServed[i/2] = true
			}
		}
		return len(seen) == jobs
	})
	for i, w := range workers {
		for _, l := range w.messages() {
			seen[l]++
			nodesServed[i/2] = true
		}
	}
	for l, k := range seen {
		if k != 1 {
			t.Errorf("%q delivered %d times to the group, want once", l, k)
		}
	}
	if len(nodesServed) != 3 {
		t.Errorf("only nodes %v served the group; NATS should spread it over all three", nodesServed)
	}
}

func TestClusterPresence(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3)
	a := dial(t, ns[0])
	b := dial(t, ns[1])
	if a.Nick == b.Nick || !strings.HasPrefix(a.Nick, "guest-n1-") || !strings.HasPrefix(b.Nick, "guest-n2-") {
		t.Fatalf("guest nicks %q and %q should be distinct and carry their node", a.Nick, b.Nick)
	}
	// A nick is unique across nodes; another node's guest nick is taken.
	a.ask("/nick alice", "* you are now alice")
	a.Nick = "alice"
	b.ask("/nick Alice", "! nick Alice is taken")
	b.ask("/nick "+strings.ToUpper(dial(t, ns[2]).Nick), "! nick")
	b.ask("/nick bob", "* you are now bob")
	b.Nick = "bob"

	// Two nodes claiming the same nick at once: exactly one wins.
	for round := 0; round < 5; round++ {
		x, y := dial(t, ns[1]), dial(t, ns[2])
		nick := fmt.Sprintf("race%d", round)
		x.Send("/nick " + nick)
		y.Send("/nick " + nick)
		rx, ry := x.Next(), y.Next()
		if strings.HasPrefix(rx, "* you are now") == strings.HasPrefix(ry, "* you are now") {
			t.Fatalf("round %d: both or neither got %s: %q, %q", round, nick, rx, ry)
		}
	}

	// Rooms and who cover every node.
	c := dialNick(t, ns[2], "carol")
	a.ask("/join lobby", "* joined lobby (1 here)")
	b.ask("/join lobby", "* joined lobby")
	c.ask("/join lobby", "* joined lobby")
	c.ask("/join kitchen", "* joined kitchen")
	for _, x := range []*client{a, b, c} {
		testkit.Eventually(t, x.Nick+" to see everyone in lobby", func() bool {
			return x.who("lobby") == "* lobby: alice, bob, carol (3)"
		})
		testkit.Eventually(t, x.Nick+" to see the rooms", func() bool {
			return x.ask("/rooms", "* ") == "* 2 rooms: kitchen (1), lobby (3)"
		})
	}
	// A nick change is visible elsewhere and announced to room peers there.
	c.ask("/nick caroline", "* you are now caroline")
	testkit.Eventually(t, "the rename to reach alice", func() bool {
		return a.who("lobby") == "* lobby: alice, bob, caroline (3)"
	})
	// A node that leaves takes its members with it, on every other node.
	ns[2].stop(t)
	testkit.Eventually(t, "caroline to be gone from lobby on n1", func() bool {
		return a.who("lobby") == "* lobby: alice, bob (2)"
	})
	testkit.Eventually(t, "kitchen to be gone on n2", func() bool {
		return b.ask("/rooms", "* ") == "* 1 room: lobby (2)"
	})
}

func TestClusterNATSRestart(t *testing.T) {
	t.Parallel()
	nats, ns := startCluster(t, 3)
	addr := nats.Addr()
	pub := dial(t, ns[0])
	localSub := dial(t, ns[0])
	remote := []*client{dial(t, ns[1]), dial(t, ns[2])}
	for _, c := range append([]*client{localSub}, remote...) {
		c.ask("/sub chat.>", "* subscribed chat.>")
	}
	for i := 0; i < 10; i++ {
		pub.Send(fmt.Sprintf("/pub chat.x before-%d", i))
	}
	for _, c := range append([]*client{localSub}, remote...) {
		if got := c.waitMessages(10); len(got) != 10 {
			t.Fatalf("%s got %q before the outage", c.Nick, got)
		}
	}

	nats.Shutdown()
	testkit.Eventually(t, "nodes to notice the outage", func() bool {
		for _, n := range ns {
			st, _ := n.ClusterStatus()
			if st.Connected || st.Warning == "" {
				return false
			}
		}
		return true
	})
	// Local delivery goes on; subscribing still works (locally).
	late := dial(t, ns[0])
	late.ask("/sub chat.>", "* subscribed chat.>")
	pub.Send("/pub chat.x during")
	for _, c := range []*client{localSub, late} {
		if got := c.waitMessages(1); len(got) != 1 || got[0] != "[chat.x] "+pub.Nick+": during" {
			t.Fatalf("%s got %q during the outage", c.Nick, got)
		}
	}

	nats = startNATS(t, addr)
	t.Cleanup(nats.Shutdown)
	waitPeers(t, ns)
	// Interests come back with the connection; probe until they work.
	probe := 0
	testkit.Eventually(t, "cross-node delivery after reconnecting", func() bool {
		probe++
		pub.Send(fmt.Sprintf("/pub chat.probe p%d", probe))
		ok := true
		for _, c := range remote {
			if len(c.messages()) == 0 {
				ok = false
			}
		}
		return ok
	})
	// Probes may still be on their way. A marker published after them
	// arrives after them (NATS keeps one publisher's order, and so does
	// each node), so once a client has the marker nothing older is left.
	pub.Send("/pub chat.x drained")
	marker := "[chat.x] " + pub.Nick + ": drained"
	for _, c := range append([]*client{localSub, late}, remote...) {
		testkit.Eventually(t, c.Nick+" to receive the marker after the probes", func() bool {
			return slices.Contains(c.messages(), marker)
		})
	}
	for i := 0; i < 20; i++ {
		pub.Send(fmt.Sprintf("/pub chat.x after-%d", i))
	}
	for _, c := range append([]*client{localSub, late}, remote...) {
		got := c.waitMessages(20)
		got = append(got, c.messages()...)
		if len(got) != 20 {
			t.Fatalf("%s got %d messages after reconnecting, want 20 exactly: %q", c.Nick, len(got), got)
		}
		for i, l := range got {
			if want := fmt.Sprintf("[chat.x] %s: after-%d", pub.Nick, i); l != want {
				t.Fatalf("%s: got %q, want %q", c.Nick, l, want)
			}
		}
	}
	// The late subscriber's interest, made during the outage, reached NATS.
	remote[0].Send("/pub chat.y hi-late")
	if got := late.waitMessages(1); got[0] != "[chat.y] "+remote[0].Nick+": hi-late" {
		t.Fatalf("late subscriber got %q", got)
	}
}

func TestClusterNodeShutdown(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3)
	a := dialNick(t, ns[0], "ann")
	b := dialNick(t, ns[1], "ben")
	c := dialNick(t, ns[2], "cid")
	for _, x := range []*client{a, b, c} {
		x.ask("/join ops", "* joined ops")
	}
	testkit.Eventually(t, "everyone in ops on n1", func() bool { return a.who("ops") == "* ops: ann, ben, cid (3)" })
	ns[2].stop(t)
	lines := []string{}
	for {
		l, err := c.ReadLine()
		if err != nil {
			break
		}
		lines = append(lines, l)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "* ") && strings.Contains(l, "shutting down") }) {
		t.Fatalf("client of the stopped node got %q, want a '* … shutting down' line", lines)
	}
	for i := 0; i < 10; i++ {
		a.Send(fmt.Sprintf("still here %d", i))
	}
	if got := b.waitMessages(10); len(got) != 10 || got[9] != "[ops] ann: still here 9" {
		t.Fatalf("ben got %q", got)
	}
	testkit.Eventually(t, "cid to leave ops on n2", func() bool { return b.who("ops") == "* ops: ann, ben (2)" })
}

// wsFrame is one JSON frame from the web door.
type wsFrame map[string]any

func (f wsFrame) s(k string) string { v, _ := f[k].(string); return v }

// wsExpect reads frames until one satisfies match.
func wsExpect(t *testing.T, c *websocket.Conn, what string, match func(wsFrame) bool) wsFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("ws: waiting for %s: %v", what, err)
		}
		var f wsFrame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("ws: bad frame %q: %v", b, err)
		}
		if f.s("op") == "error" {
			t.Fatalf("ws: waiting for %s: error frame %v", what, f)
		}
		if match(f) {
			return f
		}
	}
}

func wsSend(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

func TestClusterWebSocketAcrossNodes(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3, func(c *server.Config) { c.Web.Addr = "127.0.0.1:0" })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+ns[0].HTTPAddr()+"/ws", nil)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	defer ws.CloseNow()
	wsExpect(t, ws, "welcome", func(f wsFrame) bool { return f.s("op") == "info" })
	wsSend(t, ws, map[string]string{"op": "sub", "topic": "web.>"})
	wsExpect(t, ws, "the subscribed reply", func(f wsFrame) bool { return strings.Contains(f.s("text"), "subscribed web.>") })

	tcpPub := dial(t, ns[1])
	tcpSub := dial(t, ns[2])
	tcpSub.ask("/sub tcp.*", "* subscribed tcp.*")
	// TCP on n2 → WebSocket on n1, straight after the promise.
	tcpPub.Send("/pub web.news hello-ws")
	f := wsExpect(t, ws, "the message from n2", func(f wsFrame) bool { return f.s("op") == "msg" })
	if f.s("topic") != "web.news" || f.s("text") != "hello-ws" || f.s("from") != tcpPub.Nick {
		t.Fatalf("ws got %v", f)
	}
	// WebSocket on n1 → TCP on n3.
	wsSend(t, ws, map[string]string{"op": "pub", "topic": "tcp.x", "text": "hello-tcp"})
	if got := tcpSub.waitMessages(1); len(got) != 1 || !strings.HasPrefix(got[0], "[tcp.x] ") || !strings.HasSuffix(got[0], ": hello-tcp") {
		t.Fatalf("tcp got %q", got)
	}
	// /api/stats carries the cluster section.
	resp, err := http.Get("http://" + ns[0].HTTPAddr() + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Cluster struct {
			Node      string            `json:"node"`
			Connected bool              `json:"connected"`
			Peers     []json.RawMessage `json:"peers"`
		} `json:"cluster"`
	}
	err = json.NewDecoder(resp.Body).Decode(&stats)
	_ = resp.Body.Close()
	if err != nil || stats.Cluster.Node != "n1" || !stats.Cluster.Connected || len(stats.Cluster.Peers) != 2 {
		t.Fatalf("/api/stats cluster section %+v, %v", stats.Cluster, err)
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

// A group member that publishes to its own group: its node, where it is
// the only member, hands what NATS gives it back to NATS, so every job
// reaches one of the other members, none is lost, and both share them.
func TestClusterQueueGroupMemberPublishes(t *testing.T) {
	t.Parallel()
	_, ns := startCluster(t, 3)
	pub, w2, w3 := dial(t, ns[0]), dial(t, ns[1]), dial(t, ns[2])
	for _, c := range []*client{pub, w2, w3} {
		c.ask("/sub jobs.* workers", "* subscribed jobs.* (group workers)")
	}
	const jobs = 120
	for i := 0; i < jobs; i++ {
		pub.Send(fmt.Sprintf("/pub jobs.x j%d", i))
	}
	seen := map[string]int{}
	var n2, n3 int
	testkit.Eventually(t, "every job to reach one worker", func() bool {
		a, b := w2.messages(), w3.messages()
		n2, n3 = n2+len(a), n3+len(b)
		for _, l := range append(a, b...) {
			seen[l]++
		}
		return len(seen) == jobs
	})
	for l, k := range seen {
		if k != 1 {
			t.Errorf("%q delivered %d times", l, k)
		}
	}
	if got := pub.messages(); len(got) != 0 {
		t.Errorf("the publisher got its own jobs: %q", got)
	}
	t.Logf("split %d/%d", n2, n3)
	if n2 < jobs/5 || n3 < jobs/5 {
		t.Errorf("split %d/%d between the other two members; NATS should spread them", n2, n3)
	}
}
