package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/faultproxy"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// Fault injection: the nodes reach NATS through faultproxy, which can
// stall (stop forwarding, keep the connections), resume and drop. Each
// test is bounded by its stall length plus the detection and reconnect
// times; they run in parallel.

// startProxy runs a fault proxy in front of addr.
func startProxy(t testing.TB, addr string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func withHTTP(c *server.Config) { c.Web.Addr = "127.0.0.1:0" }

// state returns a node's backplane state.
func state(n *node) string {
	st, err := n.ClusterStatus()
	if err != nil {
		return err.Error()
	}
	return st.State
}

// httpGet fetches a URL with a short deadline: a node that waits on NATS
// to answer its status pages fails here.
func httpGet(t testing.TB, url string) string {
	t.Helper()
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

// publisher publishes "/pub topic m-<i>" on its own connection every
// period until stopped, and counts what it sent.
type publisher struct {
	conn net.Conn
	sent atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startPublisher(t testing.TB, n *node, topic string, period time.Duration, max int) *publisher {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{conn: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() { _, _ = io.Copy(io.Discard, c) }()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		pad := strings.Repeat("x", 3000)
		for i := 0; i < max; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			_ = c.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := fmt.Fprintf(c, "/pub %s m-%d %s\n", topic, i, pad); err != nil {
				return
			}
			p.sent.Add(1)
		}
	}()
	t.Cleanup(func() { p.halt(); _ = c.Close() })
	return p
}

// halt stops publishing and returns how many messages were sent.
func (p *publisher) halt() int {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	return int(p.sent.Load())
}

// seqs extracts the m-<i> numbers from message lines, in order.
func seqs(t testing.TB, lines []string) []int {
	t.Helper()
	var out []int
	for _, l := range lines {
		i := strings.Index(l, ": m-")
		if i < 0 {
			continue
		}
		f := strings.Fields(l[i+4:])
		n, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("bad message line %q", l)
		}
		out = append(out, n)
	}
	return out
}

// collector reads a client's lines on a goroutine until the test ends.
type collector struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time // when each line arrived
}

func collect(t testing.TB, c *client) *collector {
	col := &collector{}
	r := bufio.NewReader(c.Conn)
	go func() {
		for {
			_ = c.Conn.SetReadDeadline(time.Now().Add(time.Minute))
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			col.mu.Lock()
			col.lines = append(col.lines, strings.TrimSuffix(l, "\n"))
			col.at = append(col.at, time.Now())
			col.mu.Unlock()
		}
	}()
	return col
}

// maxGap returns the longest wait between two lines that arrived in
// [from, to].
func (c *collector) maxGap(from, to time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gap time.Duration
	prev := from
	for _, at := range c.at {
		if at.Before(from) || at.After(to) {
			continue
		}
		gap = max(gap, at.Sub(prev))
		prev = at
	}
	return max(gap, to.Sub(prev))
}

func (c *collector) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

