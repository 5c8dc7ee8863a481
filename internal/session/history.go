package session

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

// This file holds the history operations: subscribing from a position
// (resume), /history, /ids, and the gap markers. The store is the hub's
// History (package history); the session reads it and merges what it
// reads with what arrives live.
//
// The seam between replay and live: a resuming session first starts
// holding (every topic message matching the patterns that reaches it is
// kept aside instead of queued), then subscribes, then reads the history,
// then — under its lock — queues the gap markers, the replay, and the held
// messages the replay did not contain, and stops holding. The hub records
// a message before it matches subscribers, so every message is in the
// read (recorded before it) or held (matched after the subscription), and
// a held message numbered at or below its topic's top at the time of the
// read was recorded before the read: it is in the replay already, or
// older than asked for, and is dropped. Nothing is lost or repeated at the
// seam (TestResumeSeamExactlyOnce).

// HistoryReader is what the session layer reads history from: package
// history's Store. A hub whose History implements it gives its registry
// the history operations.
type HistoryReader interface {
	// Read returns the kept messages of the topics matching patterns
	// from since on (see history.Store.Read).
	Read(patterns []string, since history.Since, limit int) history.Result
	// Epoch is the journal's epoch, which journal positions (SSE ids)
	// carry.
	Epoch() uint32
}

// UnorderedReader is an optional HistoryReader method. Unordered reports
// that live messages of one topic may reach this node out of number
// order: with the cluster's history in JetStream, each node forwards its
// own publishes, so a message numbered before a resume's read can arrive
// after a newer one. A resumed session then keeps each topic's top at the
// read as long as the topic's epoch lasts, dropping every later copy at
// or below it, instead of forgetting it at the first newer message (the
// price: its deliveries keep taking the session's lock).
type UnorderedReader interface {
	Unordered() bool
}

// PositionCodec is an optional Codec method: the same codec writing each
// message's position, for sessions that asked for it (the line
// protocol's "/ids on" writes "[TOPIC#SEQ] NICK: TEXT"). A codec whose
// messages always carry their position (JSON) does not need it.
type PositionCodec interface {
	WithPositions() Codec
}

// Gap is a gap marker: messages the client asked for that are no longer
// kept. Doors word it in their syntax ("! missed 12 messages on t").
type Gap struct {
	Topic string
	// Missed is how many messages are missing, 0 when unknown.
	Missed uint64
	// Lost says the client's position is from another epoch of the
	// topic's numbering: its history was lost (a restart without a
	// durable store), and what is kept now follows.
	Lost bool
}

// Text is the marker in plain words.
func (g Gap) Text() string {
	switch {
	case g.Lost:
		return "history for " + g.Topic + " was lost (epoch changed)"
	case g.Missed > 0:
		return fmt.Sprintf("missed %d messages on %s", g.Missed, g.Topic)
	}
	return "missed messages on " + g.Topic + " (older ones are no longer kept)"
}

// DefaultHistoryLines is how many messages /history shows without N.
const DefaultHistoryLines = 20

// histState is a session's history state.
type histState struct {
	// Session.screen's screenHolding bit is set while a resume holds
	// live messages (hold != nil), or filters what it replayed (tops);
	// screenIDs by "/ids on" (messages are then framed by idCodec);
	// screenTracking once the client uses positions ("/ids on", a since=
	// subscription): the session then remembers in pos, per topic, what
	// it queued, so that a slow consumer's last line says where to
	// resume. pos is guarded by Session.mu.
	pos     map[string]*topicPos
	idCodec Codec       // the codec's PositionCodec form, nil without one
	hold    *holdBuffer // guarded by Session.mu
	// tops are the resumed topics' positions at the read, for the
	// messages recorded before it that reach the session after the hold
	// ended (their publisher was slower than the resume): each topic's
	// entry goes with its first newer message. Guarded by Session.mu.
	tops map[string]history.Position
}

// topicPos is what a tracking session queued of one topic: the last
// number, and the first number queued since the queue was last empty
// (0 when everything queued has been written).
type topicPos struct {
	last, unsent uint64
}

// maxTracked bounds the topics a session tracks positions for.
const maxTracked = 1024

// trackLocked notes that m is being queued. Caller holds s.mu.
func (s *Session) trackLocked(m *hub.Message) {
	if m.Epoch == 0 {
		return // no position to resume from
	}
	p := s.hist.pos[m.Topic]
	if p == nil {
		if len(s.hist.pos) >= maxTracked {
			return
		}
		if s.hist.pos == nil {
			s.hist.pos = make(map[string]*topicPos)
		}
		p = &topicPos{}
		s.hist.pos[m.Topic] = p
	}
	p.last = m.Seq
	if p.unsent == 0 {
		p.unsent = m.Seq
	}
}

