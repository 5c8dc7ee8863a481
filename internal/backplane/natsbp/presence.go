package natsbp

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Presence protocol. Every node keeps a replica of every other node's
// clients (id, nick, rooms), fed by three kinds of messages on
// P.presence.all.* and P.presence.<node>.*, all sent by one node over one
// connection and received through one channel, so they arrive in the order
// they were sent:
//
//	delta     a batch of numbered changes (connect, nick, join, part, quit),
//	          published every flushEvery
//	hb        a heartbeat every Config.Heartbeat carrying the number of the
//	          last change published; a receiver whose replica is behind
//	          (a lost delta, a node it has not met) asks for a snapshot
//	<node>.snapreq / <requester>.snap
//	          a full snapshot in chunks, numbered like the deltas, so later
//	          deltas continue it exactly
//
// A node silent for Config.PeerTimeout is dropped with its members; a node
// that shuts down says bye and is dropped at once. hello (sent on every
// (re)connection) makes the others send a heartbeat at once, which is how a
// new or reconnected node learns about them within a round trip.
//
// Nick claims (claim.go) ride on the same subscription.
const (
	flushEvery     = 20 * time.Millisecond
	deltaChunk     = 2000 // events per delta message
	snapshotChunk  = 1000 // clients per snapshot message
	snapshotRetry  = 2 * time.Second
	claimHoldLimit = 5 * time.Second
	presenceQueue  = 1 << 16 // presence messages buffered before NATS drops (and a resync heals)
	maxLost        = 1 << 12 // dropped nodes remembered, to say "back" when they return
	maxHeldDeltas  = 256     // deltas kept while a snapshot is awaited
)

// pevent is one presence change on the wire.
type pevent struct {
	Op     hub.PresenceOp `json:"o"`
	Client uint64         `json:"c"`
	Nick   string         `json:"k,omitempty"`
	Room   string         `json:"r,omitempty"`
	At     int64          `json:"t,omitempty"` // connect, nick: when the nick was taken (Unix ns)
}

// pclientWire is one client in a snapshot.
type pclientWire struct {
	ID    uint64   `json:"c"`
	Nick  string   `json:"k"`
	Rooms []string `json:"r,omitempty"`
	At    int64    `json:"t,omitempty"` // when the nick was taken (Unix ns)
}

// pmsg is every presence message; fields are used according to the subject.
type pmsg struct {
	Node    uint64        `json:"n"`
	Name    string        `json:"name,omitempty"`
	Guest   string        `json:"g,omitempty"`
	Seq     uint64        `json:"s,omitempty"`   // hb: last published; delta: first; snap: state
	Events  []pevent      `json:"e,omitempty"`   // delta
	Index   int           `json:"i,omitempty"`   // snap chunk
	Last    bool          `json:"l,omitempty"`   // snap: last chunk
	Clients []pclientWire `json:"cl,omitempty"`  // snap
	Count   int           `json:"cnt,omitempty"` // hb: clients
	ID      uint64        `json:"id,omitempty"`  // claim
	Nick    string        `json:"k,omitempty"`   // claim
	OK      bool          `json:"ok,omitempty"`  // claim reply
}

// pclient is one client in a replica.
type pclient struct {
	nick  string
	at    int64 // when the nick was taken, by the node's clock (Unix ns)
	rooms map[string]struct{}
}

// view is the replica of one node's clients. The local node's own view
// is the source of deltas and snapshots.
type view struct {
	name, guest string
	seq         uint64 // last change applied
	synced      bool   // has a snapshot (or is the local view)
	asked       time.Time
	lastSeen    time.Time
	clients     map[uint64]*pclient
	rooms       map[string]map[uint64]struct{}
	nicks       map[string]uint64 // lower-case nick → client
	staging     []pclientWire     // snapshot chunks being received
	held        []pmsg            // deltas received while a snapshot is awaited
}

func newView() *view {
	return &view{clients: make(map[uint64]*pclient), rooms: make(map[string]map[uint64]struct{}), nicks: make(map[string]uint64)}
}

