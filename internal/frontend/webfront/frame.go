package webfront

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// clientFrame is one JSON frame from a WebSocket client. Every field is a
// string; which ones an op needs is in docs/web.md.
type clientFrame struct {
	Op    string `json:"op"`
	Nick  string `json:"nick"`
	Room  string `json:"room"`
	Topic string `json:"topic"`
	Group string `json:"group"`
	To    string `json:"to"`
	Text  string `json:"text"`
}

// FrameError is a client frame that cannot be carried out. Op is the
// operation when it was recognised (for the reply's "re" field), else 0.
type FrameError struct {
	Op  line.Op
	Msg string
}

// Error returns the message shown to the client.
func (e *FrameError) Error() string { return e.Msg }

// ClientOps lists the op names a WebSocket client may send, in the order
// docs/web.md gives them.
func ClientOps() []string {
	return []string{"nick", "join", "part", "say", "pub", "msg", "sub", "unsub", "who", "rooms", "ping", "help", "quit"}
}

// opByName maps a client op name to its session operation.
func opByName(name string) (line.Op, bool) {
	switch name {
	case "nick":
		return line.OpNick, true
	case "join":
		return line.OpJoin, true
	case "part":
		return line.OpPart, true
	case "say":
		return line.OpSay, true
	case "pub":
		return line.OpPub, true
	case "msg":
		return line.OpMsg, true
	case "sub":
		return line.OpSub, true
	case "unsub":
		return line.OpUnsub, true
	case "who":
		return line.OpWho, true
	case "rooms":
		return line.OpRooms, true
	case "ping":
		return line.OpPing, true
	case "help":
		return line.OpHelp, true
	case "quit":
		return line.OpQuit, true
	}
	return 0, false
}

// opName is the JSON name of a session operation ("" for none).
func opName(op line.Op) string {
	if op == 0 {
		return ""
	}
	return op.String()
}

// DecodeFrame parses one client text frame into a session request. Errors
// are *FrameError values whose text is meant for the client.
func DecodeFrame(b []byte) (session.Request, error) {
	var f clientFrame
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&f); err != nil {
		return session.Request{}, &FrameError{Msg: "bad frame: " + describeJSONError(err)}
	}
	if d.More() {
		return session.Request{}, &FrameError{Msg: "bad frame: one JSON object per frame"}
	}
	if f.Op == "" {
		return session.Request{}, &FrameError{Msg: `bad frame: missing "op"; ops are ` + strings.Join(ClientOps(), ", ")}
	}
	op, ok := opByName(f.Op)
	if !ok {
		return session.Request{}, &FrameError{Msg: fmt.Sprintf("unknown op %q; ops are %s", clip(f.Op), strings.Join(ClientOps(), ", "))}
	}
	need := func(field, v string) error {
		if v == "" {
			return &FrameError{Op: op, Msg: fmt.Sprintf("%s needs %q", f.Op, field)}
		}
		return nil
	}
	r := session.Request{Op: op}
	var err error
	switch op {
	case line.OpNick:
		err, r.Arg = need("nick", f.Nick), f.Nick
	case line.OpJoin:
		err, r.Arg = need("room", f.Room), f.Room
	case line.OpPart, line.OpWho:
		r.Arg = f.Room
	case line.OpSay:
		err, r.Text = need("text", f.Text), f.Text
	case line.OpPub:
		if err = need("topic", f.Topic); err == nil {
			err = need("text", f.Text)
		}
		r.Arg, r.Text = f.Topic, f.Text
	case line.OpMsg:
		if err = need("to", f.To); err == nil {
			err = need("text", f.Text)
		}
		r.Arg, r.Text = f.To, f.Text
	case line.OpSub:
		err, r.Arg, r.Arg2 = need("topic", f.Topic), f.Topic, f.Group
	case line.OpUnsub:
		err, r.Arg = need("topic", f.Topic), f.Topic
	case line.OpPing:
		r.Text = f.Text
	}
	if err != nil {
		return session.Request{}, err
	}
	return r, nil
}

// describeJSONError turns a decoding error into a short message.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be a string", te.Field)
		}
		return "a frame must be a JSON object"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON (offset %d)", se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "not valid JSON (incomplete)"
	}
	return "not valid JSON"
}

// isPublish reports whether a request publishes (and so may need the
// publish token).
func isPublish(op line.Op) bool {
	return op == line.OpPub || op == line.OpSay || op == line.OpMsg
}

// clip keeps echoed client input short and printable.
func clip(s string) string { return line.Clip([]byte(s), 32) }
