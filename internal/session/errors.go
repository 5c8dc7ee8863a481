package session

import (
	"errors"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Code says what kind of refusal an Error is. Codes are stable: doors show
// them to machines (the WebSocket door's "code" field) and may add a hint
// in their own syntax (the line door adds "; type /help for commands").
type Code uint8

// Error codes.
const (
	CodeNone         Code = iota
	CodeBadName           // a malformed topic, pattern, nick or group
	CodeNickTaken         // the nick belongs to someone else
	CodeNoRoom            // plain text, but no current room
	CodeNotMember         // not a member of that room
	CodeNotSub            // no such subscription
	CodeAlreadySub        // already subscribed to that pattern and group
	CodeNoSuchNick        // no client has that nick
	CodeSelf              // a private message to oneself
	CodeRateLimited       // over the rate limit
	CodeUnknownOp         // the door asked for an operation that does not exist
	CodeInternal          // the server failed, not the client
	CodeBadRequest        // the door could not make sense of what the client sent
	CodeDenied            // the client's identity may not do that (auth.go)
	CodeTooMany           // a per-client cap is reached (subscriptions, rooms)
	CodeAuthRequired      // the client must authenticate first (auth.go)
	CodeBadToken          // a token or JWT was refused
)

var codeNames = [...]string{
	CodeNone: "", CodeBadName: "bad_name", CodeNickTaken: "nick_taken", CodeNoRoom: "no_room",
	CodeNotMember: "not_member", CodeNotSub: "not_subscribed", CodeAlreadySub: "already_subscribed",
	CodeNoSuchNick: "no_such_nick", CodeSelf: "self", CodeRateLimited: "rate_limited",
	CodeUnknownOp: "unknown_op", CodeInternal: "internal", CodeBadRequest: "bad_request",
	CodeDenied: "denied", CodeTooMany: "too_many", CodeAuthRequired: "auth_required", CodeBadToken: "bad_token",
}

// String returns the code's stable name, such as "rate_limited".
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "unknown"
}

// Error is a refusal shown to the client that caused it: what went wrong,
// in plain words that fit every door. It is a value, not a string to be
// parsed.
type Error struct {
	Code Code
	Text string
	// RetryAfter is how long to wait before trying again, for
	// CodeRateLimited refusals that know it.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string { return e.Text }

// FromHub turns an error from the hub into the Error the client sees, for
// doors that check a name before handing the request on.
func FromHub(err error) *Error {
	var ne *hub.NameError
	switch {
	case errors.As(err, &ne):
		return &Error{Code: CodeBadName, Text: ne.Text()}
	case errors.Is(err, hub.ErrNickTaken):
		return &Error{Code: CodeNickTaken, Text: "nick is taken"}
	case errors.Is(err, hub.ErrNotMember):
		return &Error{Code: CodeNotMember, Text: "not a member of that room"}
	case errors.Is(err, hub.ErrNotSubscribed):
		return &Error{Code: CodeNotSub, Text: "no such subscription"}
	case errors.Is(err, hub.ErrAlreadySub):
		return &Error{Code: CodeAlreadySub, Text: "already subscribed"}
	case errors.Is(err, hub.ErrNoSuchNick):
		return &Error{Code: CodeNoSuchNick, Text: "no such nick"}
	case errors.Is(err, hub.ErrSelf):
		return &Error{Code: CodeSelf, Text: "that is you"}
	}
	return &Error{Code: CodeInternal, Text: "internal error: " + err.Error()}
}