func TestClusterNATSStall(t *testing.T) {
	t.Parallel()
	nats := startNATS(t, "")
	t.Cleanup(nats.Shutdown)
	px := startProxy(t, nats.Addr())
	n1 := startNode(t, px.URL(), "n1", withHTTP)
	n2 := startNode(t, px.URL(), "n2")
	waitPeers(t, []*node{n1, n2})
	web := "http://" + n1.HTTPAddr()

	localSub, remoteSub, pinger := dial(t, n1), dial(t, n2), dial(t, n1)
	localSub.ask("/sub chat.>", "* subscribed chat.>")
	remoteSub.ask("/sub chat.>", "* subscribed chat.>")
	local, remote := collect(t, localSub), collect(t, remoteSub)
	pub := startPublisher(t, n1, "chat.x", 2*time.Millisecond, 20000)
	testkit.Eventually(t, "messages to flow to n2", func() bool { return len(remote.get()) >= 20 })

	// Stall NATS with traffic flowing.
	px.Stall()
	stalledAt := time.Now()
	testkit.Eventually(t, "n1 to report the stall", func() bool { return state(n1) == "stalled" })
	detect := time.Since(stalledAt)
	t.Logf("stall detected after %v", detect.Round(time.Millisecond))
	if detect > 5*time.Second {
		t.Errorf("stall detected after %v, want ≤ 5s ((MaxPingsOut+1)×PingInterval = 3s)", detect)
	}
	if body := httpGet(t, web+"/readyz"); !strings.Contains(body, "cluster stalled") {
		t.Errorf("/readyz during the stall: %q, want the stalled state", body)
	}
	if body := httpGet(t, web+"/metrics"); !strings.Contains(body, `switchboard_cluster_state{state="stalled"} 1`) {
		t.Errorf("/metrics during the stall lacks switchboard_cluster_state{state=\"stalled\"} 1")
	}
	if body := httpGet(t, web+"/api/stats"); !strings.Contains(body, `"state":"stalled"`) {
		t.Errorf("/api/stats during the stall: no stalled state in %.300s", body)
	}

	// Local traffic goes on while NATS stays stalled: pings answer at
	// once, subscribing does not wait on NATS, local subscribers keep
	// receiving.
	atStall := len(local.get())
	var pings []time.Duration
	for time.Since(stalledAt) < 6*time.Second {
		t0 := time.Now()
		pinger.Ping()
		pings = append(pings, time.Since(t0))
		time.Sleep(10 * time.Millisecond)
	}
	slices.Sort(pings)
	p99, worst := pings[len(pings)*99/100], pings[len(pings)-1]
	t.Logf("local /ping during the stall: %d pings, p99 %v, max %v", len(pings), p99, worst)
	if worst > time.Second {
		t.Errorf("a local /ping took %v during the stall: local traffic waited on NATS", worst)
	}
	late := dial(t, n1)
	t0 := time.Now()
	late.ask("/sub late.>", "* subscribed late.>")
	if d := time.Since(t0); d > time.Second {
		t.Errorf("/sub took %v during the stall, want it not to wait on NATS", d)
	}
	if gap := local.maxGap(stalledAt, time.Now()); gap > time.Second {
		t.Errorf("local delivery paused for %v during the stall, want it to go on as usual", gap)
	}
	if got := len(local.get()); got < atStall+100 {
		t.Errorf("local subscriber got %d messages in 3+ s of stall (had %d at the stall), want local delivery to go on", got-atStall, atStall)
	}
	if st, _ := n1.ClusterStatus(); st.ForwardErrors == 0 {
		t.Errorf("no forward errors counted during the stall: %+v", st)
	}

	px.Resume()
	testkit.Eventually(t, "n1 to reconnect", func() bool { return state(n1) == "connected" && state(n2) == "connected" })
	waitPeers(t, []*node{n1, n2})
	sent := pub.halt()

	// Local delivery lost nothing; remote delivery has gaps (the outage)
	// but no duplicates and no disorder.
	testkit.Eventually(t, "every message to reach the local subscriber", func() bool { return len(seqs(t, local.get())) >= sent })
	if got := seqs(t, local.get()); len(got) != sent || got[0] != 0 || got[sent-1] != sent-1 || !slices.IsSorted(got) {
		t.Fatalf("local subscriber: %d messages (first %v), want 0…%d in order", len(got), got[:min(5, len(got))], sent-1)
	}
	rs := seqs(t, remote.get())
	for i := 1; i < len(rs); i++ {
		if rs[i] <= rs[i-1] {
			t.Fatalf("remote subscriber: m-%d after m-%d (duplicate or disorder)", rs[i], rs[i-1])
		}
	}
	// After the stall every message reaches n2 exactly once, and the
	// subscription made during the stall is cluster-wide.
	testkit.Eventually(t, "cross-node delivery after resuming", func() bool {
		pinger.Send("/pub late.x probe")
		return len(late.messages()) > 0
	})
	remoteSub.Send("/unsub chat.>")
	remoteSub2 := dial(t, n2)
	remoteSub2.ask("/sub chat.>", "* subscribed chat.>")
	for i := 0; i < 20; i++ {
		pinger.Send(fmt.Sprintf("/pub chat.y after-%d", i))
	}
	got := remoteSub2.waitMessages(20)
	got = append(got, remoteSub2.messages()...)
	if len(got) != 20 || got[0] != "[chat.y] "+pinger.Nick+": after-0" || got[19] != "[chat.y] "+pinger.Nick+": after-19" {
		t.Fatalf("after the stall n2 got %q, want after-0…19 once", got)
	}
	if st, _ := n1.ClusterStatus(); st.Stalls == 0 {
		t.Errorf("stall not counted: %+v", st)
	}
}

