package history

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// SinceKind says what a Since counts from.
type SinceKind uint8

// The kinds of position.
const (
	// SinceAll reads everything kept.
	SinceAll SinceKind = iota + 1
	// SinceSeq reads the messages after Seq of one topic (of Epoch, when
	// not 0).
	SinceSeq
	// SinceTime reads the messages published at Time or later.
	SinceTime
	// SinceJournal reads the messages recorded after Journal, in the
	// store of epoch Epoch: the position of an SSE id, valid for every
	// topic of a stream.
	SinceJournal
	// SinceLast reads the last Last messages of each topic.
	SinceLast
)

// Since is a position to read from.
type Since struct {
	Kind    SinceKind
	Epoch   uint32
	Seq     uint64
	Journal uint64
	Time    int64 // Unix nanoseconds
	Last    int
}

// MinUnixTime is the smallest integer since= reads as a Unix time on a
// topic (2001-09-09); smaller integers are sequence numbers there. On a
// wildcard pattern every integer is a Unix time.
const MinUnixTime = 1_000_000_000

// ErrBadSince is wrapped by every ParseSince error.
var ErrBadSince = errors.New("bad since")

// sinceForms names the accepted forms, for errors.
const sinceForms = "use SEQ or SEQ@EPOCH (one topic), a duration such as 10m, a Unix time in seconds, an id EPOCH-N, or all"

// ParseSince parses a position as clients write it: "all"; a sequence
// number "42" or "42@9f3a1c07" (topics only, numbers below MinUnixTime);
// a duration back from now ("10m", "1h30m"); a Unix time in seconds
// ("1764660000"); or a journal id "9f3a1c07-1042" as SSE events carry.
// literal says whether it applies to one topic rather than a wildcard
// pattern; now is the current time in Unix nanoseconds.
func ParseSince(s string, literal bool, now int64) (Since, error) {
	bad := func(why string) (Since, error) {
		return Since{}, fmt.Errorf("%w %q: %s; %s", ErrBadSince, clip(s), why, sinceForms)
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > 64:
		return bad("too long")
	case s == "all":
		return Since{Kind: SinceAll}, nil
	}
	if e, j, ok := strings.Cut(s, "-"); ok && len(e) == 8 {
		epoch, err1 := parseEpoch(e)
		n, err2 := strconv.ParseUint(j, 10, 64)
		if err1 != nil || err2 != nil {
			return bad("not an id EPOCH-N")
		}
		return Since{Kind: SinceJournal, Epoch: epoch, Journal: n}, nil
	}
	if num, ep, ok := strings.Cut(s, "@"); ok {
		if !literal {
			return bad("a sequence number needs one topic, not a pattern")
		}
		seq, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			return bad("not a number before @")
		}
		epoch, err := parseEpoch(ep)
		if err != nil {
			return bad("the epoch after @ is 8 hex digits")
		}
		return Since{Kind: SinceSeq, Seq: seq, Epoch: epoch}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		if literal && n < MinUnixTime {
			return Since{Kind: SinceSeq, Seq: n}, nil
		}
		if n > uint64(1<<63-1)/uint64(time.Second) {
			return bad("time out of range")
		}
		return Since{Kind: SinceTime, Time: int64(n) * int64(time.Second)}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return bad("negative duration")
		}
		return Since{Kind: SinceTime, Time: now - int64(d)}, nil
	}
	return bad("not a position")
}

// parseEpoch reads an epoch as FormatEpoch writes it.
func parseEpoch(s string) (uint32, error) {
	if len(s) != 8 {
		return 0, errors.New("want 8 hex digits")
	}
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil || n == 0 {
		return 0, errors.New("want 8 hex digits")
	}
	return uint32(n), nil
}

// FormatEpoch writes an epoch as clients see it: 8 hex digits.
func FormatEpoch(e uint32) string { return fmt.Sprintf("%08x", e) }

// FormatID is the SSE id of a recorded message: the journal's epoch and
// the message's journal place, "9f3a1c07-1042". ParseSince reads it back.
func FormatID(epoch uint32, journal uint64) string {
	return FormatEpoch(epoch) + "-" + strconv.FormatUint(journal, 10)
}

// Rule is a per-pattern retention override.
type Rule struct {
	// Pattern is the topics it applies to (a hub pattern).
	Pattern string
	// Keep is how many messages each matching topic keeps; 0 keeps none.
	Keep int
	// MaxAge is how long they are kept at most; 0 means Config.MaxAge.
	MaxAge time.Duration
}

// ErrBadRule is wrapped by every ParseRule error.
var ErrBadRule = errors.New("bad history rule")

// ParseRule parses a rule as the command line writes it:
// PATTERN=KEEP[/MAXAGE], for example "alerts.>=1000/24h" or "metrics.>=0".
func ParseRule(s string) (Rule, error) {
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("%w %q: %s; write PATTERN=KEEP[/MAXAGE], e.g. alerts.>=1000/24h", ErrBadRule, clip(s), why)
	}
	p, rest, ok := strings.Cut(s, "=")
	if !ok {
		return bad("missing =")
	}
	if err := hub.ValidatePattern(p); err != nil {
		return bad(err.Error())
	}
	keepText, ageText, hasAge := strings.Cut(rest, "/")
	keep, err := strconv.Atoi(keepText)
	if err != nil || keep < 0 || keep > 1_000_000 {
		return bad("KEEP is a count from 0 to 1000000")
	}
	r := Rule{Pattern: p, Keep: keep}
	if hasAge {
		d, err := time.ParseDuration(ageText)
		if err != nil || d <= 0 {
			return bad("MAXAGE is a positive duration such as 10m or 24h")
		}
		r.MaxAge = d
	}
	return r, nil
}

// clip keeps echoed input short and printable.
func clip(s string) string { return line.Clip([]byte(s), 40) }
