package webfront

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync/atomic"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// serverFrame is one JSON frame to a WebSocket client (and the data of an
// SSE event). Field meanings are in docs/web.md.
type serverFrame struct {
	Op      string              `json:"op"`
	Re      string              `json:"re,omitempty"`
	Kind    string              `json:"kind,omitempty"`
	Topic   string              `json:"topic,omitempty"`
	Room    string              `json:"room,omitempty"`
	From    string              `json:"from,omitempty"`
	To      string              `json:"to,omitempty"`
	Nick    string              `json:"nick,omitempty"`
	New     string              `json:"new,omitempty"`
	Group   string              `json:"group,omitempty"`
	Text    string              `json:"text"`
	Seq     uint64              `json:"seq,omitempty"`
	TS      int64               `json:"ts,omitempty"`
	Count   *int                `json:"count,omitempty"`
	Members []string            `json:"members,omitzero"`
	Rooms   []session.RoomCount `json:"rooms,omitzero"`
	Final   string              `json:"final,omitempty"`
}

// marshalFrame encodes a frame without HTML escaping, so that patterns
// such as "a.>" read as they are written.
func marshalFrame(f *serverFrame) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		// Only strings and numbers: cannot happen.
		return []byte(`{"op":"error","text":"internal encoding error"}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// encodeMessage is the JSON form of a hub message, shared by every JSON
// session through the hub.Message encoding cache (session.SlotJSON).
func encodeMessage(m *hub.Message) []byte {
	f := serverFrame{TS: m.Time / 1e6}
	switch m.Kind {
	case hub.KindMessage:
		f.Op, f.Topic, f.From, f.Text, f.Seq = "msg", m.Topic, m.From, m.Text, m.Seq
	case hub.KindPrivate:
		f.Op, f.From, f.To, f.Text = "private", m.From, m.To, m.Text
	case hub.KindJoin:
		f.Op, f.Kind, f.Room, f.Nick, f.Text = "event", "join", m.Topic, m.From, m.From+" joined "+m.Topic
	case hub.KindPart:
		f.Op, f.Kind, f.Room, f.Nick, f.Text = "event", "part", m.Topic, m.From, m.From+" left "+m.Topic
	case hub.KindNick:
		f.Op, f.Kind, f.Nick, f.New, f.Text = "event", "nick", m.From, m.Text, m.From+" is now known as "+m.Text
	default:
		f.Op, f.Text = "event", "unknown event"
	}
	return marshalFrame(&f)
}

// encodeReply is the JSON form of a session reply: an "info" or "error"
// frame with the structured fields that are set.
func encodeReply(r session.Reply) []byte {
	f := serverFrame{Op: "info", Re: opName(r.Op), Text: r.Text, Nick: r.Nick, Room: r.Room, Topic: r.Topic, Group: r.Group, Members: r.Members, Rooms: r.Rooms}
	if r.Error {
		f.Op = "error"
		// An error names the request's argument as Topic, whatever it
		// was; put it in the field that fits the op.
		switch r.Op {
		case line.OpNick, line.OpMsg:
			f.Nick, f.Topic = f.Topic, ""
		case line.OpJoin, line.OpPart, line.OpWho:
			if f.Room == "" {
				f.Room = f.Topic
			}
			f.Topic = ""
		}
	}
	if r.Final != session.ReasonNone {
		f.Final = r.Final.String()
	}
	if !r.Error {
		switch r.Op {
		case line.OpJoin, line.OpWho, line.OpRooms:
			n := r.Count
			f.Count = &n
		}
	}
	return marshalFrame(&f)
}

// jsonCodec encodes session output as WebSocket JSON frames. One exists
// per connection so that it can tell the transport which close code the
// final notice calls for; Message is shared through the encoding cache.
type jsonCodec struct {
	final *atomic.Uint32 // the transport's close reason
}

// Slot implements session.Codec.
func (jsonCodec) Slot() int { return session.SlotJSON }

// Message implements session.Codec.
func (jsonCodec) Message(m *hub.Message) []byte { return encodeMessage(m) }

// Reply implements session.Codec. The final notice of a closing session
// records its reason, so the transport closes with the matching code.
func (c jsonCodec) Reply(r session.Reply) []byte {
	if r.Final != session.ReasonNone && c.final != nil {
		c.final.Store(uint32(r.Final))
	}
	return encodeReply(r)
}

// sseCodec encodes session output as Server-Sent Events: "event: msg" (or
// "private") with the JSON frame as data; replies as comments, except
// errors and the final notice, which are "error" and "info" events. It is
// stateless and safe for concurrent use.
type sseCodec struct{}

// Slot implements session.Codec.
func (sseCodec) Slot() int { return session.SlotSSE }

// Message implements session.Codec. The JSON inside is shared with the
// WebSocket door through the JSON cache slot.
func (sseCodec) Message(m *hub.Message) []byte {
	data := m.Encoded(session.SlotJSON, encodeMessage)
	event := "msg"
	switch m.Kind {
	case hub.KindMessage:
	case hub.KindPrivate:
		event = "private"
	default:
		event = "event"
	}
	return sseEvent(event, data)
}

// Reply implements session.Codec.
func (sseCodec) Reply(r session.Reply) []byte {
	switch {
	case r.Error:
		return sseEvent("error", encodeReply(r))
	case r.Final != session.ReasonNone:
		return sseEvent("info", encodeReply(r))
	}
	return sseComment(r.Text)
}

func sseEvent(event string, data []byte) []byte {
	b := make([]byte, 0, len("event: \ndata: \n\n")+len(event)+len(data))
	b = append(b, "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...) // JSON: no raw newlines
	return append(b, "\n\n"...)
}

// sseComment is an SSE comment line, which EventSource ignores and curl
// shows.
func sseComment(text string) []byte {
	text = strings.NewReplacer("\r", " ", "\n", " ").Replace(text)
	return []byte(": " + text + "\n\n")
}
