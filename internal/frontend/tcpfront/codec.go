package tcpfront

import (
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// Codec encodes session output as line-protocol lines. It is stateless and
// safe for concurrent use.
type Codec struct{}

// Slot implements session.Codec.
func (Codec) Slot() int { return session.SlotLine }

// Message implements session.Codec: "[topic] nick: text" for messages,
// "(private) nick: text" for private messages and "* ..." for room events.
func (Codec) Message(m *hub.Message) []byte {
	switch m.Kind {
	case hub.KindMessage:
		return line.AppendMessage(make([]byte, 0, line.MessageLen(m.Topic, m.From, m.Text)), m.Topic, m.From, m.Text)
	case hub.KindPrivate:
		return line.AppendPrivate(nil, m.From, m.Text)
	case hub.KindJoin:
		return line.AppendInfo(nil, m.From+" joined "+m.Topic)
	case hub.KindPart:
		return line.AppendInfo(nil, m.From+" left "+m.Topic)
	case hub.KindNick:
		return line.AppendInfo(nil, m.From+" is now known as "+m.Text)
	}
	return line.AppendInfo(nil, "unknown event")
}

// Reply implements session.Codec: "* text" or "! text".
func (Codec) Reply(r session.Reply) []byte {
	if r.Error {
		return line.AppendError(nil, r.Text)
	}
	return line.AppendInfo(nil, r.Text)
}
