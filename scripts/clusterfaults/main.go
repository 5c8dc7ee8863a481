// Command clusterfaults drives scripts/cluster-faults.sh: it runs a real
// nats-server and three switchboard nodes as processes on loopback, injects
// faults (kill -STOP/-CONT and -9 of nats-server, kill -9 and SIGTERM of a
// node, a partition of one node through a fault proxy, and its heal), and
// prints a table of what each client saw, what was lost and what the nodes
// counted. Everything it starts is stopped on exit, by PID. See
// docs/cluster.md.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/faultproxy"
)

func main() {
	sb := flag.String("switchboard", "", "path of the switchboard binary")
	ns := flag.String("nats-server", "", "path of the nats-server binary")
	work := flag.String("work", "", "directory for logs")
	stall := flag.Duration("stall", 10*time.Second, "how long NATS stays stopped (kill -STOP) and the partition lasts")
	flag.Parse()
	if *sb == "" || *ns == "" || *work == "" {
		fmt.Fprintln(os.Stderr, "usage: clusterfaults -switchboard BIN -nats-server BIN -work DIR [-stall 10s]")
		os.Exit(2)
	}
	r := &run{sb: *sb, nsBin: *ns, work: *work, stall: *stall}
	err := r.main()
	r.stopAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterfaults:", err)
		os.Exit(1)
	}
}

type run struct {
	sb, nsBin, work string
	stall           time.Duration

	mu    sync.Mutex
	procs []*exec.Cmd

	natsPort int
	nats     *exec.Cmd
	proxies  [3]*faultproxy.Proxy
	nodes    [3]*nodeProc
	rows     []row
	failed   []string
}

// check records a broken expectation; the run then exits non-zero.
func (r *run) check(ok bool, format string, args ...any) {
	if !ok {
		msg := fmt.Sprintf(format, args...)
		fmt.Println("CHECK FAILED:", msg)
		r.failed = append(r.failed, msg)
	}
}

// row is one line of the final table.
type row struct{ fault, local, remote, lost, counted string }