// A node that embeds NATS and shuts down leaves quietly: losing the
// connection it is closing itself is not a warning.
func TestClusterEmbeddedShutdownQuiet(t *testing.T) {
	t.Parallel()
	logs := &testkit.Logs{}
	srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, Cluster: server.ClusterConfig{
		EmbedAddr: "127.0.0.1:0", Config: natsbp.Config{ClusterName: "test", NodeName: "solo"}}}, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	c := &client{linetest.Dial(t, srv.TCPAddr())}
	c.ask("/sub a.>", "* subscribed a.>")
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if logs.Count("embedded NATS listening") != 1 {
		t.Fatal("no embedded NATS in the logs")
	}
	for _, w := range []string{"lost NATS connection", "NATS error", "NATS stalled"} {
		if n := logs.Count(w); n != 0 {
			t.Errorf("%d %q warnings while a node that embeds NATS shut down", n, w)
		}
	}
}

// waitNotice reads c's lines until one contains want (room events and
// other notices on the way are skipped) and returns it.
func (c *client) waitNotice(want string) string {
	c.T.Helper()
	for i := 0; i < 10000; i++ {
		if l := c.Next(); strings.Contains(l, want) {
			return l
		}
	}
	c.T.Fatalf("%s: no line containing %q", c.Nick, want)
	return ""
}

// A node killed with kill -9: every remaining member of its rooms is told
// who left, within PeerTimeout + Heartbeat; the node started again
// announces its members as they join.
func TestClusterNodeKilled(t *testing.T) {
	t.Parallel()
	nats := startNATS(t, "")
	t.Cleanup(nats.Shutdown)
	n1 := startNode(t, nats.ClientURL(), "n1")
	n2 := startNode(t, nats.ClientURL(), "n2")
	n3 := startChildNode(t, nats.ClientURL(), "n3")
	alice, bob := dialNick(t, n1, "alice"), dialNick(t, n2, "bob")
	carol := &client{linetest.DialNick(t, n3.addr, "carol")}
	for _, c := range []*client{alice, bob, carol} {
		c.ask("/join lobby", "* joined lobby")
	}
	for _, c := range []*client{alice, bob} {
		testkit.Eventually(t, c.Nick+" to see carol", func() bool { return c.who("lobby") == "* lobby: alice, bob, carol (3)" })
	}
	killed := time.Now()
	n3.kill()
	for _, c := range []*client{alice, bob} {
		l := c.waitNotice("carol left lobby")
		if l != "* carol left lobby (node n3 lost)" {
			t.Errorf("%s got %q, want the departure with its reason", c.Nick, l)
		}
		// The documented bound: PeerTimeout + Heartbeat (600 + 100 ms
		// here), plus scheduling slack on a loaded machine.
		if d := time.Since(killed); d > 600*time.Millisecond+100*time.Millisecond+2*time.Second {
			t.Errorf("%s heard of the dead node after %v", c.Nick, d)
		}
		if w := c.who("lobby"); w != "* lobby: alice, bob (2)" {
			t.Errorf("%s: /who after the kill: %q", c.Nick, w)
		}
	}
	if st, _ := n1.ClusterStatus(); st.MembersLost != 1 {
		t.Errorf("n1 counted %d members lost, want 1", st.MembersLost)
	}
	// The node comes back; its members are announced as they join.
	n3 = startChildNode(t, nats.ClientURL(), "n3")
	carol = &client{linetest.DialNick(t, n3.addr, "carol")}
	carol.ask("/join lobby", "* joined lobby")
	for _, c := range []*client{alice, bob} {
		if l := c.waitNotice("carol joined lobby"); l != "* carol joined lobby" {
			t.Errorf("%s got %q", c.Nick, l)
		}
	}
}

