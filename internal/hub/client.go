package hub

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one connected client's handle on the hub: its identity, rooms
// and subscriptions. Its methods are safe for concurrent use, though a front
// end normally calls them from the connection's reader goroutine only.
type Client struct {
	h    *Hub
	sub  Subscriber
	id   uint64
	nick atomic.Pointer[string]

	mu     sync.Mutex // guards rooms, subs, closed; taken before Hub.pmu
	rooms  map[string]*Subscription
	subs   subSet
	closed bool
}

// ID returns the client's identifier, unique within its hub.
func (c *Client) ID() uint64 { return c.id }

// Nick returns the client's current nick.
func (c *Client) Nick() string { return *c.nick.Load() }

func (c *Client) setNickPtr(n string) { c.nick.Store(&n) }

// SetNick renames the client. Nicks are unique ignoring case; members of the
// client's rooms are told of the change.
func (c *Client) SetNick(n string) error {
	if err := ValidateNick(n); err != nil {
		return err
	}
	key := strings.ToLower(n)
	if c.h.reserved[key] {
		return ErrNickTaken
	}
	if c.h.pr != nil && !strings.EqualFold(n, c.Nick()) {
		if err := c.h.pr.ClaimNick(n); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	old := c.Nick()
	c.h.pmu.Lock()
	if other := c.h.nicks[key]; other != nil && other != c {
		c.h.pmu.Unlock()
		c.mu.Unlock()
		return ErrNickTaken
	}
	delete(c.h.nicks, strings.ToLower(old))
	c.h.nicks[key] = c
	c.setNickPtr(n)
	// Everyone who shares a room hears of it once.
	peers := make(map[*Client]struct{})
	rooms := make([]string, 0, len(c.rooms))
	for room := range c.rooms {
		rooms = append(rooms, room)
		for p := range c.h.rooms[room] {
			if p != c {
				peers[p] = struct{}{}
			}
		}
	}
	c.h.pmu.Unlock()
	if old != n {
		c.h.presence(PresenceNick, c, n, "")
	}
	c.mu.Unlock()
	if old == n {
		return nil
	}
	ev := c.event(KindNick, "")
	ev.From, ev.Text = old, n
	for p := range peers {
		p.sub.Deliver(ev)
	}
	c.h.forwardNick(ev, rooms)
	return nil
}

func (c *Client) event(k Kind, topic string) *Message {
	return &Message{Kind: k, Topic: topic, From: c.Nick(), Time: time.Now().UnixNano(), SenderNode: c.h.node, SenderID: c.id}
}

// Join makes the client a member of room, which also subscribes it to the
// room's topic, and tells the other members. It returns the member count.
func (c *Client) Join(room string) (int, error) {
	if err := ValidateTopic(room); err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	if c.rooms[room] != nil {
		c.mu.Unlock()
		return 0, ErrAlreadyMember
	}
	s := &Subscription{client: c, pattern: room}
	if err := c.h.addSub(s); err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if c.rooms == nil {
		c.rooms = make(map[string]*Subscription)
	}
	c.rooms[room] = s
	c.h.pmu.Lock()
	m := c.h.rooms[room]
	if m == nil {
		m = make(map[*Client]struct{})
		c.h.rooms[room] = m
		growPeak(len(c.h.rooms), &c.h.roomsPeak)
	}
	m[c] = struct{}{}
	n := len(m)
	c.h.pmu.Unlock()
	c.h.presence(PresenceJoin, c, "", room)
	c.mu.Unlock()
	n += c.h.remoteMembers(room)
	c.announce(KindJoin, room)
	return n, nil
}

// announce tells a room's other members (here and, through the backplane,
// elsewhere) that the client joined or left.
func (c *Client) announce(k Kind, room string) {
	ev := c.event(k, room)
	c.h.deliverRoom(room, ev, c)
	if c.h.bp != nil {
		_ = c.h.bp.Forward(ev)
	}
}

// Part removes the client from room and tells the other members.
func (c *Client) Part(room string) error {
	c.mu.Lock()
	s := c.rooms[room]
	if s == nil {
		c.mu.Unlock()
		return ErrNotMember
	}
	delete(c.rooms, room)
	c.leaveRoomLocked(room)
	c.h.presence(PresencePart, c, "", room)
	c.mu.Unlock()
	c.h.removeSub(s)
	c.announce(KindPart, room)
	return nil
}

// leaveRoomLocked drops the client from the room's member set. Caller holds
// c.mu.
func (c *Client) leaveRoomLocked(room string) {
	c.h.pmu.Lock()
	if m := c.h.rooms[room]; m != nil {
		delete(m, c)
		if len(m) == 0 {
			delete(c.h.rooms, room)
			c.h.rooms = shrunk(c.h.rooms, &c.h.roomsPeak)
		}
	}
	c.h.pmu.Unlock()
}

// Rooms returns the rooms the client is a member of, sorted.
func (c *Client) Rooms() []string {
	c.mu.Lock()
	out := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		out = append(out, r)
	}
	c.mu.Unlock()
	sort.Strings(out)
	return out
}

