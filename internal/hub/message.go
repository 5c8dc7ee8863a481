package hub

import (
	"github.com/switchboard-hub/switchboard/internal/frames"
)

// Kind says what a Message carries.
type Kind uint8

// Message kinds. Only KindMessage goes to topic subscribers; room events go
// to the members of the room; private messages go to one client.
const (
	// KindMessage is a publication on a topic.
	KindMessage Kind = iota + 1
	// KindPrivate is a private message from one nick to another (To).
	KindPrivate
	// KindJoin says From joined the room Topic.
	KindJoin
	// KindPart says From left the room Topic.
	KindPart
	// KindNick says From is now known as Text; sent to the rooms From is in.
	KindNick
)

// String names the kind, for logs and JSON.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "msg"
	case KindPrivate:
		return "private"
	case KindJoin:
		return "join"
	case KindPart:
		return "part"
	case KindNick:
		return "nick"
	}
	return "unknown"
}

// Message is one unit the hub routes. The hub never modifies a Message after
// Publish has returned and one Message is shared by every recipient, so
// recipients must treat it as read-only. Text is already sanitized.
type Message struct {
	Kind Kind
	// Epoch names the numbering Seq belongs to, for topics that keep
	// history (0 for others): it changes when the topic's history was
	// lost, so a position (Epoch, Seq) from before the loss is known to
	// be stale. Set by the hub's History.
	Epoch uint32
	Topic string // the topic, or the room for room events
	From  string // the sender's nick ("http" for HTTP publishes)
	To    string // the recipient's nick, for KindPrivate
	Text  string
	// Reason says why a room event happened when it was not the member's
	// own doing, for example "node n3 lost" when a node of the cluster
	// died; front ends show it after the event (line.WithReason). Empty
	// for ordinary events.
	Reason string
	// Seq is the per-topic sequence number: 1, 2, 3 … for each topic,
	// given by the hub's History for topics that keep history (so it
	// survives the hub's topic cache) and by the hub's topic entry for
	// the others (restarting when the entry is evicted).
	Seq uint64
	// Journal is the message's place in the order in which this node's
	// History recorded messages of all topics (0 when not recorded): it
	// lets one position resume a stream of many topics (SSE ids).
	Journal uint64
	// Time is when the message was accepted, in Unix nanoseconds: the
	// publisher's time if it gave one, else the hub's clock.
	Time int64
	// Lossy is set by the hub's History when the topic's rule has the
	// drop-oldest policy (history.PolicyDropOldest): a subscriber that
	// falls behind loses the oldest queued messages of the topic, with a
	// gap marker, instead of being disconnected.
	Lossy bool
	// SenderNode and SenderID identify the sending client across the
	// cluster, so that it never receives its own message back.
	SenderNode uint64
	SenderID   uint64
	// Frames caches the message's wire encodings for whoever delivers it
	// (see package frames). The hub never reads it.
	Frames frames.Cache
}