// A partition (n1 cut off from NATS while n2 is not) and its heal: each
// side is told who it lost and who came back, and a nick taken on both
// sides meanwhile ends with the earlier claim; the other holder is
// renamed and told why.
func TestClusterPartitionHeal(t *testing.T) {
	t.Parallel()
	nats := startNATS(t, "")
	t.Cleanup(nats.Shutdown)
	p1 := startProxy(t, nats.Addr())
	n1 := startNode(t, p1.URL(), "n1")
	n2 := startNode(t, nats.ClientURL(), "n2")
	waitPeers(t, []*node{n1, n2})
	alice, bob := dialNick(t, n1, "alice"), dialNick(t, n2, "bob")
	alice.ask("/join lobby", "* joined lobby")
	bob.ask("/join lobby", "* joined lobby")
	if l := alice.waitNotice("bob joined lobby"); l != "* bob joined lobby" {
		t.Fatalf("alice got %q", l)
	}
	for _, c := range []*client{alice, bob} {
		testkit.Eventually(t, c.Nick+" to list both", func() bool { return c.who("lobby") == "* lobby: alice, bob (2)" })
	}

	p1.Stall()
	if l := alice.waitNotice("bob left lobby"); l != "* bob left lobby (node n2 lost)" {
		t.Errorf("alice (cut off) got %q", l)
	}
	if l := bob.waitNotice("alice left lobby"); l != "* alice left lobby (node n1 lost)" {
		t.Errorf("bob got %q", l)
	}
	testkit.Eventually(t, "n1 to see the stall", func() bool { return state(n1) == "stalled" })
	// Both sides give out the same nick: n1 first.
	dave := dialNick(t, n1, "dup")
	erin := dialNick(t, n2, "dup")

	p1.Resume()
	healed := time.Now()
	if l := alice.waitNotice("bob joined lobby"); l != "* bob joined lobby (node n2 back)" {
		t.Errorf("alice got %q after the heal", l)
	}
	if l := bob.waitNotice("alice joined lobby"); l != "* alice joined lobby (node n1 back)" {
		t.Errorf("bob got %q after the heal", l)
	}
	l := erin.waitNotice("is now known as")
	if !strings.HasPrefix(l, "* dup is now known as guest-n2-") || !strings.HasSuffix(l, " (nick dup was claimed earlier on node n1)") {
		t.Errorf("the later claim got %q, want a rename to a guest nick with the reason", l)
	}
	if d := time.Since(healed); d > 5*time.Second {
		t.Errorf("the duplicate nick lasted %v after the heal, want ≤ 5s", d)
	}
	// One holder left: a private message from either node reaches dave.
	dave.Quiet()
	bob.ask("/msg dup from-n2", "* sent to dup")
	alice.ask("/msg dup from-n1", "* sent to dup")
	got := dave.waitMessages(2)
	if !slices.Contains(got, "(private) bob: from-n2") || !slices.Contains(got, "(private) alice: from-n1") {
		t.Errorf("dave got %q, want both private messages", got)
	}
	if st, _ := n2.ClusterStatus(); st.NicksRenamed != 1 {
		t.Errorf("n2 counted %d renames, want 1", st.NicksRenamed)
	}
	if st, _ := n1.ClusterStatus(); st.NicksRenamed != 0 {
		t.Errorf("n1 (the earlier claim) renamed %d", st.NicksRenamed)
	}
}