// writtenLocked notes that everything queued has been written. Caller
// holds s.mu.
func (s *Session) writtenLocked() {
	for _, p := range s.hist.pos {
		p.unsent = 0
	}
}

// resumeHintLocked adds to a slow consumer's notice, for a tracking
// session, the position to resume from on each topic: the last number
// written whole, as far as the session knows (a message written but not
// yet acknowledged may come again; none is skipped). Caller holds s.mu.
func (s *Session) resumeHintLocked(notice string) string {
	if len(s.hist.pos) == 0 {
		return notice
	}
	topics := make([]string, 0, len(s.hist.pos))
	for t := range s.hist.pos {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	var b strings.Builder
	b.WriteString(notice)
	b.WriteString("; last delivered:")
	for _, t := range topics {
		p := s.hist.pos[t]
		last := p.last
		if p.unsent != 0 {
			last = p.unsent - 1
		}
		fmt.Fprintf(&b, " %s#%d", t, last)
	}
	b.WriteString("; come back with /sub TOPIC since=SEQ")
	return b.String()
}

// holdBuffer is what a resume holds: the live messages matching its
// patterns that arrived since it started. Guarded by Session.mu.
type holdBuffer struct {
	patterns []string
	msgs     []*hub.Message
	bytes    int
}

// matches reports whether topic is one the hold is for.
func (h *holdBuffer) matches(topic string) bool {
	for _, p := range h.patterns {
		if hub.Match(p, topic) {
			return true
		}
	}
	return false
}

// held keeps m aside if a resume is holding its topic, or drops it if a
// resume replayed it already, and reports whether it did either. The
// delivery paths call it before queuing a topic message; it costs one
// atomic load when no resume is in progress or settling.
func (s *Session) held(m *hub.Message) bool {
	if m.Kind != hub.KindMessage || s.screen.Load()&(screenHolding|screenTracking) == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.screen.Load()&screenHolding == 0 {
		s.trackLocked(m)
		return false
	}
	if h := s.hist.hold; h != nil && h.matches(m.Topic) {
		h.bytes += len(m.Text) + len(m.Topic) + len(m.From) + 32
		if h.bytes > s.cfg.MaxPending {
			// As slow as a queue over its limit: the replay could not
			// be delivered either.
			s.releaseHoldLocked()
			s.beginCloseLocked(ReasonSlowConsumer, true)
			return true
		}
		h.msgs = append(h.msgs, m)
		return true
	}
	if s.replayedLocked(m) {
		return true
	}
	s.trackLocked(m)
	return false
}

// replayedLocked reports whether m was recorded before the last resume's
// read (so it was replayed, or is older than asked for), and forgets the
// topic's top at its first newer message. Caller holds s.mu.
func (s *Session) replayedLocked(m *hub.Message) bool {
	top, ok := s.hist.tops[m.Topic]
	if !ok {
		return false
	}
	if m.Epoch == top.Epoch && m.Seq <= top.Seq {
		return true
	}
	if s.reg.unordered && m.Epoch == top.Epoch {
		return false // an older copy may still come
	}
	delete(s.hist.tops, m.Topic)
	s.settleLocked()
	return false
}

// mergeTopsLocked makes tops the filter of held and late messages: in
// place of the last read's, or, when live messages come unordered, over
// them, topic by topic. Caller holds s.mu.
func (s *Session) mergeTopsLocked(tops map[string]history.Position) {
	if !s.reg.unordered || s.hist.tops == nil {
		s.hist.tops = tops
		return
	}
	for t, p := range tops {
		s.hist.tops[t] = p
	}
}

// settleLocked clears the holding flag once nothing is held or filtered.
// Caller holds s.mu.
func (s *Session) settleLocked() {
	if s.hist.hold == nil && len(s.hist.tops) == 0 {
		s.hist.tops = nil
		s.screen.And(^uint32(screenHolding))
	}
}

// msgCodec returns the codec framing messages for this session now.
func (s *Session) msgCodec() Codec {
	if s.screen.Load()&screenIDs != 0 {
		return s.hist.idCodec
	}
	return s.codec
}

// subscribeSince is OpSub with a position: subscribe, then replay what
// was missed since r.Since, gap markers first, then live.
func (s *Session) subscribeSince(r Request) *Error {
	since, e := s.parseSince(r.Since, r.Arg)
	if e != nil {
		return e
	}
	s.screen.Or(screenTracking)
	return s.resume([]string{r.Arg}, since, func() *Error { return s.subscribe(r) })
}

// joinSince is OpJoin with a position: join the room, then replay what
// was missed since r.Since (or the recent history, with "all"), then live:
// how a chat client shows a room's backlog on join and catches up after a
// reconnect.
func (s *Session) joinSince(r Request) *Error {
	if s.reg.history == nil {
		// No backlog to show: a plain join ("all" is what the chat app
		// asks on every first join), telling a client that asked for
		// what it missed that nothing can be replayed.
		e := s.join(r)
		if e == nil && r.Since != "all" {
			s.Info("this server keeps no history (--history 0): what was missed in " + r.Arg + " cannot be replayed")
		}
		return e
	}
	since, e := s.parseSince(r.Since, r.Arg)
	if e != nil {
		return e
	}
	s.screen.Or(screenTracking)
	return s.resume([]string{r.Arg}, since, func() *Error { return s.join(r) })
}

// SubscribeSince subscribes to every pattern (under the same rules as
// OpSub) and then replays, as one stream in the order the messages were
// recorded, what was missed on all of them since the position since (an
// SSE stream's Last-Event-ID). An empty since subscribes live only. It
// returns the first refusal, which it has sent. Reader only.
func (s *Session) SubscribeSince(patterns []string, since string) *Error {
	if since == "" {
		for _, p := range patterns {
			if e := s.Do(Request{Op: OpSub, Arg: p}); e != nil {
				return e
			}
		}
		return nil
	}
	// A sequence number needs one topic; several patterns take a time or
	// a journal id, as a wildcard does.
	one := ">"
	if len(patterns) == 1 {
		one = patterns[0]
	}
	pos, e := s.parseSince(since, one)
	if e == nil {
		e = s.resume(patterns, pos, func() *Error {
			for _, p := range patterns {
				if e := s.subscribe(Request{Op: OpSub, Arg: p}); e != nil {
					return e
				}
			}
			return nil
		})
	}
	if e != nil {
		s.refuse(Request{Op: OpSub}, e)
	}
	return e
}

// parseSince reads a position for pattern, refusing it when this server
// keeps no history.
func (s *Session) parseSince(text, pattern string) (history.Since, *Error) {
	if s.reg.history == nil {
		return history.Since{}, &Error{Code: CodeBadRequest, Text: "this server keeps no history (--history 0): since= cannot replay"}
	}
	if err := hub.ValidatePattern(pattern); err != nil {
		return history.Since{}, FromHub(err)
	}
	since, err := history.ParseSince(text, hub.IsLiteral(pattern), time.Now().UnixNano())
	if err != nil {
		return history.Since{}, &Error{Code: CodeBadRequest, Text: err.Error()}
	}
	return since, nil
}

// resume holds live messages on patterns, runs subscribe, reads the
// history from since and queues gaps, replay and held messages in order.
func (s *Session) resume(patterns []string, since history.Since, subscribe func() *Error) *Error {
	s.mu.Lock()
	s.hist.hold = &holdBuffer{patterns: patterns}
	if !s.reg.unordered {
		s.hist.tops = nil // a new read gives new tops
	}
	s.screen.Or(screenHolding)
	s.mu.Unlock()
	if e := subscribe(); e != nil {
		s.mu.Lock()
		held := s.releaseHoldLocked()
		s.mu.Unlock()
		s.queueHeld(held)
		return e
	}
	res := s.reg.history.Read(patterns, since, 0)
	s.mu.Lock()
	if s.hist.hold == nil {
		s.mu.Unlock()
		return nil // cut as a slow consumer while holding
	}
	slow := false
	for _, g := range res.Gaps {
		gap := Gap{Topic: g.Topic, Missed: g.Missed, Lost: g.Lost}
		_, sl := s.admitLocked(s.codec.Reply(Reply{Op: OpSub, Topic: g.Topic, Gap: &gap, Text: gap.Text()}))
		slow = slow || sl
	}
	c := s.msgCodec()
	for _, m := range res.Msgs {
		slow = s.admitMessageLocked(c, m) || slow
	}
	s.mergeTopsLocked(res.Tops) // before the hold goes: the filter takes over
	held := s.releaseHoldLocked()
	for _, m := range held {
		if !s.replayedLocked(m) {
			slow = s.admitMessageLocked(c, m) || slow
		}
	}
	s.settleLocked()
	s.startWriterLocked()
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
	return nil
}

// releaseHoldLocked stops holding and returns what was held. Caller holds
// s.mu.
func (s *Session) releaseHoldLocked() []*hub.Message {
	h := s.hist.hold
	s.hist.hold = nil
	s.settleLocked()
	if h == nil {
		return nil
	}
	return h.msgs
}

// queueHeld queues messages held by a resume that did not happen.
func (s *Session) queueHeld(msgs []*hub.Message) {
	for _, m := range msgs {
		s.Deliver(m)
	}
}

// admitMessageLocked queues m framed by c, unless the session is closing,
// and reports whether the session has just become a slow consumer (for
// the caller to log once it has released the lock). Caller holds s.mu.
func (s *Session) admitMessageLocked(c Codec, m *hub.Message) (slow bool) {
	if s.screen.Load()&screenTracking != 0 {
		s.trackLocked(m)
	}
	_, slow = s.admitMsgLocked(m, s.frameWith(c, m))
	return slow
}

// history is OpHistory: the last N messages of a topic (or of each topic
// of a pattern) as ordinary message lines, then "end of history".
func (s *Session) history(r Request) *Error {
	if e := s.guard(OpSub, r.Arg); e != nil {
		return e
	}
	n := DefaultHistoryLines
	if r.Text != "" {
		v, err := strconv.Atoi(r.Text)
		if err != nil || v < 1 || v > history.MaxReplay {
			return &Error{Code: CodeBadRequest, Text: fmt.Sprintf("N is a count from 1 to %d", history.MaxReplay)}
		}
		n = v
	}
	if s.reg.history == nil {
		return &Error{Code: CodeBadRequest, Text: "this server keeps no history (--history 0)"}
	}
	if err := hub.ValidatePattern(r.Arg); err != nil {
		return FromHub(err)
	}
	res := s.reg.history.Read([]string{r.Arg}, history.Since{Kind: history.SinceLast, Last: n}, n)
	c := s.msgCodec()
	slow := false
	s.mu.Lock()
	for _, m := range res.Msgs {
		slow = s.admitMessageLocked(c, m) || slow
	}
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
	text := "end of history " + r.Arg
	if len(res.Msgs) == 0 {
		text = "no history for " + r.Arg
	}
	s.Send(Reply{Op: r.Op, Topic: r.Arg, Count: len(res.Msgs), Text: text})
	return nil
}

// ids is OpIDs: turn message positions on or off.
func (s *Session) ids(r Request) *Error {
	switch r.Arg {
	case "on":
		s.screen.Or(screenTracking)
		if s.hist.idCodec == nil {
			s.Send(Reply{Op: r.Op, Text: "messages here always carry their position"})
			return nil
		}
		s.screen.Or(screenIDs)
		s.Send(Reply{Op: r.Op, Text: "ids on: messages read [TOPIC#SEQ] NICK: TEXT; resume with /sub TOPIC since=SEQ"})
	case "off":
		s.screen.And(^uint32(screenIDs))
		s.Send(Reply{Op: r.Op, Text: "ids off"})
	default:
		return &Error{Code: CodeBadRequest, Text: "ids takes on or off"}
	}
	return nil
}

// ReadHistory is the history read of a visitor (HTTP GET /history):
// the kept messages of topic from since ("" for all that is kept), at most
// limit (0 means history.MaxReplay). It refuses a bad topic or position
// (CodeBadName, CodeBadRequest), a topic the visitor may not
// subscribe to (CodeDenied, CodeAuthRequired), and every read when the server keeps no
// history.
func (g *Registry) ReadHistory(v Visitor, topic, since string, limit int) (history.Result, error) {
	if err := hub.ValidateTopic(topic); err != nil {
		return history.Result{}, FromHub(err)
	}
	if e := checkPerm(g, v.Door, g.visitorIdentity(v), OpSub, topic); e != nil {
		return history.Result{}, e
	}
	if g.history == nil {
		return history.Result{}, &Error{Code: CodeBadRequest, Text: "this server keeps no history (--history 0)"}
	}
	pos := history.Since{Kind: history.SinceAll}
	if since != "" {
		var err error
		if pos, err = history.ParseSince(since, true, time.Now().UnixNano()); err != nil {
			return history.Result{}, &Error{Code: CodeBadRequest, Text: err.Error()}
		}
	}
	return g.history.Read([]string{topic}, pos, limit), nil
}

// History returns the registry's history, or nil when the server keeps
// none; doors read its epoch for their ids.
func (g *Registry) History() HistoryReader { return g.history }