func (v *view) apply(e pevent) {
	c := v.clients[e.Client]
	if c == nil && e.Op != hub.PresenceQuit {
		c = &pclient{}
		v.clients[e.Client] = c
	}
	switch e.Op {
	case hub.PresenceConnect, hub.PresenceNick:
		v.dropNick(e.Client, c)
		c.nick, c.at = e.Nick, e.At
		v.nicks[strings.ToLower(e.Nick)] = e.Client
	case hub.PresenceJoin:
		if c.rooms == nil {
			c.rooms = make(map[string]struct{})
		}
		c.rooms[e.Room] = struct{}{}
		m := v.rooms[e.Room]
		if m == nil {
			m = make(map[uint64]struct{})
			v.rooms[e.Room] = m
		}
		m[e.Client] = struct{}{}
	case hub.PresencePart:
		delete(c.rooms, e.Room)
		v.leave(e.Room, e.Client)
	case hub.PresenceQuit:
		if c == nil {
			return
		}
		for r := range c.rooms {
			v.leave(r, e.Client)
		}
		v.dropNick(e.Client, c)
		delete(v.clients, e.Client)
	}
}

func (v *view) dropNick(id uint64, c *pclient) {
	if k := strings.ToLower(c.nick); c.nick != "" && v.nicks[k] == id {
		delete(v.nicks, k)
	}
}

func (v *view) leave(room string, id uint64) {
	if m := v.rooms[room]; m != nil {
		delete(m, id)
		if len(m) == 0 {
			delete(v.rooms, room)
		}
	}
}

// presence is the Backplane's hub.Presence half.
type presence struct {
	b *Backplane

	mu    sync.Mutex // guards self, queue, seq; a leaf lock (Local runs under hub locks)
	self  *view
	queue []pevent
	seq   uint64

	pubMu  sync.Mutex // serializes presence publishing so sequence numbers go out in order; taken before mu
	pubSeq uint64     // last change published; guarded by pubMu

	vmu   sync.RWMutex // guards peers
	peers map[uint64]*view

	cmu    sync.Mutex // guards claims, byID, held, nextID; a leaf lock
	claims map[string]*claim
	byID   map[uint64]*claim
	held   map[string]time.Time
	nextID uint64

	warned map[uint64]bool   // guest prefix clashes logged; guarded by vmu
	lost   map[uint64]string // nodes dropped as silent, by id (name); guarded by vmu

	in chan *nats.Msg // presence messages, in arrival order

	membersLost, nicksRenamed atomic.Uint64
}

func (p *presence) init(b *Backplane) {
	p.b = b
	p.self = newView()
	p.self.synced = true
	p.peers = make(map[uint64]*view)
	p.claims = make(map[string]*claim)
	p.byID = make(map[uint64]*claim)
	p.held = make(map[string]time.Time)
	p.warned = make(map[uint64]bool)
	p.lost = make(map[uint64]string)
	p.in = make(chan *nats.Msg, presenceQueue)
}

// receive handles presence messages one at a time until Close.
func (p *presence) receive() {
	defer p.b.wg.Done()
	for {
		select {
		case <-p.b.quit:
			return
		case m := <-p.in:
			p.onMessage(m)
		}
	}
}

// GuestPrefix implements hub.Presence.
func (b *Backplane) GuestPrefix() string { return b.guest }

// Local implements hub.Presence: it applies a local change to the local
// view and queues it for the next delta.
func (b *Backplane) Local(ev hub.PresenceEvent) {
	p := &b.pres
	e := pevent{Op: ev.Op, Client: ev.Client, Nick: ev.Nick, Room: ev.Room}
	if ev.Op == hub.PresenceConnect || ev.Op == hub.PresenceNick {
		e.At = time.Now().UnixNano()
	}
	p.mu.Lock()
	p.seq++
	p.self.apply(e)
	p.queue = append(p.queue, e)
	p.mu.Unlock()
	if ev.Op == hub.PresenceNick {
		p.cmu.Lock()
		delete(p.held, strings.ToLower(ev.Nick))
		p.cmu.Unlock()
	}
}

// RemoteRooms implements hub.Presence.
func (b *Backplane) RemoteRooms() map[string]int {
	p := &b.pres
	out := make(map[string]int)
	p.vmu.RLock()
	for _, v := range p.peers {
		for r, m := range v.rooms {
			out[r] += len(m)
		}
	}
	p.vmu.RUnlock()
	return out
}

// RemoteWho implements hub.Presence.
func (b *Backplane) RemoteWho(room string) []string {
	p := &b.pres
	var out []string
	p.vmu.RLock()
	for _, v := range p.peers {
		for id := range v.rooms[room] {
			if c := v.clients[id]; c != nil {
				out = append(out, c.nick)
			}
		}
	}
	p.vmu.RUnlock()
	return out
}

// RemoteNick implements hub.Presence.
func (b *Backplane) RemoteNick(nick string) (string, bool) {
	n, _, ok := b.pres.lookup(strings.ToLower(nick))
	return n, ok
}

