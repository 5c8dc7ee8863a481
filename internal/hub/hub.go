package hub

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Subscriber receives what the hub routes to one client. Deliver is called
// from publishing goroutines and must never block: a subscriber that cannot
// take a message queues it or drops itself (as a slow consumer), but never
// makes the publisher wait.
type Subscriber interface {
	Deliver(m *Message)
}

// Backplane extends a hub to the other nodes of a cluster. The hub calls
// Interest when the first local subscription on a (pattern, group) appears
// and when the last one goes, and Forward for every message published on
// this node. The backplane hands messages from other nodes back through
// Hub.DeliverRemote. Implementations must be safe for concurrent use.
type Backplane interface {
	// Interest registers (add) or withdraws this node's interest in
	// pattern for queue group (or "" for plain subscribers). It must not
	// block for long: the hub calls it holding its interest lock. natsbp
	// queues the change and waits at most a second for NATS to confirm
	// it while connected, so a "subscribed" reply promises every later
	// remote message only when NATS is reachable (docs/cluster.md).
	Interest(pattern, group string, add bool) error
	// Forward sends a message published on this node to the other nodes.
	Forward(m *Message) error
}

// History numbers and keeps the messages of the topics that keep history
// (package history). The hub calls Record for every topic message, local
// or from another node, before it matches the message's subscribers: so a
// subscriber that subscribes and then reads the history misses nothing
// (what was recorded before its subscription is in the history, what is
// matched after reaches it live). Implementations must be safe for
// concurrent use and must not call back into the hub.
type History interface {
	// Record gives m its topic's next Seq, its Epoch and its Journal
	// place and keeps it, reporting true; or reports false, changing
	// nothing, when m's topic keeps no history (the hub numbers it then).
	// A message from another node (remote) that was recorded already,
	// because it arrived twice, gets the Seq it got the first time and is
	// not kept again. A history numbered for the whole cluster (natsbp's
	// ClusterHistory) leaves a remote message's numbering as it came.
	Record(m *Message, remote bool) bool
}

// Errors returned by Client operations; their text is shown to users.
var (
	ErrNickTaken     = errors.New("hub: nick is taken")
	ErrNotMember     = errors.New("hub: not a member of that room")
	ErrAlreadyMember = errors.New("hub: already in that room")
	ErrNotSubscribed = errors.New("hub: no such subscription")
	ErrAlreadySub    = errors.New("hub: already subscribed")
	ErrNoSuchNick    = errors.New("hub: no such nick")
	ErrClosed        = errors.New("hub: client is closed")
	ErrSelf          = errors.New("hub: that is you")
)

// Config configures a Hub. The zero value is a single-node, in-memory hub.
type Config struct {
	// Backplane connects the hub to other nodes; nil means single node.
	Backplane Backplane
	// Presence makes nicks and rooms cluster-wide (see cluster.go); nil
	// means this node's clients only.
	Presence Presence
	// ReservedNicks cannot be claimed by clients (compared ignoring case),
	// e.g. "http", the sender name of HTTP publishes.
	ReservedNicks []string
	// History numbers and keeps messages for replay; nil keeps none.
	History History
}

// Hub routes messages between clients. It is safe for concurrent use.
type Hub struct {
	node     uint64
	bp       Backplane
	pr       Presence
	hist     History
	reserved map[string]bool
	ix       *index
	nextID   atomic.Uint64
	guestSeq atomic.Uint64

	pmu     sync.RWMutex // guards nicks, rooms, clients
	nicks   map[string]*Client
	rooms   map[string]map[*Client]struct{}
	clients int

	roomsPeak int // most rooms held since rooms was made, for shrunk; guarded by pmu

	imu       sync.Mutex // serializes backplane interest changes; guards interests
	interests map[subKey]int

	counts [countShards]shardCount // by sender, so publishers do not share a cache line
	start  time.Time               // with a monotonic reading, for now()
}

// countShards is how many ways the publish counters are split.
const countShards = 8

// shardCount is one shard of the publish counters, padded to a cache line.
type shardCount struct {
	published, delivered atomic.Uint64
	_                    [48]byte
}

type subKey struct{ pattern, group string }

