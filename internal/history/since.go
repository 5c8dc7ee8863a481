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
	// Policy is what a subscriber whose queue overflows on a matching
	// topic gets (default PolicyDisconnect).
	Policy Policy
}

// MaxRuleKeep is the largest Rule.Keep.
const MaxRuleKeep = 1_000_000

// Policy says what happens to a subscriber that cannot keep up with a
// topic: whether its queue's overflow cuts it off or costs it messages.
type Policy uint8

// The policies.
const (
	// PolicyDisconnect cuts a subscriber whose queue overflows as a slow
	// consumer, whatever the topic (the default).
	PolicyDisconnect Policy = iota
	// PolicyDropOldest is for lossy live feeds (prices, metrics): when a
	// message of a matching topic would overflow a subscriber's queue,
	// the oldest queued messages of that topic are dropped to make room,
	// and the subscriber is sent a gap marker saying how many, instead
	// of being disconnected.
	PolicyDropOldest
)

// policyNames are the policies as configuration writes them.
var policyNames = [...]string{PolicyDisconnect: "disconnect", PolicyDropOldest: "drop-oldest"}

// String returns the policy as configuration writes it.
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy reads a policy as String writes it.
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if n == s {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("policy %q: want disconnect or drop-oldest", clip(s))
}

// Validate checks a rule built other than by ParseRule (a config file's
// [[history]] table).
func (r Rule) Validate() error {
	if err := hub.ValidatePattern(r.Pattern); err != nil {
		return err
	}
	if r.Keep < 0 || r.Keep > MaxRuleKeep {
		return fmt.Errorf("keep is a count from 0 to %d", MaxRuleKeep)
	}
	if r.MaxAge < 0 {
		return errors.New("max-age must not be negative")
	}
	if int(r.Policy) >= len(policyNames) {
		return errors.New("unknown policy")
	}
	return nil
}

// ErrBadRule is wrapped by every ParseRule error.
var ErrBadRule = errors.New("bad history rule")

// ParseRule parses a rule as the command line writes it:
// PATTERN=KEEP[/MAXAGE][/POLICY], for example "alerts.>=1000/24h",
// "metrics.>=0" or "prices.>=10/drop-oldest".
func ParseRule(s string) (Rule, error) {
	bad := func(why string) (Rule, error) {
		return Rule{}, fmt.Errorf("%w %q: %s; write PATTERN=KEEP[/MAXAGE][/drop-oldest], e.g. alerts.>=1000/24h", ErrBadRule, clip(s), why)
	}
	p, rest, ok := strings.Cut(s, "=")
	if !ok {
		return bad("missing =")
	}
	if err := hub.ValidatePattern(p); err != nil {
		return bad(err.Error())
	}
	parts := strings.Split(rest, "/")
	if len(parts) > 3 {
		return bad("too many /")
	}
	keep, err := strconv.Atoi(parts[0])
	if err != nil || keep < 0 || keep > MaxRuleKeep {
		return bad("KEEP is a count from 0 to 1000000")
	}
	r := Rule{Pattern: p, Keep: keep}
	more := parts[1:]
	if len(more) > 0 && more[0] != "" && '0' <= more[0][0] && more[0][0] <= '9' {
		d, err := time.ParseDuration(more[0])
		if err != nil || d <= 0 {
			return bad("MAXAGE is a positive duration such as 10m or 24h")
		}
		r.MaxAge = d
		more = more[1:]
	}
	switch len(more) {
	case 0:
	case 1:
		if r.Policy, err = ParsePolicy(more[0]); err != nil {
			return bad("after KEEP come a MAXAGE such as 24h and a policy, drop-oldest or disconnect")
		}
	default:
		return bad("MAXAGE comes before the policy")
	}
	return r, nil
}

// clip keeps echoed input short and printable.
func clip(s string) string { return line.Clip([]byte(s), 40) }
