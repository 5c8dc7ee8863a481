package hub

import (
	"sync/atomic"
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

// NumEncodings is how many wire encodings a Message can cache; see Encoded.
const NumEncodings = 3

// Message is one unit the hub routes. The hub never modifies a Message after
// Publish has returned and one Message is shared by every recipient, so
// recipients must treat it as read-only. Text is already sanitized.
type Message struct {
	Kind  Kind
	Topic string // the topic, or the room for room events
	From  string // the sender's nick ("http" for HTTP publishes)
	To    string // the recipient's nick, for KindPrivate
	Text  string
	// Seq is the per-topic sequence number given by the hub where the
	// message was published: 1, 2, 3 … for each topic.
	Seq uint64
	// Time is when the hub accepted the message, in Unix nanoseconds.
	Time int64
	// SenderNode and SenderID identify the sending client across the
	// cluster, so that it never receives its own message back.
	SenderNode uint64
	SenderID   uint64
	// Tag is an opaque value the publisher's front end may attach and
	// subscribers may use: sessions use it to defer starting their writers
	// until the publisher has handled its whole read batch (one write per
	// subscriber per batch instead of one per message). Nil for messages
	// from other nodes or with no such publisher. Valid only during
	// Deliver, on the publishing goroutine.
	Tag any

	encState [NumEncodings]atomic.Uint32 // encEmpty, encBusy or encReady
	enc      [NumEncodings][]byte        // valid once encState is encReady
}

// Encoding slot states.
const (
	encEmpty uint32 = iota
	encBusy
	encReady
)

// Encoded returns the message in wire encoding number slot (0 ≤ slot <
// NumEncodings), computing it with encode on first use and caching it. This
// is how a message is formatted once per publish, not once per subscriber:
// front ends that share an encoding share a slot. The first caller encodes
// and publishes the bytes with an atomic store; a concurrent caller that
// finds the slot busy encodes a private copy rather than wait.
func (m *Message) Encoded(slot int, encode func(*Message) []byte) []byte {
	st := &m.encState[slot]
	if st.Load() == encReady {
		return m.enc[slot]
	}
	if !st.CompareAndSwap(encEmpty, encBusy) {
		if st.Load() == encReady {
			return m.enc[slot]
		}
		return encode(m)
	}
	b := encode(m)
	m.enc[slot] = b
	st.Store(encReady)
	return b
}