// New returns a Hub.
func New(cfg Config) *Hub {
	var b [8]byte
	_, _ = rand.Read(b[:])
	h := &Hub{
		node:      binary.LittleEndian.Uint64(b[:]) | 1,
		bp:        cfg.Backplane,
		pr:        cfg.Presence,
		hist:      cfg.History,
		reserved:  make(map[string]bool),
		ix:        newIndex(),
		nicks:     make(map[string]*Client),
		rooms:     make(map[string]map[*Client]struct{}),
		interests: make(map[subKey]int),
		start:     time.Now(),
	}
	for _, n := range cfg.ReservedNicks {
		h.reserved[strings.ToLower(n)] = true
	}
	return h
}

// now returns the wall clock in Unix nanoseconds from one monotonic clock
// reading (time.Since on a monotonic start), about half the cost of
// time.Now on the publish path.
func (h *Hub) now() int64 {
	return h.start.UnixNano() + int64(time.Since(h.start))
}

// History returns the hub's History, or nil.
func (h *Hub) History() History { return h.hist }

// Node returns the random identifier of this hub, unique across a cluster
// with overwhelming probability.
func (h *Hub) Node() uint64 { return h.node }

// Stats is a snapshot of hub counters.
type Stats struct {
	Clients       int
	Rooms         int
	Subscriptions int
	Topics        int
	// Published counts messages published on this node.
	Published uint64
	// Delivered counts the deliveries the hub made itself: messages from
	// other nodes to local subscribers. Deliveries of local publishes are
	// made, and counted, by the publisher (package session).
	Delivered uint64
}

// Stats returns current counters.
func (h *Hub) Stats() Stats {
	h.pmu.RLock()
	st := Stats{Clients: h.clients, Rooms: len(h.rooms)}
	h.pmu.RUnlock()
	st.Subscriptions = h.ix.size()
	st.Topics = int(h.ix.topics.Load())
	for i := range h.counts {
		st.Published += h.counts[i].published.Load()
		st.Delivered += h.counts[i].delivered.Load()
	}
	return st
}

// Connect registers a new client that receives through sub, with a unique
// guest nick. The caller must Close the client when it goes away.
func (h *Hub) Connect(sub Subscriber) *Client {
	c := &Client{h: h, sub: sub, id: h.nextID.Add(1)}
	prefix := h.guestPrefix()
	h.pmu.Lock()
	for {
		n := prefix + strconv.FormatUint(h.guestSeq.Add(1), 10)
		if h.nicks[n] == nil {
			c.setNickPtr(n)
			h.nicks[n] = c
			break
		}
	}
	h.clients++
	h.pmu.Unlock()
	h.presence(PresenceConnect, c, c.Nick(), "")
	return c
}

// Publish publishes a message on behalf of no client (for example an HTTP
// publish) and returns its local recipients, for the caller to deliver to.
// m.Topic must be a valid topic and m.Text sanitized.
func (h *Hub) Publish(m *Message) Route {
	m.Kind = KindMessage
	if m.SenderNode == 0 {
		m.SenderNode = h.node
	}
	return h.publish(m)
}

// publish gives m its topic's next sequence number, hands it to the
// backplane and returns the local recipients. With a backplane, queue
// groups are served through it, so that each message reaches one member
// across the whole cluster; without, the route includes one member of each
// matching group, taken in turn.
func (h *Hub) publish(m *Message) Route {
	e := h.ix.entry(m.Topic)
	m.Topic = e.topic // share the cached string
	if m.Time == 0 {
		m.Time = h.now()
	}
	if h.hist == nil || !h.hist.Record(m, false) {
		m.Seq = e.seq.Add(1)
	}
	r := h.ix.match(e)
	rt := Route{subs: r.plain, sender: m.SenderID, local: m.SenderNode == h.node}
	if h.bp == nil {
		for _, g := range r.groups {
			if s := h.pickGroup(g, m); s != nil {
				rt.picks = append(rt.picks, s)
			}
		}
	} else {
		_ = h.bp.Forward(m)
	}
	h.counts[m.SenderID%countShards].published.Add(1)
	return rt
}

