package hub

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits on names, exported so front ends can document them.
const (
	// MaxTopicLen is the longest topic or pattern, in bytes.
	MaxTopicLen = 255
	// MaxNickLen is the longest nick, in bytes.
	MaxNickLen = 32
)

// Errors returned for malformed names. Their text is shown to users.
var (
	ErrBadTopic   = errors.New("hub: bad topic")
	ErrBadPattern = errors.New("hub: bad pattern")
	ErrBadNick    = errors.New("hub: bad nick")
	ErrBadGroup   = errors.New("hub: bad group")
)

// ValidateTopic checks a concrete topic: dot-separated tokens, each one or
// more of A-Z a-z 0-9 _ - (so no wildcards), at most MaxTopicLen bytes.
func ValidateTopic(t string) error {
	if err := checkTokens(t, false); err != nil {
		return &NameError{Kind: ErrBadTopic, Name: clip(t), Reason: err.Error(), Rule: "topics are dot-separated words of A-Z a-z 0-9 _ -"}
	}
	return nil
}

// ValidatePattern checks a subscription pattern: like a topic, but a token
// may be "*" (exactly one token) and the last token may be ">" (one or more
// trailing tokens).
func ValidatePattern(p string) error {
	if err := checkTokens(p, true); err != nil {
		return &NameError{Kind: ErrBadPattern, Name: clip(p), Reason: err.Error(), Rule: "use words of A-Z a-z 0-9 _ -, * for one word, > at the end for the rest"}
	}
	return nil
}

// nameRule is the rule for nicks and queue group names, as told to users.
var nameRule = fmt.Sprintf("use 1-%d of A-Z a-z 0-9 _ -", MaxNickLen)

// ValidateNick checks a nick: 1 to MaxNickLen bytes of A-Z a-z 0-9 _ -.
func ValidateNick(n string) error {
	if n == "" || len(n) > MaxNickLen || !IsWord(n) {
		return &NameError{Kind: ErrBadNick, Name: clip(n), Rule: nameRule}
	}
	return nil
}

// ValidateGroup checks a queue group name, which follows the nick rule.
func ValidateGroup(g string) error {
	if g == "" || len(g) > MaxNickLen || !IsWord(g) {
		return &NameError{Kind: ErrBadGroup, Name: clip(g), Rule: nameRule}
	}
	return nil
}

// IsLiteral reports whether a valid pattern has no wildcard, so it matches
// exactly one topic: itself.
func IsLiteral(p string) bool {
	return !strings.ContainsAny(p, "*>")
}

func checkTokens(s string, wild bool) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxTopicLen:
		return fmt.Errorf("longer than %d bytes", MaxTopicLen)
	}
	rest := s
	for {
		tok, after, more := strings.Cut(rest, ".")
		switch {
		case tok == "":
			return errors.New("empty word")
		case wild && tok == "*":
		case wild && tok == ">":
			if more {
				return errors.New("> must be the last word")
			}
		case !IsWord(tok):
			if !wild && (tok == "*" || tok == ">") {
				return errors.New("wildcards are not allowed here")
			}
			return fmt.Errorf("bad word %q", clip(tok))
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// IsWord reports whether s is non-empty and made only of A-Z a-z 0-9 _ -:
// the characters of topic words, nicks and queue group names.
func IsWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// Match reports whether the concrete topic t matches pattern p. Both must be
// valid. It does not allocate.
func Match(p, t string) bool {
	for {
		ptok, prest, pmore := strings.Cut(p, ".")
		if ptok == ">" {
			return t != ""
		}
		if t == "" {
			return false
		}
		ttok, trest, tmore := strings.Cut(t, ".")
		if ptok != "*" && ptok != ttok {
			return false
		}
		if !pmore || !tmore {
			return pmore == tmore
		}
		p, t = prest, trest
	}
}

// clip keeps names echoed in error messages short and terminal-safe: at
// most 40 bytes, cut at a character boundary, with valid UTF-8 kept as it
// is ("élan" stays "élan") and only invalid bytes and control characters
// replaced by '?'.
func clip(s string) string {
	const max = 40
	more := ""
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s, more = s[:cut], "..."
	}
	var b strings.Builder
	b.Grow(len(s) + len(more))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r >= 0x7f && r <= 0x9f:
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteString(more)
	return b.String()
}
