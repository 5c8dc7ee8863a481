package line

import (
	"bytes"
	"errors"
	"fmt"
)

// Op identifies what a client line asks for.
type Op uint8

// The operations a client line can carry. OpSay is plain text sent to the
// current room; every other Op is a slash command.
const (
	OpSay Op = iota + 1
	OpHelp
	OpNick
	OpJoin
	OpPart
	OpRooms
	OpWho
	OpMsg
	OpSub
	OpUnsub
	OpPub
	OpPing
	OpQuit
	OpHistory
	OpIDs
	OpAuth
)

// String returns the command name as a user types it (without the slash).
func (o Op) String() string {
	for _, s := range commands {
		if s.op == o {
			return s.name
		}
	}
	if o == OpSay {
		return "say"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Command is one parsed client line. Its byte slices alias the line passed to
// ParseCommand, so they are valid only until that buffer is reused; callers
// copy what they keep.
type Command struct {
	Op Op
	// Arg is the first argument: the nick, room, pattern or topic. Empty when
	// the command takes none or an optional one was left out.
	Arg []byte
	// Arg2 is the second word for /sub (the queue group) and /history
	// (the count). Empty otherwise.
	Arg2 []byte
	// Since is the position of a "since=POSITION" word of /sub or /join,
	// without "since=". Empty otherwise.
	Since []byte
	// Text is the free text of OpSay, /msg and /pub (may contain spaces).
	Text []byte
}

// ErrEmpty is returned for a blank line, which callers simply ignore.
var ErrEmpty = errors.New("line: empty line")

// UsageError reports a known command used with the wrong arguments, or an
// unknown command. Its message is meant to be shown to the user as is.
type UsageError struct {
	Msg string
}

// Error returns the user-facing explanation.
func (e *UsageError) Error() string { return e.Msg }

type argSpec uint8

const (
	argNone     argSpec = iota // no arguments
	argOne                     // exactly one word
	argOptOne                  // zero or one word
	argOneText                 // one word then non-empty text
	argOneOpt2                 // one word and an optional second word
	argOptToken                // optional free text (ping)
	argSub                     // a pattern, an optional group and an optional since=POSITION
	argSecret                  // one word carried in Text, never echoed (auth)
	argJoin                    // a room and an optional since=POSITION
)

type commandSpec struct {
	name  string
	op    Op
	args  argSpec
	usage string
}

var commands = [...]commandSpec{
	{"help", OpHelp, argNone, "/help"},
	{"nick", OpNick, argOne, "/nick NAME"},
	{"join", OpJoin, argJoin, "/join ROOM [since=POSITION]"},
	{"part", OpPart, argOptOne, "/part [ROOM]"},
	{"rooms", OpRooms, argNone, "/rooms"},
	{"who", OpWho, argOptOne, "/who [ROOM]"},
	{"msg", OpMsg, argOneText, "/msg NICK TEXT"},
	{"sub", OpSub, argSub, "/sub PATTERN [GROUP] [since=POSITION]"},
	{"unsub", OpUnsub, argOne, "/unsub PATTERN"},
	{"pub", OpPub, argOneText, "/pub TOPIC TEXT"},
	{"ping", OpPing, argOptToken, "/ping [TOKEN]"},
	{"quit", OpQuit, argNone, "/quit"},
	{"history", OpHistory, argOneOpt2, "/history TOPIC [N]"},
	{"ids", OpIDs, argOne, "/ids on|off"},
	{"auth", OpAuth, argSecret, "/auth TOKEN"},
}

// sincePrefix starts the position word of /sub and /join.
var sincePrefix = []byte("since=")

// Usage returns the usage string of an operation, such as "/sub PATTERN [GROUP]".
func Usage(op Op) string {
	for _, s := range commands {
		if s.op == op {
			return s.usage
		}
	}
	return ""
}

// ParseCommand parses one client line, without its line ending. Lines that do
// not start with '/' are OpSay; "//text" is OpSay with the literal text
// "/text". Command names are case-insensitive. It never allocates on success.
func ParseCommand(l []byte) (Command, error) {
	if len(bytes.TrimSpace(l)) == 0 {
		return Command{}, ErrEmpty
	}
	if l[0] != '/' {
		return Command{Op: OpSay, Text: l}, nil
	}
	if len(l) > 1 && l[1] == '/' {
		return Command{Op: OpSay, Text: l[1:]}, nil
	}
	if len(l) > 1 && (l[1] == ' ' || l[1] == '\t') {
		// "/ join t1" is a typo, neither a command nor text meant for
		// everyone in the room: refuse it and say how to write either.
		name, _ := cutWord(l[1:])
		return Command{}, &UsageError{Msg: spaceAfterSlash(name)}
	}
	name, rest := cutWord(l[1:])
	spec, ok := lookup(name)
	if !ok {
		if len(name) == 0 {
			return Command{}, &UsageError{Msg: "missing command after '/'; type /help for commands"}
		}
		return Command{}, &UsageError{Msg: fmt.Sprintf("unknown command /%s; type /help for commands", clip(name))}
	}
	c := Command{Op: spec.op}
	bad := func() (Command, error) {
		return Command{}, &UsageError{Msg: "usage: " + spec.usage + "; type /help for commands"}
	}
	switch spec.args {
	case argNone:
		if len(bytes.TrimSpace(rest)) != 0 {
			return bad()
		}
	case argOne, argOptOne:
		c.Arg, rest = cutWord(rest)
		if len(bytes.TrimSpace(rest)) != 0 || (spec.args == argOne && len(c.Arg) == 0) {
			return bad()
		}
	case argOneOpt2:
		c.Arg, rest = cutWord(rest)
		c.Arg2, rest = cutWord(rest)
		if len(c.Arg) == 0 || len(bytes.TrimSpace(rest)) != 0 {
			return bad()
		}
	case argSub:
		// /sub PATTERN [GROUP] [since=POSITION], in that order.
		c.Arg, rest = cutWord(rest)
		w, rest := cutWord(rest)
		if len(w) > 0 && !bytes.HasPrefix(w, sincePrefix) {
			c.Arg2 = w
			w, rest = cutWord(rest)
		}
		if len(w) > 0 {
			v, ok := bytes.CutPrefix(w, sincePrefix)
			if !ok || len(v) == 0 {
				return bad()
			}
			c.Since = v
		}
		if len(c.Arg) == 0 || len(bytes.TrimSpace(rest)) != 0 || bytes.HasPrefix(c.Arg, sincePrefix) {
			return bad()
		}
	case argJoin:
		// /join ROOM [since=POSITION].
		c.Arg, rest = cutWord(rest)
		w, rest := cutWord(rest)
		if len(w) > 0 {
			v, ok := bytes.CutPrefix(w, sincePrefix)
			if !ok || len(v) == 0 {
				return bad()
			}
			c.Since = v
		}
		if len(c.Arg) == 0 || len(bytes.TrimSpace(rest)) != 0 || bytes.HasPrefix(c.Arg, sincePrefix) {
			return bad()
		}
	case argOneText:
		c.Arg, rest = cutWord(rest)
		c.Text = trimLeftSpace(rest)
		if len(c.Arg) == 0 || len(c.Text) == 0 {
			return bad()
		}
	case argOptToken:
		c.Text = bytes.TrimSpace(rest)
	case argSecret:
		// In Text, not Arg: replies name their argument, and a secret
		// must never be echoed.
		c.Text = bytes.TrimSpace(rest)
		if len(c.Text) == 0 || bytes.ContainsAny(c.Text, " \t") {
			return bad()
		}
	}
	return c, nil
}

// spaceAfterSlash explains the refusal of a line starting with "/ ".
func spaceAfterSlash(name []byte) string {
	if spec, ok := lookup(name); ok {
		return fmt.Sprintf("no space after '/': type /%s, not / %s; //text sends text starting with '/'", spec.name, spec.name)
	}
	return "no space after '/': commands are written /join ROOM; //text sends text starting with '/'; type /help for commands"
}

func lookup(name []byte) (commandSpec, bool) {
	for _, s := range commands {
		if len(s.name) == len(name) && asciiEqualFold(s.name, name) {
			return s, true
		}
	}
	return commandSpec{}, false
}

func asciiEqualFold(s string, b []byte) bool {
	for i := 0; i < len(s); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if s[i] != c {
			return false
		}
	}
	return true
}

// cutWord splits off the first space-separated word, skipping leading spaces
// and tabs.
func cutWord(b []byte) (word, rest []byte) {
	b = trimLeftSpace(b)
	// A plain loop: words are short, and bytes.IndexAny builds a byte
	// set on every call (2% of server CPU when publishing).
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// clip shortens untrusted input echoed back in an error and makes it safe.
func clip(b []byte) string { return Clip(b, 32) }