// Subscribe adds a subscription to pattern, in queue group group if it is
// not "". When it returns nil the subscription is active: every message
// published afterwards that matches is delivered.
func (c *Client) Subscribe(pattern, group string) error {
	if err := ValidatePattern(pattern); err != nil {
		return err
	}
	if group != "" {
		if err := ValidateGroup(group); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.subs.has(pattern, group) {
		return ErrAlreadySub
	}
	s := &Subscription{client: c, pattern: pattern, group: group}
	if err := c.h.addSub(s); err != nil {
		return err
	}
	c.subs.add(s)
	return nil
}

// Unsubscribe removes every subscription of the client to pattern, whatever
// its group. Room memberships are left alone (use Part).
func (c *Client) Unsubscribe(pattern string) error {
	c.mu.Lock()
	gone := c.subs.removePattern(pattern)
	c.mu.Unlock()
	if len(gone) == 0 {
		return ErrNotSubscribed
	}
	for _, s := range gone {
		c.h.removeSub(s)
	}
	return nil
}

// Counts returns how many subscriptions (not counting room memberships)
// and how many rooms the client holds, in constant time, for per-client
// caps.
func (c *Client) Counts() (subs, rooms int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs.len(), len(c.rooms)
}

// Subscriptions returns the client's subscriptions (not room memberships)
// as "pattern" or "pattern group", sorted.
func (c *Client) Subscriptions() []string {
	c.mu.Lock()
	out := make([]string, 0, c.subs.len())
	for _, s := range c.subs.all() {
		if s.group == "" {
			out = append(out, s.pattern)
		} else {
			out = append(out, s.pattern+" "+s.group)
		}
	}
	c.mu.Unlock()
	sort.Strings(out)
	return out
}

// Publish publishes text (already sanitized) on topic from this client at
// time at (Unix nanoseconds; 0 means now) and returns the message and its
// local recipients, for the caller to deliver to: the hub matches, the
// publisher delivers. The client is never among its own recipients.
func (c *Client) Publish(topic, text string, at int64) (*Message, Route, error) {
	if err := ValidateTopic(topic); err != nil {
		return nil, Route{}, err
	}
	m := &Message{Kind: KindMessage, Topic: topic, From: c.Nick(), Text: text, SenderNode: c.h.node, SenderID: c.id, Time: at}
	return m, c.h.publish(m), nil
}

// Private sends text (already sanitized) to the client named to.
func (c *Client) Private(to, text string) error {
	if err := ValidateNick(to); err != nil {
		return err
	}
	key := strings.ToLower(to)
	c.h.pmu.RLock()
	dst := c.h.nicks[key]
	c.h.pmu.RUnlock()
	if dst == c {
		return ErrSelf
	}
	if dst == nil {
		return c.privateRemote(to, text)
	}
	m := c.event(KindPrivate, "")
	m.To, m.Text = dst.Nick(), text
	dst.sub.Deliver(m)
	return nil
}

// Close removes the client from the hub: its subscriptions end, its rooms
// hear that it left, and its nick is free again. Close is idempotent.
func (c *Client) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	rooms := c.rooms
	subs := c.subs.all()
	c.rooms, c.subs = nil, subSet{}
	for room := range rooms {
		c.leaveRoomLocked(room)
	}
	c.h.pmu.Lock()
	if c.h.nicks[strings.ToLower(c.Nick())] == c {
		delete(c.h.nicks, strings.ToLower(c.Nick()))
	}
	c.h.clients--
	c.h.pmu.Unlock()
	c.h.presence(PresenceQuit, c, "", "")
	c.mu.Unlock()
	for _, s := range subs {
		c.h.removeSub(s)
	}
	for room, s := range rooms {
		c.h.removeSub(s)
		c.announce(KindPart, room)
	}
}