// lookup finds a lower-case nick on another node.
func (p *presence) lookup(key string) (nick string, node uint64, ok bool) {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	for id, v := range p.peers {
		if cid, found := v.nicks[key]; found {
			return v.clients[cid].nick, id, true
		}
	}
	return "", 0, false
}

func (p *presence) nodeOfNick(nick string) (uint64, bool) {
	_, node, ok := p.lookup(strings.ToLower(nick))
	return node, ok
}

// started reports whether Start has run (the node id is set).
func (p *presence) started() bool { return p.b.hub.Load() != nil }

// loop publishes deltas and heartbeats and expires silent nodes until
// Close.
func (p *presence) loop() {
	defer p.b.wg.Done()
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	hb := time.NewTicker(p.b.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-p.b.quit:
			return
		case <-flush.C:
			p.pubMu.Lock()
			p.flushLocked()
			p.pubMu.Unlock()
		case <-hb.C:
			p.heartbeat()
			p.expire()
			p.resolveNicks()
		}
	}
}

// flushLocked publishes the queued changes. Caller holds pubMu.
func (p *presence) flushLocked() {
	p.mu.Lock()
	q := p.queue
	p.queue = nil
	last := p.seq
	p.mu.Unlock()
	if len(q) == 0 {
		return
	}
	first := last - uint64(len(q)) + 1
	for len(q) > 0 {
		n := min(len(q), deltaChunk)
		p.publish(0, "delta", pmsg{Node: p.b.node, Seq: first, Events: q[:n]})
		first += uint64(n)
		q = q[n:]
	}
	p.pubSeq = last
}

func (p *presence) heartbeat() {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.flushLocked()
	p.mu.Lock()
	n := len(p.self.clients)
	p.mu.Unlock()
	p.publish(0, "hb", pmsg{Node: p.b.node, Name: p.b.cfg.NodeName, Guest: p.b.guest, Seq: p.pubSeq, Count: n})
}

// reconnected announces the node after a (re)connection.
func (p *presence) reconnected() {
	if !p.started() {
		return
	}
	p.publish(0, "hello", pmsg{Node: p.b.node})
	p.heartbeat()
}

// goodbye publishes the last changes and tells the others to drop this
// node now.
func (p *presence) goodbye() {
	p.pubMu.Lock()
	p.flushLocked()
	p.pubMu.Unlock()
	p.publish(0, "bye", pmsg{Node: p.b.node})
}

// expire drops nodes not heard from for PeerTimeout, telling the local
// members of their rooms who left, and stale claim holds.
func (p *presence) expire() {
	now := time.Now()
	type gone struct {
		id  uint64
		evs []roomEvent
		why string
	}
	var dropped []gone
	p.vmu.Lock()
	for id, v := range p.peers {
		if now.Sub(v.lastSeen) > p.b.cfg.PeerTimeout {
			delete(p.peers, id)
			if len(p.lost) >= maxLost {
				clear(p.lost)
			}
			p.lost[id] = v.name
			p.membersLost.Add(uint64(len(v.clients)))
			dropped = append(dropped, gone{id, diffViews(v, newView()), "node " + v.name + " lost"})
			p.b.log.Warn("cluster: node silent; dropping its members", "peer", v.name, "members", len(v.clients))
		}
	}
	p.vmu.Unlock()
	for _, g := range dropped {
		p.announce(g.id, g.why, g.evs)
	}
	p.cmu.Lock()
	for k, t := range p.held {
		if now.After(t) {
			delete(p.held, k)
		}
	}
	p.cmu.Unlock()
}

// publish sends m to every node (to == 0) or to one node.
func (p *presence) publish(to uint64, kind string, m pmsg) {
	data, err := json.Marshal(m)
	if err != nil {
		return
	}
	target := "all."
	if to != 0 {
		target = strconv.FormatUint(to, 16) + "."
	}
	// A presence message that does not fit is lost like one NATS drops:
	// the next heartbeat shows the gap and a snapshot heals it.
	_ = p.b.enqueue(outMsg{subj: p.b.subjPres + target + kind, data: data}, true)
}

// onMessage handles every presence message, in order, on one goroutine.
func (p *presence) onMessage(msg *nats.Msg) {
	kind := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	var m pmsg
	if err := json.Unmarshal(msg.Data, &m); err != nil || m.Node == p.b.node {
		return
	}
	switch {
	case kind == "hb":
		p.onHeartbeat(m)
	case kind == "hello":
		p.heartbeat()
	case kind == "delta":
		p.onDelta(m)
	case kind == "bye":
		// The node's clients' departures were announced as they left;
		// any member still listed goes now.
		var evs []roomEvent
		why := ""
		p.vmu.Lock()
		if v := p.peers[m.Node]; v != nil {
			delete(p.peers, m.Node)
			evs, why = diffViews(v, newView()), "node "+v.name+" shut down"
			p.b.log.Info("cluster: node left", "peer", v.name)
		}
		p.vmu.Unlock()
		p.announce(m.Node, why, evs)
	case kind == "claim":
		p.onClaim(m)
	case kind == "snapreq":
		p.sendSnapshot(m.Node)
	case kind == "snap":
		p.onSnapshot(m)
	case kind == "claimreply":
		p.onClaimReply(m)
	}
}

