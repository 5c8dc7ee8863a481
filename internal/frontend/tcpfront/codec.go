package tcpfront

import (
	"fmt"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// FormatName is the name under which the line protocol's frames are cached
// (package frames); any door writing the same lines may share it.
// FormatIDsName is the same lines with message positions ("/ids on").
const (
	FormatName    = "line"
	FormatIDsName = "line-ids"
)

// Codec encodes session output as line-protocol lines. It is immutable and
// safe for concurrent use.
type Codec struct {
	format, ids *frames.Format
	positions   bool // this is the "/ids on" form
}

// NewCodec registers the line formats with formats and returns the codec.
func NewCodec(formats *frames.Formats) (Codec, error) {
	f, err := formats.Register(FormatName)
	if err != nil {
		return Codec{}, fmt.Errorf("tcp door: %w", err)
	}
	ids, err := formats.Register(FormatIDsName)
	if err != nil {
		return Codec{}, fmt.Errorf("tcp door: %w", err)
	}
	return Codec{format: f, ids: ids}, nil
}

// Format implements session.Codec.
func (c Codec) Format() *frames.Format {
	if c.positions {
		return c.ids
	}
	return c.format
}

// WithPositions implements session.PositionCodec: message lines read
// "[topic#seq] nick: text".
func (c Codec) WithPositions() session.Codec {
	c.positions = true
	return c
}

// Message implements session.Codec: "[topic] nick: text" for messages
// ("[topic#seq] nick: text" with positions), "(private) nick: text" for
// private messages and "* ..." for room events.
func (c Codec) Message(m *hub.Message) []byte {
	switch m.Kind {
	case hub.KindMessage:
		if c.positions && m.Seq != 0 { // 0: no position (the cluster history could not number it)
			return line.AppendMessageID(make([]byte, 0, line.MessageLen(m.Topic, m.From, m.Text)+21), m.Topic, m.Seq, m.From, m.Text)
		}
		return line.AppendMessage(make([]byte, 0, line.MessageLen(m.Topic, m.From, m.Text)), m.Topic, m.From, m.Text)
	case hub.KindPrivate:
		return line.AppendPrivate(nil, m.From, m.Text)
	case hub.KindJoin:
		return line.AppendInfo(nil, line.WithReason(m.From+" joined "+m.Topic, m.Reason))
	case hub.KindPart:
		return line.AppendInfo(nil, line.WithReason(m.From+" left "+m.Topic, m.Reason))
	case hub.KindNick:
		return line.AppendInfo(nil, line.WithReason(m.From+" is now known as "+m.Text, m.Reason))
	}
	return line.AppendInfo(nil, "unknown event")
}

// Reply implements session.Codec: "* text" or "! text", worded for a
// terminal user (with the commands to type), and the help as one line per
// command.
func (Codec) Reply(r session.Reply) []byte {
	if len(r.Commands) > 0 {
		return appendHelp(nil, r.Commands)
	}
	if r.Error {
		return line.AppendError(nil, errorText(r))
	}
	if r.Gap != nil {
		return line.AppendError(nil, r.Text)
	}
	if r.Op == session.OpRooms && r.Count == 0 {
		return line.AppendInfo(nil, r.Text+"; /join ROOM to start one")
	}
	return line.AppendInfo(nil, r.Text)
}

// errorText words a refusal for the line protocol: where the session's
// text says what is wrong, this adds what to type.
func errorText(r session.Reply) string {
	switch {
	case r.Code == session.CodeNoRoom && r.Op == session.OpSay:
		return r.Text + " (/join ROOM), or /pub TOPIC TEXT"
	case r.Code == session.CodeNoRoom && r.Op == session.OpWho:
		return "which room? /who ROOM (you are not in one)"
	}
	switch r.Code {
	case session.CodeBadName, session.CodeAlreadySub, session.CodeInternal, session.CodeUnknownOp:
		return r.Text + "; type /help for commands"
	}
	return r.Text
}

// appendHelp renders the session's commands as line-protocol usage.
func appendHelp(b []byte, cmds []session.Command) []byte {
	b = line.AppendInfo(b, "commands (case-insensitive):")
	for _, c := range cmds {
		u := usage(c)
		if len(u) > 22 {
			// Too long for the column: the summary goes below.
			b = line.AppendInfo(b, "  "+u)
			u = ""
		}
		b = line.AppendInfo(b, fmt.Sprintf("  %-22s%s", u, c.Summary))
	}
	return line.AppendInfo(b, fmt.Sprintf("  %-22s%s", "//text", "send text that starts with a slash"))
}

// usage is a command as typed: "/sub PATTERN [GROUP]".
func usage(c session.Command) string {
	var b strings.Builder
	b.WriteString("/" + c.Op.String())
	for _, p := range c.Params {
		name := strings.ToUpper(p.Name)
		if p.Field == session.FieldSince {
			name = "since=POSITION"
		}
		if p.Optional {
			name = "[" + name + "]"
		}
		b.WriteString(" " + name)
	}
	return b.String()
}

// ops maps the line protocol's commands onto session operations.
var ops = [...]session.Op{
	line.OpSay: session.OpSay, line.OpHelp: session.OpHelp, line.OpNick: session.OpNick,
	line.OpJoin: session.OpJoin, line.OpPart: session.OpPart, line.OpRooms: session.OpRooms,
	line.OpWho: session.OpWho, line.OpMsg: session.OpMsg, line.OpSub: session.OpSub,
	line.OpUnsub: session.OpUnsub, line.OpPub: session.OpPub, line.OpPing: session.OpPing,
	line.OpQuit: session.OpQuit, line.OpHistory: session.OpHistory, line.OpIDs: session.OpIDs,
	line.OpAuth: session.OpAuth,
}

// sessionOp returns the session operation of a parsed command.
func sessionOp(op line.Op) session.Op {
	if int(op) < len(ops) {
		return ops[op]
	}
	return 0
}
