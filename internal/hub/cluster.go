package hub

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Presence makes nicks and room membership cluster-wide. When a Hub has
// one (Config.Presence), nick changes are claimed across the cluster,
// guest nicks carry a per-node prefix, Rooms, Who and join counts include
// the members on other nodes, and private messages reach nicks on other
// nodes through the Backplane. Implementations must be safe for concurrent
// use.
type Presence interface {
	// GuestPrefix returns the prefix of this node's guest nicks, for
	// example "guest-n1-"; it must be unique to the node across the
	// cluster and leave room for a number within MaxNickLen.
	GuestPrefix() string
	// ClaimNick asks the other nodes whether a local client may take nick.
	// It returns ErrNickTaken (possibly wrapped) when another node has
	// it or is claiming it first. It may block for a network round trip
	// and is called with no hub lock held.
	ClaimNick(nick string) error
	// Local reports a change of local presence. The hub calls it under the
	// client's lock, so the events of one client arrive in order; it must
	// not block and must not call back into the hub.
	Local(ev PresenceEvent)
	// RemoteRooms returns the rooms with members on other nodes and
	// their member counts there.
	RemoteRooms() map[string]int
	// RemoteWho returns the nicks of room's members on other nodes.
	RemoteWho(room string) []string
	// RemoteNick returns the spelling of nick (compared ignoring case) if
	// a client on another node has it.
	RemoteNick(nick string) (string, bool)
}

// PresenceOp says what a PresenceEvent reports.
type PresenceOp uint8

// Presence operations.
const (
	// PresenceConnect: client Client arrived with nick Nick.
	PresenceConnect PresenceOp = iota + 1
	// PresenceNick: client Client is now called Nick.
	PresenceNick
	// PresenceJoin: client Client joined Room.
	PresenceJoin
	// PresencePart: client Client left Room.
	PresencePart
	// PresenceQuit: client Client left the hub (and all its rooms).
	PresenceQuit
)

// PresenceEvent is one change of local presence, reported to Presence.Local.
type PresenceEvent struct {
	Op     PresenceOp
	Client uint64 // Client.ID
	Nick   string // for Connect and Nick
	Room   string // for Join and Part
}

// guestPrefix returns the prefix of new guest nicks.
func (h *Hub) guestPrefix() string {
	if h.pr != nil {
		return h.pr.GuestPrefix()
	}
	return "guest-"
}

// presence reports a local presence change, if presence is cluster-wide.
func (h *Hub) presence(op PresenceOp, c *Client, nick, room string) {
	if h.pr != nil {
		h.pr.Local(PresenceEvent{Op: op, Client: c.id, Nick: nick, Room: room})
	}
}

// remoteMembers returns how many members room has on other nodes.
func (h *Hub) remoteMembers(room string) int {
	if h.pr == nil {
		return 0
	}
	return len(h.pr.RemoteWho(room))
}

// addRemoteRooms adds other nodes' member counts to out.
func (h *Hub) addRemoteRooms(out map[string]int) {
	if h.pr == nil {
		return
	}
	for r, n := range h.pr.RemoteRooms() {
		out[r] += n
	}
}

// addRemoteWho appends other nodes' members of room to nicks, sorted.
func (h *Hub) addRemoteWho(room string, nicks []string) []string {
	if h.pr == nil {
		return nicks
	}
	nicks = append(nicks, h.pr.RemoteWho(room)...)
	sort.Strings(nicks)
	return nicks
}

// privateRemote sends a private message to a nick on another node, or
// returns ErrNoSuchNick.
func (c *Client) privateRemote(to, text string) error {
	h := c.h
	if h.pr == nil || h.bp == nil {
		return ErrNoSuchNick
	}
	nick, ok := h.pr.RemoteNick(to)
	if !ok {
		return ErrNoSuchNick
	}
	m := c.event(KindPrivate, "")
	m.To, m.Text = nick, text
	if err := h.bp.Forward(m); err != nil {
		return ErrNoSuchNick
	}
	return nil
}

// forwardNick tells other nodes' members of rooms that the client renamed
// itself; the rooms travel space-separated in To.
func (h *Hub) forwardNick(ev *Message, rooms []string) {
	if h.bp == nil || len(rooms) == 0 {
		return
	}
	fw := &Message{Kind: KindNick, From: ev.From, Text: ev.Text, To: strings.Join(rooms, " "),
		Time: ev.Time, SenderNode: ev.SenderNode, SenderID: ev.SenderID}
	_ = h.bp.Forward(fw)
}

// deliverNickRemote gives a nick change from another node to each local
// member of the rooms listed in m.To, once.
func (h *Hub) deliverNickRemote(m *Message) int {
	seen := make(map[*Client]struct{})
	h.pmu.RLock()
	for _, room := range strings.Fields(m.To) {
		for c := range h.rooms[room] {
			seen[c] = struct{}{}
		}
	}
	h.pmu.RUnlock()
	ev := &Message{Kind: KindNick, From: m.From, Text: m.Text, Reason: m.Reason, Time: m.Time, SenderNode: m.SenderNode, SenderID: m.SenderID}
	for c := range seen {
		c.sub.Deliver(ev)
	}
	return len(seen)
}

// YieldNick gives up a local client's nick because a client on another
// node holds it by the cluster's rule (during a partition two nodes can
// both grant a nick; see Presence). The client is renamed to a fresh guest
// nick and told why in one line (a nick event whose reason is why); the
// members of its rooms see the rename. It returns the new nick, or false
// when no local client has nick.
func (h *Hub) YieldNick(nick, why string) (string, bool) {
	h.pmu.RLock()
	c := h.nicks[strings.ToLower(nick)]
	h.pmu.RUnlock()
	if c == nil {
		return "", false
	}
	old := c.Nick()
	prefix := h.guestPrefix()
	for range 100 { // another client can take a guest number first
		guest := prefix + strconv.FormatUint(h.guestSeq.Add(1), 10)
		switch err := c.SetNick(guest); {
		case err == nil:
			c.sub.Deliver(&Message{Kind: KindNick, From: old, Text: guest, Reason: why, Time: time.Now().UnixNano(), SenderNode: h.node})
			return guest, true
		case !errors.Is(err, ErrNickTaken):
			return "", false
		}
	}
	return "", false
}
