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
	Since string `json:"since"`
	Limit string `json:"limit"`
	Token string `json:"token"`
}

// FrameError is a client frame that cannot be carried out. Op is the
// operation when it was recognised (for the reply's "re" field), else 0.
type FrameError struct {
	Op  session.Op
	Msg string
}

// Error returns the message shown to the client.
func (e *FrameError) Error() string { return e.Msg }

// ClientOps lists the op names a WebSocket client may send, in the order
// docs/web.md gives them. They are the session's operation names.
func ClientOps() []string {
	return []string{"nick", "join", "part", "say", "pub", "msg", "sub", "unsub", "history", "who", "rooms", "ping", "help", "quit", "auth"}
}

// opByName maps a client op name to its session operation.
func opByName(name string) (session.Op, bool) {
	for _, n := range ClientOps() {
		if n == name {
			return session.OpByName(name)
		}
	}
	return 0, false
}

// opName is the JSON name of a session operation ("" for none).
func opName(op session.Op) string {
	if op == 0 {
		return ""
	}
	return op.String()
}

// fieldName is the JSON field of a client frame that carries a request
// field for op, as DecodeFrame reads it.
func fieldName(op session.Op, f session.Field) string {
	switch {
	case f == session.FieldArg2:
		return "group"
	case f == session.FieldSince:
		return "since"
	case f == session.FieldText && op == session.OpHistory:
		return "limit"
	case f == session.FieldText:
		return "text"
	}
	switch op {
	case session.OpNick:
		return "nick"
	case session.OpMsg:
		return "to"
	case session.OpPub, session.OpSub, session.OpUnsub, session.OpHistory:
		return "topic"
	}
	return "room"
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
	case session.OpNick:
		err, r.Arg = need("nick", f.Nick), f.Nick
	case session.OpJoin:
		err, r.Arg, r.Since = need("room", f.Room), f.Room, f.Since
	case session.OpPart, session.OpWho:
		r.Arg = f.Room
	case session.OpSay:
		err, r.Text = need("text", f.Text), f.Text
	case session.OpPub:
		if err = need("topic", f.Topic); err == nil {
			err = need("text", f.Text)
		}
		r.Arg, r.Text = f.Topic, f.Text
	case session.OpMsg:
		if err = need("to", f.To); err == nil {
			err = need("text", f.Text)
		}
		r.Arg, r.Text = f.To, f.Text
	case session.OpSub:
		err, r.Arg, r.Arg2, r.Since = need("topic", f.Topic), f.Topic, f.Group, f.Since
	case session.OpHistory:
		err, r.Arg, r.Text = need("topic", f.Topic), f.Topic, f.Limit
	case session.OpUnsub:
		err, r.Arg = need("topic", f.Topic), f.Topic
	case session.OpPing:
		r.Text = f.Text
	case session.OpAuth:
		err, r.Text = need("token", f.Token), f.Token
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

// clip keeps echoed client input short and printable.
func clip(s string) string { return line.Clip([]byte(s), 32) }