func (p *presence) onHeartbeat(m pmsg) {
	p.vmu.Lock()
	v := p.peers[m.Node]
	if v == nil {
		v = newView()
		p.peers[m.Node] = v
		p.b.log.Info("cluster: node joined", "peer", m.Name)
	}
	v.name, v.guest, v.lastSeen = m.Name, m.Guest, time.Now()
	if v.guest == p.b.guest && !p.warned[m.Node] {
		p.warned[m.Node] = true
		p.b.log.Warn("cluster: another node has the same guest nick prefix; give every node a unique --node-name", "peer", m.Name, "prefix", v.guest)
	}
	ask := (!v.synced || m.Seq != v.seq) && time.Since(v.asked) > snapshotRetry
	if ask {
		v.asked = time.Now()
		v.staging = nil
	}
	p.vmu.Unlock()
	if ask {
		p.publish(m.Node, "snapreq", pmsg{Node: p.b.node})
	}
}

func (p *presence) onDelta(m pmsg) {
	p.vmu.Lock()
	v := p.peers[m.Node]
	if v == nil {
		p.vmu.Unlock()
		return // a heartbeat will bring a snapshot
	}
	v.lastSeen = time.Now()
	if !v.synced || !v.asked.IsZero() {
		// A snapshot is on its way; the deltas after it continue it.
		if len(v.held) < maxHeldDeltas {
			v.held = append(v.held, m)
		}
		p.vmu.Unlock()
		return
	}
	gap := v.applyDelta(m)
	if gap {
		// A delta went missing: keep showing what we have, ask for all.
		v.asked = time.Now()
		v.staging, v.held = nil, nil
	}
	p.vmu.Unlock()
	if gap {
		p.publish(m.Node, "snapreq", pmsg{Node: p.b.node})
	}
}

// applyDelta applies the changes of m that v has not seen; it reports a
// gap (v missed an earlier delta) instead of applying any.
func (v *view) applyDelta(m pmsg) (gap bool) {
	last := m.Seq + uint64(len(m.Events)) - 1
	if last <= v.seq {
		return false
	}
	if m.Seq > v.seq+1 {
		return true
	}
	for i, e := range m.Events {
		if m.Seq+uint64(i) > v.seq {
			v.apply(e)
		}
	}
	v.seq = last
	return false
}

// sendSnapshot answers a snapshot request. Holding pubMu, it first
// publishes queued deltas, so the snapshot's number continues the deltas
// the requester has seen and the next delta continues the snapshot.
func (p *presence) sendSnapshot(to uint64) {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	p.flushLocked()
	p.mu.Lock()
	seq := p.seq
	list := make([]pclientWire, 0, len(p.self.clients))
	for id, c := range p.self.clients {
		w := pclientWire{ID: id, Nick: c.nick, At: c.at}
		for r := range c.rooms {
			w.Rooms = append(w.Rooms, r)
		}
		list = append(list, w)
	}
	p.mu.Unlock()
	for i := 0; ; i++ {
		n := min(len(list), snapshotChunk)
		p.publish(to, "snap", pmsg{Node: p.b.node, Name: p.b.cfg.NodeName, Guest: p.b.guest,
			Seq: seq, Index: i, Last: n == len(list), Clients: list[:n]})
		list = list[n:]
		if len(list) == 0 {
			return
		}
	}
}

