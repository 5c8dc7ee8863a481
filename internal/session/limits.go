package session

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// This file holds the per-client limits that Do enforces for every door:
// the caps on subscriptions and rooms and the command budget. Each limit
// is a contract: a documented bound (docs/security.md), a refusal with a
// stable code for the client that hits it, and no effect on anyone else.

// Defaults of the per-client limits in Config.
const (
	// DefaultMaxSubs is the default Config.MaxSubs: subscriptions a
	// client may hold at once, room memberships included.
	DefaultMaxSubs = 1000
	// DefaultMaxRooms is the default Config.MaxRooms: rooms a client may
	// be a member of at once.
	DefaultMaxRooms = 100
	// DefaultCommandRate is the default Config.CommandRate, in requests
	// per second: far above what a person types or a program needs to
	// set itself up, low enough that a client flooding listings or
	// subscription changes takes at most a few percent of a core.
	DefaultCommandRate = 1000
	// DefaultCommandBurst is the default Config.CommandBurst: a client may
	// take all its DefaultMaxSubs subscriptions at once when it starts,
	// and still list and ping.
	DefaultCommandBurst = 2 * DefaultMaxSubs
	// DefaultPendingSoftFor is the default Config.PendingSoftFor: a
	// client still more than the soft limit behind after 10 s is being
	// sent messages faster than it reads them, and what it gets is no
	// longer real time; a burst (a broadcast storm, a slow link for a
	// moment) drains well within it.
	DefaultPendingSoftFor = 10 * time.Second
)

// pendingSoftShare makes the default soft limit a quarter of the queue
// limit (256 KiB of the default 1 MiB), Redis's pubsub ratio (8 of 32 MB).
const pendingSoftShare = 4

// setLimitDefaults fills in the documented defaults of the per-client
// limits; a negative value means unlimited (off) and stays so.
func (c *Config) setLimitDefaults() {
	if c.MaxSubs == 0 {
		c.MaxSubs = DefaultMaxSubs
	}
	if c.MaxRooms == 0 {
		c.MaxRooms = DefaultMaxRooms
	}
	if c.CommandRate == 0 {
		c.CommandRate = DefaultCommandRate
	}
	if c.CommandBurst <= 0 {
		c.CommandBurst = DefaultCommandBurst
	}
	if c.MaxList == 0 {
		c.MaxList = DefaultMaxList
	}
	if c.PendingSoft == 0 {
		c.PendingSoft = c.MaxPending / pendingSoftShare
	}
	if c.PendingSoftFor <= 0 {
		c.PendingSoftFor = DefaultPendingSoftFor
	}
}

// CheckSubs returns the refusal a client asking for n subscriptions at
// once would get from MaxSubs (after setting defaults), or nil. Doors that
// take a whole list up front (the SSE door's ?topic= list) use it to
// refuse in their own form before they start; Do enforces the same cap on
// every subscribe anyway.
func (c Config) CheckSubs(n int) *Error {
	c.setLimitDefaults()
	if c.MaxSubs >= 0 && n > c.MaxSubs {
		return tooManySubs(c.MaxSubs)
	}
	return nil
}

func tooManySubs(max int) *Error {
	return &Error{Code: CodeTooMany, Text: "too many subscriptions (max " + strconv.Itoa(max) + ")"}
}

func tooManyRooms(max int) *Error {
	return &Error{Code: CodeTooMany, Text: "too many rooms (max " + strconv.Itoa(max) + ")"}
}

// capSub refuses a subscription past MaxSubs (room memberships count).
// It costs the same whatever the client holds.
func (s *Session) capSub() *Error {
	if s.cfg.MaxSubs < 0 {
		return nil
	}
	if subs, rooms := s.client.Counts(); subs+rooms >= s.cfg.MaxSubs {
		return tooManySubs(s.cfg.MaxSubs)
	}
	return nil
}

// capJoin refuses joining room past MaxRooms or MaxSubs. Joining a room
// the client is in already adds nothing, so it is never refused; telling
// the two apart costs a look at the client's rooms, only at the cap.
func (s *Session) capJoin(room string) *Error {
	subs, rooms := s.client.Counts()
	overRooms := s.cfg.MaxRooms >= 0 && rooms >= s.cfg.MaxRooms
	overSubs := s.cfg.MaxSubs >= 0 && subs+rooms >= s.cfg.MaxSubs
	if !overRooms && !overSubs {
		return nil
	}
	if slices.Contains(s.client.Rooms(), room) {
		return nil
	}
	if overRooms {
		return tooManyRooms(s.cfg.MaxRooms)
	}
	return tooManySubs(s.cfg.MaxSubs)
}

// budget is the token bucket of a session's commands (every request but
// the publishing ones, which RateLimit covers, and quit). Only the reader
// touches it, so it needs no lock; it is 16 bytes inside the session
// rather than a rate.Limiter's 80 on the heap, which every idle
// connection would pay.
type budget struct {
	tokens float64
	at     time.Duration // monotonic time of the last refill, from the registry's epoch
}

// take refills the bucket for the time since its last use and, if at
// least one token is there, takes n (possibly going into debt, down to
// -burst) and reports true.
func (b *budget) take(now time.Duration, rate, burst, n float64) bool {
	if el := now - b.at; el > 0 {
		b.tokens = min(burst, b.tokens+el.Seconds()*rate)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens = max(b.tokens-n, -burst)
	return true
}

// commandOp reports whether op draws on the command budget: every
// operation but publishing (rate-limited by RateLimit, off by default:
// publishing at full rate is what the hub is for) and quit (never
// refused).
func commandOp(op Op) bool {
	switch op {
	case OpSay, OpPub, OpMsg, OpQuit:
		return false
	}
	return true
}

// spend applies the command budget to a request of op, one token each.
func (s *Session) spend(op Op) *Error {
	if s.cfg.CommandRate < 0 || !commandOp(op) {
		return nil
	}
	if s.cmds.take(s.reg.clock(), s.cfg.CommandRate, float64(s.cfg.CommandBurst), 1) {
		return nil
	}
	s.reg.stats.rateLimited.Add(1)
	return &Error{Code: CodeRateLimited, Text: fmt.Sprintf("rate limited: at most %g commands a second", s.cfg.CommandRate)}
}

// overSoftLocked applies the soft limit to a queue about to hold n bytes:
// it notes when the queue went over PendingSoft and reports whether it
// has stayed over for longer than PendingSoftFor. It reads the clock only
// while the queue is over. Caller holds s.mu.
func (s *Session) overSoftLocked(n int) bool {
	if s.cfg.PendingSoft < 0 || n <= s.cfg.PendingSoft {
		return false
	}
	now := s.reg.clock() + 1 // never 0: 0 means under the limit
	if s.out.softSince == 0 {
		s.out.softSince = now
		return false
	}
	return now-s.out.softSince > s.cfg.PendingSoftFor
}

// drainedLocked ends the soft limit's grace once writes have brought the
// queue back under it. Caller holds s.mu.
func (s *Session) drainedLocked() {
	if s.out.softSince != 0 && s.out.pending <= s.cfg.PendingSoft {
		s.out.softSince = 0
	}
}
