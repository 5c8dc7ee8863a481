package webfront

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/history"
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
	Reason  string              `json:"reason,omitempty"`
	Seq     uint64              `json:"seq,omitempty"`
	Epoch   string              `json:"epoch,omitempty"`
	Missed  uint64              `json:"missed,omitempty"`
	Lost    bool                `json:"lost,omitempty"`
	TS      int64               `json:"ts,omitempty"`
	Count   *int                `json:"count,omitempty"`
	Members []string            `json:"members,omitzero"`
	Rooms   []session.RoomCount `json:"rooms,omitzero"`
	More    int                 `json:"more,omitempty"`
	Final   string              `json:"final,omitempty"`
	Code    string              `json:"code,omitempty"`
	// Commands is the help: every operation with its fields.
	Commands []helpEntry `json:"commands,omitzero"`
}

// helpEntry is one operation in a help frame: its op name, the JSON fields
// it takes (optional ones end in "?") and what it does.
type helpEntry struct {
	Op     string   `json:"op"`
	Fields []string `json:"fields,omitzero"`
	Text   string   `json:"text"`
}

// helpEntries renders the session's commands in the WebSocket door's
// terms: field names instead of placeholders.
func helpEntries(cmds []session.Command) []helpEntry {
	out := make([]helpEntry, 0, len(cmds))
	for _, c := range cmds {
		e := helpEntry{Op: c.Op.String(), Text: c.Summary}
		for _, p := range c.Params {
			f := fieldName(c.Op, p.Field)
			if p.Optional {
				f += "?"
			}
			e.Fields = append(e.Fields, f)
		}
		out = append(out, e)
	}
	return out
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
// session through the message's frame cache (FormatJSON).
func encodeMessage(m *hub.Message) []byte {
	f := serverFrame{TS: m.Time / 1e6}
	switch m.Kind {
	case hub.KindMessage:
		f.Op, f.Topic, f.From, f.Text, f.Seq = "msg", m.Topic, m.From, m.Text, m.Seq
		if m.Epoch != 0 {
			f.Epoch = history.FormatEpoch(m.Epoch)
		}
	case hub.KindPrivate:
		f.Op, f.From, f.To, f.Text = "private", m.From, m.To, m.Text
	case hub.KindJoin:
		f.Reason = m.Reason
		f.Op, f.Kind, f.Room, f.Nick, f.Text = "event", "join", m.Topic, m.From, line.WithReason(m.From+" joined "+m.Topic, m.Reason)
	case hub.KindPart:
		f.Reason = m.Reason
		f.Op, f.Kind, f.Room, f.Nick, f.Text = "event", "part", m.Topic, m.From, line.WithReason(m.From+" left "+m.Topic, m.Reason)
	case hub.KindNick:
		f.Reason = m.Reason
		f.Op, f.Kind, f.Nick, f.New, f.Text = "event", "nick", m.From, m.Text, line.WithReason(m.From+" is now known as "+m.Text, m.Reason)
	default:
		f.Op, f.Text = "event", "unknown event"
	}
	return marshalFrame(&f)
}

// encodeReply is the JSON form of a session reply: an "info" or "error"
// frame with the structured fields that are set.
func encodeReply(r session.Reply) []byte {
	f := serverFrame{Op: "info", Re: opName(r.Op), Text: r.Text, Nick: r.Nick, Room: r.Room, Topic: r.Topic, Group: r.Group, Members: r.Members, Rooms: r.Rooms}
	if len(r.Commands) > 0 {
		f.Commands = helpEntries(r.Commands)
	}
	if r.Gap != nil {
		// A gap marker: {"op":"gap","topic":T,"missed":N} or "lost":true.
		f.Op, f.Re, f.Missed, f.Lost = "gap", "", r.Gap.Missed, r.Gap.Lost
	}
	if r.Error {
		f.Op = "error"
		f.Code = r.Code.String()
		// An error names the request's argument as Topic, whatever it
		// was; put it in the field that fits the op.
		switch r.Op {
		case session.OpNick, session.OpMsg:
			f.Nick, f.Topic = f.Topic, ""
		case session.OpJoin, session.OpPart, session.OpWho:
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
		case session.OpJoin, session.OpWho, session.OpRooms:
			n := r.Count
			f.Count = &n
		}
		if r.Op == session.OpWho || r.Op == session.OpRooms {
			f.More = r.More
			f.Text = listingSummary(r)
		}
	}
	return marshalFrame(&f)
}

// listingSummary is the text of a who or rooms frame: the entries are in
// members or rooms, so the text only counts them, rather than carry every
// name a second time.
func listingSummary(r session.Reply) string {
	var s string
	switch {
	case r.Op == session.OpWho && r.Count == 0:
		return r.Room + ": nobody here"
	case r.Op == session.OpWho:
		s = fmt.Sprintf("%s: %d here", r.Room, r.Count)
	case r.Count == 0:
		return "no rooms yet"
	case r.Count == 1:
		s = "1 room"
	default:
		s = fmt.Sprintf("%d rooms", r.Count)
	}
	if r.More > 0 {
		s += fmt.Sprintf(", first %d listed", r.Count-r.More)
	}
	return s
}

// Names under which the web door's formats are cached (package frames).
const (
	FormatJSON = "json" // WebSocket JSON frames, also the data of SSE events
	FormatSSE  = "sse"  // whole Server-Sent Events
)

// formats are the web door's two cache keys.
type formats struct {
	json, sse *frames.Format
}

// registerFormats registers the web door's formats with the registry's
// table.
func registerFormats(t *frames.Formats) (formats, error) {
	j, err := t.Register(FormatJSON)
	if err != nil {
		return formats{}, fmt.Errorf("web door: %w", err)
	}
	e, err := t.Register(FormatSSE)
	if err != nil {
		return formats{}, fmt.Errorf("web door: %w", err)
	}
	return formats{json: j, sse: e}, nil
}

// jsonCodec encodes session output as WebSocket JSON frames. It is
// immutable and safe for concurrent use.
type jsonCodec struct{ f formats }

// Format implements session.Codec.
func (c jsonCodec) Format() *frames.Format { return c.f.json }

// Message implements session.Codec.
func (jsonCodec) Message(m *hub.Message) []byte { return encodeMessage(m) }

// Reply implements session.Codec.
func (jsonCodec) Reply(r session.Reply) []byte { return encodeReply(r) }

// sseCodec encodes session output as Server-Sent Events: "event: msg" (or
// "private") with the JSON frame as data and, for a message the history
// recorded, "id: EPOCH-N" (history.FormatID, the journal's epoch and
// place), which a reconnecting EventSource sends back as Last-Event-ID;
// replies as comments, except errors, gap markers, the notice naming the
// stream's nick and the final notice, which are "error", "gap" and "info"
// events. It is immutable and safe for
// concurrent use.
type sseCodec struct {
	f       formats
	journal uint32 // the history's journal epoch; 0 without history
}

// Format implements session.Codec.
func (c sseCodec) Format() *frames.Format { return c.f.sse }

// Message implements session.Codec. The JSON inside is shared with the
// WebSocket door through the JSON slot of the message's frame cache.
func (c sseCodec) Message(m *hub.Message) []byte {
	data := frames.Get(&m.Frames, c.f.json, m, encodeMessage)
	event := "msg"
	switch m.Kind {
	case hub.KindMessage:
		if m.Journal != 0 && c.journal != 0 {
			return sseEventID(event, history.FormatID(c.journal, m.Journal), data)
		}
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
	case r.Gap != nil:
		return sseEvent("gap", encodeReply(r))
	case r.Error:
		return sseEvent("error", encodeReply(r))
	case r.Final != session.ReasonNone, r.Op == 0 && r.Nick != "":
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

// sseEventID is sseEvent with an id line first.
func sseEventID(event, id string, data []byte) []byte {
	b := make([]byte, 0, len("id: \nevent: \ndata: \n\n")+len(id)+len(event)+len(data))
	b = append(b, "id: "...)
	b = append(b, id...)
	b = append(b, "\nevent: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// sseComment is an SSE comment line, which EventSource ignores and curl
// shows.
func sseComment(text string) []byte {
	text = strings.NewReplacer("\r", " ", "\n", " ").Replace(text)
	return []byte(": " + text + "\n\n")
}