func (p *presence) onSnapshot(m pmsg) {
	var evs []roomEvent
	why := ""
	resolve := false
	p.vmu.Lock()
	defer func() {
		p.vmu.Unlock()
		p.announce(m.Node, why, evs)
		if resolve {
			p.resolveNicks()
		}
	}()
	v := p.peers[m.Node]
	if v == nil {
		v = newView()
		v.lastSeen = time.Now()
		p.peers[m.Node] = v
	}
	v.name, v.guest = m.Name, m.Guest
	if m.Index == 0 {
		v.staging = v.staging[:0]
	}
	v.staging = append(v.staging, m.Clients...)
	if !m.Last {
		return
	}
	nv := newView()
	for _, c := range v.staging {
		nv.apply(pevent{Op: hub.PresenceConnect, Client: c.ID, Nick: c.Nick, At: c.At})
		for _, r := range c.Rooms {
			nv.apply(pevent{Op: hub.PresenceJoin, Client: c.ID, Room: r})
		}
	}
	// What changed while this node could not follow the other one (it was
	// lost, or a delta went missing) becomes events, so nothing appears or
	// disappears silently.
	evs = diffViews(v, nv)
	switch name, wasLost := p.lost[m.Node]; {
	case wasLost:
		delete(p.lost, m.Node)
		why = "node " + name + " back"
	case v.synced:
		why = "resync with node " + m.Name
	default:
		why = "node " + m.Name + " joined the cluster"
	}
	v.clients, v.rooms, v.nicks = nv.clients, nv.rooms, nv.nicks
	v.seq, v.synced, v.asked, v.staging = m.Seq, true, time.Time{}, nil
	// Deltas that arrived while the snapshot was awaited continue it
	// (those it already covers are skipped); after a gap the next
	// heartbeat asks again.
	for _, d := range v.held {
		if v.applyDelta(d) {
			break
		}
	}
	v.held = nil
	resolve = true
}

// roomEvent is one change of another node's presence made visible to the
// local members of a room.
type roomEvent struct {
	kind      hub.Kind // KindJoin, KindPart or KindNick
	room      string   // for KindNick: the rooms, space-separated
	nick, new string
}

// diffViews returns the room events that turn old into nv: nick changes,
// then parts, then joins, in a stable order.
func diffViews(old, nv *view) []roomEvent {
	var evs []roomEvent
	for id, oc := range old.clients {
		nc := nv.clients[id]
		nick := oc.nick
		if nc != nil && nc.nick != oc.nick {
			var both []string
			for r := range oc.rooms {
				if _, ok := nc.rooms[r]; ok {
					both = append(both, r)
				}
			}
			if len(both) > 0 {
				sort.Strings(both)
				evs = append(evs, roomEvent{kind: hub.KindNick, room: strings.Join(both, " "), nick: oc.nick, new: nc.nick})
			}
			nick = nc.nick
		}
		for r := range oc.rooms {
			if nc == nil {
				evs = append(evs, roomEvent{kind: hub.KindPart, room: r, nick: nick})
			} else if _, ok := nc.rooms[r]; !ok {
				evs = append(evs, roomEvent{kind: hub.KindPart, room: r, nick: nick})
			}
		}
	}
	for id, nc := range nv.clients {
		oc := old.clients[id]
		for r := range nc.rooms {
			if oc == nil {
				evs = append(evs, roomEvent{kind: hub.KindJoin, room: r, nick: nc.nick})
			} else if _, ok := oc.rooms[r]; !ok {
				evs = append(evs, roomEvent{kind: hub.KindJoin, room: r, nick: nc.nick})
			}
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i], evs[j]
		if a.kind != b.kind {
			return kindOrder(a.kind) < kindOrder(b.kind)
		}
		if a.room != b.room {
			return a.room < b.room
		}
		return a.nick < b.nick
	})
	return evs
}

func kindOrder(k hub.Kind) int {
	switch k {
	case hub.KindNick:
		return 0
	case hub.KindPart:
		return 1
	}
	return 2
}

// announce gives each event to the local members of its room, with why
// as the reason shown after it.
func (p *presence) announce(node uint64, why string, evs []roomEvent) {
	h := p.b.hub.Load()
	if h == nil || len(evs) == 0 {
		return
	}
	now := time.Now().UnixNano()
	for _, e := range evs {
		m := &hub.Message{Kind: e.kind, Topic: e.room, From: e.nick, Reason: why, Time: now, SenderNode: node}
		if e.kind == hub.KindNick {
			m.Topic, m.To, m.Text = "", e.room, e.new
		}
		h.DeliverRemote(m, "")
	}
}

// PeerStatus describes another node as this node sees it.
type PeerStatus struct {
	Name     string `json:"name"`
	Clients  int    `json:"clients"`
	Synced   bool   `json:"synced"`
	LastSeen string `json:"last_seen"`
}

// peerStatus lists the known nodes, sorted by name.
func (p *presence) peerStatus() []PeerStatus {
	p.vmu.RLock()
	out := make([]PeerStatus, 0, len(p.peers))
	for _, v := range p.peers {
		out = append(out, PeerStatus{Name: v.name, Clients: len(v.clients), Synced: v.synced,
			LastSeen: time.Since(v.lastSeen).Round(time.Millisecond).String()})
	}
	p.vmu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
