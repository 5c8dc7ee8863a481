package line

import (
	"bytes"
	"errors"
	"strconv"
)

// Kind classifies a server line by its first bytes.
type Kind uint8

// The four kinds of line a server sends.
const (
	// KindInfo lines start with "* ": banners, replies and room events.
	KindInfo Kind = iota + 1
	// KindError lines start with "! ".
	KindError
	// KindMessage lines look like "[topic] nick: text".
	KindMessage
	// KindPrivate lines look like "(private) nick: text".
	KindPrivate
)

// Prefixes of the server line kinds, exported for documentation and tests.
const (
	InfoPrefix    = "* "
	ErrorPrefix   = "! "
	PrivatePrefix = "(private) "
)

// AppendInfo appends "* text\n" to dst.
func AppendInfo(dst []byte, text string) []byte {
	dst = append(dst, InfoPrefix...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// WithReason appends " (reason)" to an event's text when reason is set,
// as in "alice left lobby (node n3 lost)".
func WithReason(text, reason string) string {
	if reason == "" {
		return text
	}
	return text + " (" + reason + ")"
}

// AppendError appends "! text\n" to dst.
func AppendError(dst []byte, text string) []byte {
	dst = append(dst, ErrorPrefix...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// AppendMessage appends "[topic] from: text\n" to dst. The caller guarantees
// that topic and from are valid names and text is sanitized.
func AppendMessage(dst []byte, topic, from, text string) []byte {
	dst = append(dst, '[')
	dst = append(dst, topic...)
	dst = append(dst, "] "...)
	dst = append(dst, from...)
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// AppendMessageID appends "[topic#seq] from: text\n" to dst: a message
// with its position, as sessions with /ids on see it. Topics never
// contain '#', so the two forms cannot be confused.
func AppendMessageID(dst []byte, topic string, seq uint64, from, text string) []byte {
	dst = append(dst, '[')
	dst = append(dst, topic...)
	dst = append(dst, '#')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, "] "...)
	dst = append(dst, from...)
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// MessageLen is the length of the line AppendMessage writes, so callers can
// size a buffer exactly once.
func MessageLen(topic, from, text string) int {
	return len(topic) + len(from) + len(text) + 6
}

// AppendPrivate appends "(private) from: text\n" to dst: a private message,
// visibly different from room messages for people and parsers alike.
func AppendPrivate(dst []byte, from, text string) []byte {
	dst = append(dst, PrivatePrefix...)
	dst = append(dst, from...)
	dst = append(dst, ": "...)
	dst = append(dst, text...)
	return append(dst, '\n')
}

// ServerLine is one parsed server line. Its slices alias the input.
type ServerLine struct {
	Kind  Kind
	Topic []byte // KindMessage only
	// Seq is the message's position, on lines written with
	// AppendMessageID ("[topic#seq] ..."); HasSeq says it was there.
	Seq    uint64
	HasSeq bool
	From   []byte // KindMessage and KindPrivate
	Text   []byte // the rest: info or error text, or the message body
}

// ErrBadServerLine is returned by ParseServerLine for a line that is none of
// the four kinds.
var ErrBadServerLine = errors.New("line: not a server line")

// ParseServerLine classifies and splits one server line (without its line
// ending). It is the client side of the protocol, used by switchboard bench
// and the tests; it never allocates.
func ParseServerLine(l []byte) (ServerLine, error) {
	switch {
	case bytes.HasPrefix(l, []byte(InfoPrefix)):
		return ServerLine{Kind: KindInfo, Text: l[2:]}, nil
	case bytes.HasPrefix(l, []byte(ErrorPrefix)):
		return ServerLine{Kind: KindError, Text: l[2:]}, nil
	case bytes.HasPrefix(l, []byte(PrivatePrefix)):
		from, text, ok := bytes.Cut(l[len(PrivatePrefix):], []byte(": "))
		if !ok || len(from) == 0 {
			return ServerLine{}, ErrBadServerLine
		}
		return ServerLine{Kind: KindPrivate, From: from, Text: text}, nil
	case len(l) > 0 && l[0] == '[':
		topic, rest, ok := bytes.Cut(l[1:], []byte("] "))
		if !ok || len(topic) == 0 {
			return ServerLine{}, ErrBadServerLine
		}
		from, text, ok := bytes.Cut(rest, []byte(": "))
		if !ok || len(from) == 0 {
			return ServerLine{}, ErrBadServerLine
		}
		sl := ServerLine{Kind: KindMessage, Topic: topic, From: from, Text: text}
		if t, num, ok := bytes.Cut(topic, []byte("#")); ok {
			seq, err := parseSeq(num)
			if err != nil || len(t) == 0 {
				return ServerLine{}, ErrBadServerLine
			}
			sl.Topic, sl.Seq, sl.HasSeq = t, seq, true
		}
		return sl, nil
	}
	return ServerLine{}, ErrBadServerLine
}

// parseSeq reads a decimal sequence number as AppendMessageID writes it:
// digits only, no sign, no leading zero, within uint64. It does not
// allocate.
func parseSeq(b []byte) (uint64, error) {
	if len(b) == 0 || len(b) > 20 || (b[0] == '0' && len(b) > 1) {
		return 0, ErrBadServerLine
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, ErrBadServerLine
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, ErrBadServerLine
		}
		n = n*10 + d
	}
	return n, nil
}