type nodeProc struct {
	name      string
	tcp, http string
	cmd       *exec.Cmd
	done      chan struct{} // closed when the process has exited
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *run) start(name string, bin string, args ...string) (*exec.Cmd, chan struct{}, error) {
	f, err := os.OpenFile(filepath.Join(r.work, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	c := exec.Command(bin, args...)
	c.Stdout, c.Stderr = f, f
	if err := c.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	r.mu.Lock()
	r.procs = append(r.procs, c)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { _ = c.Wait(); f.Close(); close(done) }()
	return c, done, nil
}

func (r *run) stopAll() {
	for _, p := range r.proxies {
		if p != nil {
			p.Close()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.procs {
		_ = c.Process.Signal(syscall.SIGCONT)
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	time.Sleep(500 * time.Millisecond)
	for _, c := range r.procs {
		_ = c.Process.Kill()
	}
}

func waitPort(addr string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listening on %s", addr)
}

func (r *run) startNATS() error {
	c, _, err := r.start("nats-server", r.nsBin, "-a", "127.0.0.1", "-p", strconv.Itoa(r.natsPort))
	if err != nil {
		return err
	}
	r.nats = c
	return waitPort(fmt.Sprintf("127.0.0.1:%d", r.natsPort))
}

func (r *run) startNode(i int) error {
	n := r.nodes[i]
	args := []string{"serve", "--node-name", n.name, "--tcp-addr", n.tcp, "--http-addr", n.http,
		"--cluster", r.proxies[i].URL(), "--cluster-name", "faults", "--cluster-optional"}
	c, done, err := r.start(n.name, r.sb, args...)
	if err != nil {
		return err
	}
	n.cmd, n.done = c, done
	return waitPort(n.tcp)
}

// status is the part of /api/stats this driver reads.
type status struct {
	State          string                  `json:"state"`
	Peers          []struct{ Name string } `json:"peers"`
	ForwardErrors  uint64                  `json:"forward_errors"`
	ForwardDropped uint64                  `json:"forward_dropped"`
	LateDropped    uint64                  `json:"late_dropped"`
	MembersLost    uint64                  `json:"members_lost"`
	NicksRenamed   uint64                  `json:"nicks_renamed"`
	Stalls         uint64                  `json:"stalls"`
	Reconnects     uint64                  `json:"reconnects"`
}

func (n *nodeProc) status() (status, error) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + n.http + "/api/stats")
	if err != nil {
		return status{}, err
	}
	defer resp.Body.Close()
	var st struct {
		Cluster status `json:"cluster"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Cluster, err
}

func (n *nodeProc) ready() string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + n.http + "/readyz")
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// waitFor polls cond up to d and returns how long it took.
func waitFor(d time.Duration, cond func() bool) (time.Duration, bool) {
	t0 := time.Now()
	for time.Since(t0) < d {
		if cond() {
			return time.Since(t0), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(t0), false
}

func (r *run) waitMesh(d time.Duration) error {
	_, ok := waitFor(d, func() bool {
		for _, n := range r.nodes {
			st, err := n.status()
			if err != nil || st.State != "connected" || len(st.Peers) != 2 {
				return false
			}
		}
		return true
	})
	if !ok {
		return errors.New("the nodes did not see each other")
	}
	return nil
}

// client is one line-protocol connection whose lines are recorded.
type client struct {
	name string
	conn net.Conn
	mu   sync.Mutex
	wmu  sync.Mutex
	seen []line
	pong chan string
}

type line struct {
	at   time.Time
	text string
}

func dial(name, addr string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	cl := &client{name: name, conn: c, pong: make(chan string, 16)}
	go func() {
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			l = strings.TrimSuffix(l, "\n")
			if strings.HasPrefix(l, "* pong") {
				select {
				case cl.pong <- l:
				default:
				}
				continue
			}
			cl.mu.Lock()
			cl.seen = append(cl.seen, line{time.Now(), l})
			cl.mu.Unlock()
		}
	}()
	return cl, nil
}

func (c *client) send(s string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, _ = io.WriteString(c.conn, s+"\n")
}

// ping returns the round trip of one /ping, or -1 after 5 s.
func (c *client) ping(tok string) time.Duration {
	t0 := time.Now()
	c.send("/ping " + tok)
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case p := <-c.pong:
			if p == "* pong "+tok {
				return time.Since(t0)
			}
		case <-timer.C:
			return -1
		}
	}
}

// since returns the lines seen after t.
func (c *client) since(t time.Time) []line {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []line
	for _, l := range c.seen {
		if !l.at.Before(t) {
			out = append(out, l)
		}
	}
	return out
}

// waitLine waits up to d for a line after t containing s.
func (c *client) waitLine(t time.Time, s string, d time.Duration) (time.Duration, bool) {
	var at time.Time
	_, ok := waitFor(d, func() bool {
		for _, l := range c.since(t) {
			if strings.Contains(l.text, s) {
				at = l.at
				return true
			}
		}
		return false
	})
	return at.Sub(t), ok
}

// lists reports whether /who lobby, asked now, names every nick.
func (c *client) lists(nicks ...string) bool {
	t := time.Now()
	c.send("/who lobby")
	var got string
	waitFor(2*time.Second, func() bool {
		for _, l := range c.since(t) {
			if strings.HasPrefix(l.text, "* lobby:") {
				got = l.text
				return true
			}
		}
		return false
	})
	for _, n := range nicks {
		if !strings.Contains(got, " "+n) {
			return false
		}
	}
	return got != ""
}

// notices returns the "* …" lines after t that tell of room changes.
func (c *client) notices(t time.Time) []string {
	var out []string
	for _, l := range c.since(t) {
		if strings.HasPrefix(l.text, "* ") && (strings.Contains(l.text, " left ") || strings.Contains(l.text, " joined ") ||
			strings.Contains(l.text, " known as ") || strings.Contains(l.text, "shutting down")) {
			out = append(out, strings.TrimPrefix(l.text, "* "))
		}
	}
	return out
}

// seqs returns the numbers of "[chat.x] pub: s-N" lines after t.
func (c *client) seqs(t time.Time) []int {
	var out []int
	for _, l := range c.since(t) {
		if i := strings.Index(l.text, ": s-"); i >= 0 && strings.HasPrefix(l.text, "[chat.x] ") {
			if n, err := strconv.Atoi(l.text[i+4:]); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// publisher sends "/pub chat.x s-N" every 10 ms.
type publisher struct {
	c    *client
	mu   sync.Mutex
	sent []time.Time // when s-i was sent
	stop chan struct{}
	done chan struct{}
}

func startPublisher(c *client) *publisher {
	p := &publisher{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; i < 100000; i++ {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			p.mu.Lock()
			p.sent = append(p.sent, time.Now())
			p.mu.Unlock()
			p.c.send(fmt.Sprintf("/pub chat.x s-%d", i))
		}
	}()
	return p
}

func (p *publisher) halt() { close(p.stop); <-p.done }

// sentIn returns the numbers of the messages sent in [from, to).
func (p *publisher) sentIn(from, to time.Time) (lo, hi int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lo, hi = -1, -1
	for i, t := range p.sent {
		if !t.Before(from) && t.Before(to) {
			if lo < 0 {
				lo = i
			}
			hi = i
		}
	}
	return lo, hi
}

// delivery summarises what a subscriber got of the messages s-lo…s-hi.
func delivery(got []int, lo, hi int) (n, dups int, ordered bool) {
	seen := map[int]bool{}
	ordered = true
	prev := -1
	for _, s := range got {
		if s < lo || s > hi {
			continue
		}
		if seen[s] {
			dups++
			continue
		}
		seen[s] = true
		if s < prev {
			ordered = false
		}
		prev = s
		n++
	}
	return n, dups, ordered
}

func join(xs []string) string {
	if len(xs) == 0 {
		return "nothing"
	}
	if len(xs) > 4 {
		xs = append(xs[:4:4], fmt.Sprintf("… (%d lines)", len(xs)))
	}
	return strings.Join(xs, "; ")
}

func (r *run) main() error {
	r.natsPort = freePort()
	if err := r.startNATS(); err != nil {
		return err
	}
	for i := range r.nodes {
		p, err := faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", r.natsPort))
		if err != nil {
			return err
		}
		r.proxies[i] = p
		r.nodes[i] = &nodeProc{name: fmt.Sprintf("n%d", i+1),
			tcp: fmt.Sprintf("127.0.0.1:%d", freePort()), http: fmt.Sprintf("127.0.0.1:%d", freePort())}
		if err := r.startNode(i); err != nil {
			return err
		}
	}
	if err := r.waitMesh(20 * time.Second); err != nil {
		return err
	}
	fmt.Printf("nats-server pid %d on 127.0.0.1:%d; nodes n1 n2 n3 (pids %d %d %d), each through its own fault proxy\n",
		r.nats.Process.Pid, r.natsPort, r.nodes[0].cmd.Process.Pid, r.nodes[1].cmd.Process.Pid, r.nodes[2].cmd.Process.Pid)

	// Clients: alice on n1, bob on n2, carol on n3 in lobby and on chat.>;
	// pub and ping on n1.
	people := map[string]*client{}
	for i, name := range []string{"alice", "bob", "carol"} {
		c, err := r.person(i, name)
		if err != nil {
			return err
		}
		people[name] = c
	}
	pubc, err := dial("pub", r.nodes[0].tcp)
	if err != nil {
		return err
	}
	pubc.send("/nick pub")
	pinger, err := dial("pinger", r.nodes[0].tcp)
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	pub := startPublisher(pubc)
	defer pub.halt()
	time.Sleep(time.Second)

	if err := r.natsStalled(people, pub, pinger); err != nil {
		return err
	}
	if err := r.natsDown(people, pub); err != nil {
		return err
	}
	if err := r.nodeKilled(people); err != nil {
		return err
	}
	if err := r.nodeStopped(people); err != nil {
		return err
	}
	if err := r.partition(people); err != nil {
		return err
	}
	r.print()
	if len(r.failed) > 0 {
		return fmt.Errorf("%d checks failed: %s", len(r.failed), strings.Join(r.failed, "; "))
	}
	return nil
}

// restart starts node i again and reconnects its person.
func (r *run) restart(people map[string]*client, i int, name string) error {
	if err := r.startNode(i); err != nil {
		return err
	}
	c, err := r.person(i, name)
	if err != nil {
		return err
	}
	people[name] = c
	return nil
}

// person connects a named client to node i, in lobby and on chat.>.
func (r *run) person(i int, name string) (*client, error) {
	c, err := dial(name, r.nodes[i].tcp)
	if err != nil {
		return nil, err
	}
	c.send("/nick " + name)
	c.send("/join lobby")
	c.send("/sub chat.>")
	if c.ping("ready") < 0 {
		return nil, fmt.Errorf("%s on %s does not answer", name, r.nodes[i].name)
	}
	return c, nil
}

func (r *run) counters(i int) status {
	st, _ := r.nodes[i].status()
	return st
}

func (r *run) natsStalled(people map[string]*client, pub *publisher, pinger *client) error {
	fmt.Printf("\n== NATS stalled: kill -STOP nats-server for %v, with pub on n1 publishing every 10 ms\n", r.stall)
	before := r.counters(0)
	t0 := time.Now()
	if err := r.nats.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	var pings []time.Duration
	timeouts := 0
	detect := time.Duration(-1)
	ready := ""
	statsSlow := time.Duration(0)
	for i := 0; time.Since(t0) < r.stall; i++ {
		d := pinger.ping("s" + strconv.Itoa(i))
		if d < 0 {
			timeouts++
		} else {
			pings = append(pings, d)
		}
		if detect < 0 {
			q := time.Now()
			st, err := r.nodes[0].status()
			statsSlow = max(statsSlow, time.Since(q))
			if err == nil && st.State == "stalled" {
				detect = time.Since(t0)
				ready = r.nodes[0].ready()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t1 := time.Now()
	if err := r.nats.Process.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	rec, _ := waitFor(30*time.Second, func() bool {
		st0, st1 := r.counters(0), r.counters(1)
		return st0.State == "connected" && st1.State == "connected" && len(st0.Peers) == 2
	})
	time.Sleep(2 * time.Second)
	lo, hi := pub.sentIn(t0, t1)
	slices.Sort(pings)
	p99 := time.Duration(0)
	if len(pings) > 0 {
		p99 = pings[len(pings)*99/100]
	}
	an, ad, ao := delivery(people["alice"].seqs(t0), lo, hi)
	bn, bd, bo := delivery(people["bob"].seqs(t0), lo, hi)
	after := r.counters(0)
	fmt.Printf("stall detected by n1 after %v; /readyz then: %q; slowest /api/stats during the stall %v\n", detect.Round(time.Millisecond), ready, statsSlow.Round(time.Millisecond))
	fmt.Printf("local /ping on n1: %d pings, p99 %v, max %v, %d without answer in 5 s\n", len(pings), p99.Round(time.Microsecond), pings[len(pings)-1].Round(time.Microsecond), timeouts)
	fmt.Printf("messages s-%d…s-%d published on n1 during the stall: alice (n1) got %d (dups %d, in order %v), bob (n2) got %d (dups %d, in order %v)\n", lo, hi, an, ad, ao, bn, bd, bo)
	fmt.Printf("back to connected %v after SIGCONT\n", rec.Round(time.Millisecond))
	r.check(detect >= 0 && detect <= 5*time.Second, "stall detected after %v, want ≤ 5s", detect)
	r.check(strings.Contains(ready, "stalled"), "/readyz during the stall: %q", ready)
	r.check(an == hi-lo+1 && ad == 0 && ao, "local subscriber got %d/%d (dups %d) during the stall", an, hi-lo+1, ad)
	r.check(bd == 0 && bo, "remote subscriber: dups %d, in order %v", bd, bo)
	r.check(timeouts == 0 && p99 < 50*time.Millisecond, "local /ping p99 %v, %d unanswered", p99, timeouts)
	for _, name := range []string{"alice", "bob", "carol"} {
		fmt.Printf("  %s saw: %s\n", name, join(people[name].notices(t0)))
	}
	r.rows = append(r.rows, row{
		fault:  fmt.Sprintf("NATS stalled %v (kill -STOP/-CONT)", r.stall),
		local:  fmt.Sprintf("alice: %d/%d messages, in order, no dup; /ping p99 %v; peers' members leave \"(node nX lost)\" and rejoin \"(node nX back)\"", an, hi-lo+1, p99.Round(time.Microsecond)),
		remote: fmt.Sprintf("bob: %d/%d of n1's messages (dups %d, in order %v); same left/back lines", bn, hi-lo+1, bd, bo),
		lost:   fmt.Sprintf("%d cross-node messages of n1", hi-lo+1-bn),
		counted: fmt.Sprintf("n1: stalled after %v, stalls +%d, forward_errors +%d, late_dropped +%d, members_lost +%d", detect.Round(time.Millisecond),
			after.Stalls-before.Stalls, after.ForwardErrors-before.ForwardErrors, after.LateDropped-before.LateDropped, after.MembersLost-before.MembersLost),
	})
	return nil
}

func (r *run) natsDown(people map[string]*client, pub *publisher) error {
	fmt.Println("\n== NATS down: kill -9 nats-server, restart it 5 s later on the same port")
	before := r.counters(0)
	t0 := time.Now()
	if err := r.nats.Process.Kill(); err != nil {
		return err
	}
	detect, _ := waitFor(10*time.Second, func() bool { return r.counters(0).State == "disconnected" })
	time.Sleep(5*time.Second - time.Since(t0))
	t1 := time.Now()
	if err := r.startNATS(); err != nil {
		return err
	}
	rec, _ := waitFor(30*time.Second, func() bool { return r.waitMesh(100*time.Millisecond) == nil })
	time.Sleep(2 * time.Second)
	lo, hi := pub.sentIn(t0, t1)
	an, ad, _ := delivery(people["alice"].seqs(t0), lo, hi)
	bn, bd, _ := delivery(people["bob"].seqs(t0), lo, hi)
	// After: every message reaches bob exactly once (the interest is back).
	t2 := time.Now()
	time.Sleep(2 * time.Second)
	lo2, hi2 := pub.sentIn(t2, t2.Add(time.Second))
	bn2, bd2, bo2 := delivery(people["bob"].seqs(t2), lo2, hi2)
	after := r.counters(0)
	fmt.Printf("n1 disconnected after %v; mesh back %v after restart\n", detect.Round(time.Millisecond), rec.Round(time.Millisecond))
	fmt.Printf("during: alice %d/%d (dups %d), bob %d/%d (dups %d); after: bob %d/%d (dups %d, in order %v)\n", an, hi-lo+1, ad, bn, hi-lo+1, bd, bn2, hi2-lo2+1, bd2, bo2)
	r.check(an == hi-lo+1 && ad == 0, "local subscriber got %d/%d during the outage", an, hi-lo+1)
	r.check(bn2 == hi2-lo2+1 && bd2 == 0 && bo2, "after the restart bob got %d/%d (dups %d)", bn2, hi2-lo2+1, bd2)
	for _, name := range []string{"alice", "bob", "carol"} {
		fmt.Printf("  %s saw: %s\n", name, join(people[name].notices(t0)))
	}
	r.rows = append(r.rows, row{
		fault:   "NATS down 5 s (kill -9, restart)",
		local:   fmt.Sprintf("alice: %d/%d messages; peers' members leave \"(node nX lost)\", rejoin \"(node nX back)\"", an, hi-lo+1),
		remote:  fmt.Sprintf("bob: %d/%d during; after the restart %d/%d, dups %d (subscriptions re-established)", bn, hi-lo+1, bn2, hi2-lo2+1, bd2),
		lost:    fmt.Sprintf("%d cross-node messages of n1", hi-lo+1-bn),
		counted: fmt.Sprintf("n1: disconnected after %v, forward_errors +%d, reconnects +%d", detect.Round(time.Millisecond), after.ForwardErrors-before.ForwardErrors, after.Reconnects-before.Reconnects),
	})
	return nil
}

func (r *run) nodeKilled(people map[string]*client) error {
	fmt.Println("\n== node killed: kill -9 n3 (carol's node), then start it again and carol reconnects")
	before := r.counters(0)
	t0 := time.Now()
	if err := r.nodes[2].cmd.Process.Kill(); err != nil {
		return err
	}
	<-r.nodes[2].done
	da, okA := people["alice"].waitLine(t0, "carol left lobby (node n3 lost)", 15*time.Second)
	db, okB := people["bob"].waitLine(t0, "carol left lobby (node n3 lost)", 15*time.Second)
	after := r.counters(0)
	t1 := time.Now()
	if err := r.restart(people, 2, "carol"); err != nil {
		return err
	}
	dj, okJ := people["alice"].waitLine(t1, "carol joined lobby", 15*time.Second)
	fmt.Printf("departure line on n1 after %v (%v), on n2 after %v (%v); carol's rejoin seen on n1 %v after the restart (%v)\n",
		da.Round(time.Millisecond), okA, db.Round(time.Millisecond), okB, dj.Round(time.Millisecond), okJ)
	r.check(okA && okB && da <= 4*time.Second+500*time.Millisecond && db <= 4*time.Second+500*time.Millisecond,
		"departure of the killed node's member: %v %v / %v %v, want within PeerTimeout+Heartbeat (4s)", okA, da, okB, db)
	r.check(okJ, "no join line when carol came back")
	for _, name := range []string{"alice", "bob"} {
		fmt.Printf("  %s saw: %s\n", name, join(people[name].notices(t0)))
	}
	r.rows = append(r.rows, row{
		fault:   "node n3 killed (kill -9)",
		local:   "carol (on n3): connection closed",
		remote:  fmt.Sprintf("alice, bob: \"carol left lobby (node n3 lost)\" after %v / %v; after the restart \"carol joined lobby\"", da.Round(time.Millisecond), db.Round(time.Millisecond)),
		lost:    "n3's sessions and what was queued to them",
		counted: fmt.Sprintf("n1: members_lost +%d", after.MembersLost-before.MembersLost),
	})
	return nil
}

func (r *run) nodeStopped(people map[string]*client) error {
	fmt.Println("\n== node stopped cleanly: SIGTERM n2 (bob's node), then start it again and bob reconnects")
	before := r.counters(0)
	t0 := time.Now()
	if err := r.nodes[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	_, okS := people["bob"].waitLine(t0, "shutting down", 10*time.Second)
	da, okA := people["alice"].waitLine(t0, "bob left lobby", 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	after := r.counters(0)
	var aliceSaw string
	for _, l := range people["alice"].notices(t0) {
		if strings.Contains(l, "bob left") {
			aliceSaw = l
		}
	}
	select {
	case <-r.nodes[1].done:
	case <-time.After(20 * time.Second):
		return errors.New("n2 did not exit after SIGTERM")
	}
	if err := r.restart(people, 1, "bob"); err != nil {
		return err
	}
	if err := r.waitMesh(20 * time.Second); err != nil {
		return err
	}
	fmt.Printf("bob told \"shutting down\": %v; alice saw %q after %v (%v)\n", okS, aliceSaw, da.Round(time.Millisecond), okA)
	r.check(okS && okA, "clean stop: shutting down told %v, departure seen %v", okS, okA)
	r.rows = append(r.rows, row{
		fault:   "node n2 stopped cleanly (SIGTERM)",
		local:   "bob (on n2): \"* server shutting down\", then the connection closes",
		remote:  fmt.Sprintf("alice, carol: %q after %v", aliceSaw, da.Round(time.Millisecond)),
		lost:    "nothing (queues drain)",
		counted: fmt.Sprintf("n1: members_lost +%d (a goodbye, not a loss)", after.MembersLost-before.MembersLost),
	})
	return nil
}

func (r *run) partition(people map[string]*client) error {
	fmt.Printf("\n== partition: n1's link to NATS stalls for %v (fault proxy); dave on n1 and erin on n2 both take the nick dup\n", r.stall)
	// Every node lists everyone before the partition starts.
	if _, ok := waitFor(10*time.Second, func() bool {
		return people["alice"].lists("bob", "carol") && people["bob"].lists("alice", "carol")
	}); !ok {
		return errors.New("presence did not settle before the partition")
	}
	before, before0 := r.counters(1), r.counters(0)
	t0 := time.Now()
	r.proxies[0].Stall()
	// Wait until each side has dropped the other.
	if _, ok := waitFor(15*time.Second, func() bool {
		st0, st1 := r.counters(0), r.counters(1)
		return st0.State == "stalled" && len(st0.Peers) == 0 && len(st1.Peers) == 1
	}); !ok {
		return errors.New("the partition was not detected")
	}
	dave, err := dial("dave", r.nodes[0].tcp)
	if err != nil {
		return err
	}
	dave.send("/nick dup")
	time.Sleep(100 * time.Millisecond) // dave's claim is the earlier one
	erin, err := dial("erin", r.nodes[1].tcp)
	if err != nil {
		return err
	}
	erin.send("/nick dup")
	_, okD := dave.waitLine(t0, "you are now dup", 5*time.Second)
	_, okE := erin.waitLine(t0, "you are now dup", 5*time.Second)
	time.Sleep(r.stall - time.Since(t0))
	t1 := time.Now()
	r.proxies[0].Resume()
	dr, okR := erin.waitLine(t1, "is now known as", 20*time.Second)
	_, _ = waitFor(20*time.Second, func() bool { return r.waitMesh(100*time.Millisecond) == nil })
	time.Sleep(time.Second)
	after, after0 := r.counters(1), r.counters(0)
	var renamed string
	for _, l := range erin.notices(t1) {
		if strings.Contains(l, "known as") {
			renamed = l
		}
	}
	fmt.Printf("during: dave got dup: %v, erin got dup: %v (each side only checks itself)\n", okD, okE)
	fmt.Printf("heal: erin renamed %v after the heal (%v): %q\n", dr.Round(time.Millisecond), okR, renamed)
	r.check(okD && okE, "during the partition dave got dup %v, erin %v", okD, okE)
	r.check(okR && dr <= 5*time.Second && strings.Contains(renamed, "claimed earlier on node n1"), "rename of the later claim: %v after %v: %q", okR, dr, renamed)
	for _, name := range []string{"alice", "bob", "carol"} {
		fmt.Printf("  %s saw: %s\n", name, join(people[name].notices(t0)))
	}
	r.rows = append(r.rows, row{
		fault:   fmt.Sprintf("partition: n1 cut off %v", r.stall),
		local:   "alice (n1): \"bob left lobby (node n2 lost)\", \"carol left lobby (node n3 lost)\"; dave takes dup",
		remote:  "bob, carol: \"alice left lobby (node n1 lost)\"; erin (n2) takes dup too",
		lost:    "cross-node messages both ways while cut off",
		counted: fmt.Sprintf("n1: stalls +%d, members_lost +%d; n2: members_lost +%d", after0.Stalls-before0.Stalls, after0.MembersLost-before0.MembersLost, after.MembersLost-before.MembersLost),
	}, row{
		fault:   "heal",
		local:   "alice: \"bob joined lobby (node n2 back)\" …",
		remote:  fmt.Sprintf("bob: \"alice joined lobby (node n1 back)\"; erin, the later claim: %q %v after the heal", renamed, dr.Round(time.Millisecond)),
		lost:    "nothing more",
		counted: fmt.Sprintf("n2: nicks_renamed +%d", after.NicksRenamed-before.NicksRenamed),
	})
	return nil
}

func (r *run) print() {
	fmt.Println("\n| fault | local clients saw | remote clients saw | lost | counted |")
	fmt.Println("|---|---|---|---|---|")
	for _, w := range r.rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", w.fault, w.local, w.remote, w.lost, w.counted)
	}
}
