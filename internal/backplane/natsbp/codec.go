package natsbp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// errBadMessage is returned for a payload that is not an encoded message.
var errBadMessage = errors.New("natsbp: malformed message")

// codecVersion is the first byte of every encoded message. A node ignores
// messages of another version, so a rolling upgrade that changes the
// encoding must bump it.
const codecVersion = 3

// epochAt is the offset of the 4-byte connection epoch, which the sender
// stamps just before publishing (see Backplane.send).
const epochAt = 2

// appendMessage encodes m compactly: version, kind, the sender's
// connection epoch (4 bytes, zero here), then the topic, from and to as
// length-prefixed strings, seq, the topic epoch and journal place (so that
// a node keeps the numbering of the cluster's history, see
// clusterhist.go), time, the sender node (8 bytes) and sender id, and the
// text as the rest of the payload.
func appendMessage(b []byte, m *hub.Message) []byte {
	b = append(b, codecVersion, byte(m.Kind), 0, 0, 0, 0)
	b = appendString(b, m.Topic)
	b = appendString(b, m.From)
	b = appendString(b, m.To)
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendUvarint(b, uint64(m.Epoch))
	b = binary.AppendUvarint(b, m.Journal)
	b = binary.AppendVarint(b, m.Time)
	b = binary.LittleEndian.AppendUint64(b, m.SenderNode)
	b = binary.AppendUvarint(b, m.SenderID)
	return append(b, m.Text...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeMessage is the inverse of appendMessage; it also returns the
// sender's connection epoch.
func decodeMessage(b []byte) (*hub.Message, uint32, error) {
	if len(b) < epochAt+4 || b[0] != codecVersion {
		return nil, 0, errBadMessage
	}
	m := &hub.Message{Kind: hub.Kind(b[1])}
	epoch := binary.LittleEndian.Uint32(b[epochAt:])
	d := decoder{b: b[epochAt+4:]}
	m.Topic = d.str()
	m.From = d.str()
	m.To = d.str()
	m.Seq = d.uvarint()
	ep := d.uvarint()
	m.Journal = d.uvarint()
	m.Time = d.varint()
	m.SenderNode = d.u64()
	m.SenderID = d.uvarint()
	if d.err || ep > 1<<32-1 {
		return nil, 0, errBadMessage
	}
	m.Epoch = uint32(ep)
	m.Text = string(d.b)
	switch m.Kind {
	case hub.KindMessage, hub.KindPrivate, hub.KindJoin, hub.KindPart, hub.KindNick:
	default:
		return nil, 0, fmt.Errorf("%w: kind %d", errBadMessage, m.Kind)
	}
	return m, epoch, nil
}

// decoder reads fields until the first error, which sticks.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.err = true
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