// DeliverRemote delivers a message that arrived from another node: to the
// plain local subscribers when group is "", else to one local member of
// that queue group. It returns the number of deliveries. It runs on the
// backplane's goroutine and delivers through Subscriber.Deliver.
func (h *Hub) DeliverRemote(m *Message, group string) int {
	switch m.Kind {
	case KindMessage:
	default:
		return h.deliverDirect(m)
	}
	e := h.ix.entry(m.Topic)
	if h.hist == nil {
		m.Epoch, m.Journal = 0, 0 // its origin's history's, not ours
	}
	if group == "" && h.hist != nil {
		// This node keeps and numbers what it hears, so that its
		// clients see one numbering per topic (see History).
		h.hist.Record(m, true)
	}
	r := h.ix.match(e)
	n := 0
	if group == "" {
		for _, s := range r.plain {
			s.client.sub.Deliver(m)
			n++
		}
	} else {
		for _, g := range r.groups {
			if g.name != group {
				continue
			}
			if s := h.pickGroup(g, m); s != nil {
				s.client.sub.Deliver(m)
				n++
			}
		}
	}
	h.counts[m.SenderID%countShards].delivered.Add(uint64(n))
	return n
}

// deliverDirect routes room events and private messages that came from
// another node to the local clients concerned.
func (h *Hub) deliverDirect(m *Message) int {
	if m.Kind == KindPrivate {
		h.pmu.RLock()
		c := h.nicks[strings.ToLower(m.To)]
		h.pmu.RUnlock()
		if c == nil {
			return 0
		}
		c.sub.Deliver(m)
		return 1
	}
	if m.Kind == KindNick {
		return h.deliverNickRemote(m)
	}
	return h.deliverRoom(m.Topic, m, nil)
}

// pickGroup returns the next member of g in turn that is not m's sender,
// or nil when the sender is the only member.
func (h *Hub) pickGroup(g *groupMatch, m *Message) *Subscription {
	k := len(g.members)
	start := int(g.next.Add(1))
	for i := 0; i < k; i++ {
		s := g.members[(start+i)%k]
		if s.client.id == m.SenderID && m.SenderNode == h.node {
			continue
		}
		return s
	}
	return nil
}

// deliverRoom gives m to every member of room except skip.
func (h *Hub) deliverRoom(room string, m *Message, skip *Client) int {
	h.pmu.RLock()
	members := make([]*Client, 0, len(h.rooms[room]))
	for c := range h.rooms[room] {
		if c != skip {
			members = append(members, c)
		}
	}
	h.pmu.RUnlock()
	for _, c := range members {
		c.sub.Deliver(m)
	}
	return len(members)
}

// Rooms returns every room with at least one member and its member count
// (across the cluster when presence is cluster-wide).
func (h *Hub) Rooms() map[string]int {
	h.pmu.RLock()
	out := make(map[string]int, len(h.rooms))
	for r, m := range h.rooms {
		out[r] = len(m)
	}
	h.pmu.RUnlock()
	h.addRemoteRooms(out)
	return out
}

// Who returns the sorted nicks of the members of room.
func (h *Hub) Who(room string) []string {
	h.pmu.RLock()
	members := make([]*Client, 0, len(h.rooms[room]))
	for c := range h.rooms[room] {
		members = append(members, c)
	}
	h.pmu.RUnlock()
	nicks := make([]string, 0, len(members))
	for _, c := range members {
		nicks = append(nicks, c.Nick())
	}
	sort.Strings(nicks)
	return h.addRemoteWho(room, nicks)
}

// addSub indexes s and, with a backplane, registers the interest when it is
// the first local one on its pattern and group.
func (h *Hub) addSub(s *Subscription) error {
	if h.bp == nil {
		h.ix.add(s)
		return nil
	}
	h.imu.Lock()
	defer h.imu.Unlock()
	k := subKey{s.pattern, s.group}
	if h.interests[k] == 0 {
		if err := h.bp.Interest(s.pattern, s.group, true); err != nil {
			return fmt.Errorf("register interest in %s: %w", s.pattern, err)
		}
	}
	h.interests[k]++
	h.ix.add(s)
	return nil
}

// removeSub undoes addSub.
func (h *Hub) removeSub(s *Subscription) {
	h.ix.remove(s)
	if h.bp == nil {
		return
	}
	h.imu.Lock()
	defer h.imu.Unlock()
	k := subKey{s.pattern, s.group}
	h.interests[k]--
	if h.interests[k] <= 0 {
		delete(h.interests, k)
		_ = h.bp.Interest(s.pattern, s.group, false)
	}
}
