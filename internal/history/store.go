package history

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Defaults of Config.
const (
	// DefaultKeep is the command line's default of Config.Keep: the last
	// 100 messages of each topic.
	DefaultKeep = 100
	// DefaultMaxAge is the default Config.MaxAge: an hour.
	DefaultMaxAge = time.Hour
	// DefaultMaxBytes is the default Config.MaxBytes: 64 MiB.
	DefaultMaxBytes = 64 << 20
	// MaxReplay bounds the messages one Read returns: a resume that
	// missed more gets the newest MaxReplay and a Gap for the rest.
	MaxReplay = 1000
)

// Config configures a Store. Zero values mean the documented defaults,
// except Keep, whose zero keeps nothing (history off unless a Rule keeps
// some).
type Config struct {
	// Keep is how many messages each topic keeps (the command line's
	// default is DefaultKeep); 0 keeps none.
	Keep int
	// MaxAge is how long a message is kept at most (default
	// DefaultMaxAge).
	MaxAge time.Duration
	// MaxBytes bounds the memory of all kept messages together, as
	// estimated by Size (default DefaultMaxBytes); past it the oldest
	// message of any topic is evicted first, and counted.
	MaxBytes int64
	// Rules override Keep and MaxAge for the topics they match; the first
	// matching rule wins.
	Rules []Rule
	// Now is the clock, in Unix nanoseconds (default the wall clock); for
	// tests.
	Now func() int64
	// Persist, when set, is given every message the store keeps once it
	// is numbered (outside the store's lock, so calls may interleave;
	// Journal orders them): a durable store writes it down, and gives it
	// back with Restore after a restart. It must not block for long: it
	// runs on the publisher's path.
	Persist func(m *hub.Message)
}

// Stats counts what a Store holds and has let go.
type Stats struct {
	Topics   int    // topics with a numbering (kept messages or not)
	Messages int    // messages kept
	Bytes    int64  // estimated bytes held (messages and topics)
	Recorded uint64 // messages recorded since start
	// Trimmed counts messages dropped by their topic's count or age
	// limit, Evicted those dropped under the byte cap (oldest first),
	// Forgotten the topics whose numbering was dropped under the byte
	// cap (their next message starts a new epoch).
	Trimmed, Evicted, Forgotten uint64
}

// Store is the in-memory history: it numbers and keeps the messages of
// the topics that keep history. It implements hub.History. It is safe for
// concurrent use; one mutex guards it, held for O(1) amortized work per
// recorded message and for the duration of a Read.
type Store struct {
	cfg   Config
	epoch uint32 // the journal's epoch: a new one at every start

	mu       sync.Mutex
	streams  map[string]*stream
	order    deque[ref] // kept messages and emptied topics, oldest first
	stale    int        // refs in order whose message is gone already
	bytes    int64
	journal  uint64
	forgotJ  uint64 // the journal when a topic was last forgotten
	stats    Stats
	lastTrim int64 // when the age sweep last ran
}

// ref is one entry of the store's global order: a kept message (seq > 0)
// or, with seq 0, a topic that was emptied at journal tomb.
type ref struct {
	s    *stream
	seq  uint64
	tomb uint64
}

// stream is one topic's numbering and its kept messages. Guarded by
// Store.mu.
type stream struct {
	topic    string
	epoch    uint32
	seq      uint64 // the last number given
	keep     int
	maxAge   int64
	lossy    bool   // its rule's policy is PolicyDropOldest
	born     uint64 // the journal when the numbering started
	msgs     deque[*hub.Message]
	gone     uint64 // every seq up to gone is no longer kept
	goneAt   int64  // Time of the last message no longer kept
	goneJ    uint64 // Journal of the last message no longer kept
	tomb     uint64 // journal of the pending emptied-topic ref, if any
	remote   [remoteWindow]remoteSeen
	remoteAt int
}

// remoteWindow is how many messages from other nodes a topic remembers,
// to number a message that arrives twice (through two overlapping
// interests) the same way both times.
const remoteWindow = 16

// remoteSeen maps a message's numbering on its origin node to ours.
type remoteSeen struct {
	node    uint64
	epoch   uint32
	seq     uint64
	local   uint64
	journal uint64
}

// Overheads of the byte estimate (see Size).
const (
	messageOverhead = 512 // the hub.Message, its deque slot and order ref
	topicOverhead   = 160 // a stream, its map entry
)

// Size estimates the memory a kept message holds: the message and its
// strings, and the encodings the doors cache on it (a line, a JSON frame
// and an SSE event, each about the size of its text).
func Size(m *hub.Message) int64 {
	return messageOverhead + 4*int64(len(m.Topic)+len(m.From)+len(m.Text))
}

// New returns an empty store with a fresh journal epoch.
func New(cfg Config) *Store {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = func() int64 { return time.Now().UnixNano() }
	}
	return &Store{cfg: cfg, epoch: newEpoch(), streams: make(map[string]*stream)}
}

// newEpoch returns a random non-zero epoch.
func newEpoch() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:]) | 1
}

// Epoch returns the journal's epoch, which SSE ids carry.
func (st *Store) Epoch() uint32 { return st.epoch }

// limits returns what topic keeps (Config.Limits).
func (st *Store) limits(topic string) (keep int, maxAge time.Duration, policy Policy) {
	return st.cfg.Limits(topic)
}

// Limits returns what topic keeps: the first matching rule's count, age
// and policy, else the configuration's (an age of 0 meaning
// DefaultMaxAge).
func (c *Config) Limits(topic string) (keep int, maxAge time.Duration, policy Policy) {
	defAge := c.MaxAge
	if defAge <= 0 {
		defAge = DefaultMaxAge
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		if hub.Match(r.Pattern, topic) {
			age := r.MaxAge
			if age <= 0 {
				age = defAge
			}
			return r.Keep, age, r.Policy
		}
	}
	return c.Keep, defAge, PolicyDisconnect
}

// Keeps reports whether topic keeps history.
func (st *Store) Keeps(topic string) bool {
	keep, _, _ := st.limits(topic)
	return keep > 0
}

// Record implements hub.History: it numbers m and keeps it, unless m's
// topic keeps nothing, and marks it Lossy when its rule says drop-oldest.
func (st *Store) Record(m *hub.Message, remote bool) bool {
	kept, fresh := st.record(m, remote)
	if fresh && st.cfg.Persist != nil {
		st.cfg.Persist(m)
	}
	return kept
}

// record is Record under the lock; fresh says m was numbered now (not a
// remote duplicate).
func (st *Store) record(m *hub.Message, remote bool) (kept, fresh bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[m.Topic]
	if s == nil {
		keep, age, policy := st.limits(m.Topic)
		m.Lossy = policy == PolicyDropOldest
		if keep <= 0 {
			if remote {
				// Its origin's epoch and journal mean nothing here.
				m.Epoch, m.Journal = 0, 0
			}
			return false, false
		}
		s = &stream{topic: m.Topic, epoch: newEpoch(), keep: keep, maxAge: int64(age), born: st.journal, lossy: m.Lossy}
		st.streams[m.Topic] = s
		st.bytes += topicOverhead + int64(len(m.Topic))
	}
	m.Lossy = s.lossy
	if remote && st.seenRemoteLocked(s, m) {
		return true, false
	}
	origin := remoteSeen{node: m.SenderNode, epoch: m.Epoch, seq: m.Seq}
	s.seq++
	st.journal++
	m.Seq, m.Epoch, m.Journal = s.seq, s.epoch, st.journal
	if remote {
		origin.local, origin.journal = m.Seq, m.Journal
		s.remote[s.remoteAt] = origin
		s.remoteAt = (s.remoteAt + 1) % remoteWindow
	}
	s.msgs.push(m)
	st.order.push(ref{s: s, seq: m.Seq})
	st.bytes += Size(m)
	st.stats.Recorded++
	for s.msgs.len() > s.keep {
		st.dropFrontLocked(s, false)
	}
	st.expireLocked(s, m.Time)
	st.sweepLocked(m.Time)
	st.capLocked()
	return true, true
}

// seenRemoteLocked gives m the numbering of its earlier copy, if this
// topic recorded it already, and reports whether it did.
func (st *Store) seenRemoteLocked(s *stream, m *hub.Message) bool {
	for _, r := range s.remote {
		if r.local != 0 && r.node == m.SenderNode && r.seq == m.Seq && r.epoch == m.Epoch {
			m.Seq, m.Epoch, m.Journal = r.local, s.epoch, r.journal
			return true
		}
	}
	return false
}

// dropFrontLocked drops the oldest kept message of s (evicted: under the
// byte cap, else by its topic's limits).
func (st *Store) dropFrontLocked(s *stream, evicted bool) {
	m := s.msgs.pop()
	s.gone, s.goneAt, s.goneJ = m.Seq, m.Time, m.Journal
	st.bytes -= Size(m)
	st.stale++
	if evicted {
		st.stats.Evicted++
	} else {
		st.stats.Trimmed++
	}
	if s.msgs.len() == 0 && s.tomb == 0 {
		// The numbering outlives the messages, until the byte cap
		// reaches this entry.
		s.tomb = st.journal
		st.order.push(ref{s: s, tomb: s.tomb})
	}
}

// expireLocked drops the messages of s older than its age limit.
func (st *Store) expireLocked(s *stream, now int64) {
	for s.msgs.len() > 0 && s.msgs.front().Time < now-s.maxAge {
		st.dropFrontLocked(s, false)
	}
}

// sweepLocked drops stale refs from the front of the order and, at most
// once a second, expires every topic's old messages, so that an idle
// topic does not hold them past their age.
func (st *Store) sweepLocked(now int64) {
	for i := 0; i < 4 && st.order.len() > 0; i++ {
		r := st.order.front()
		if r.seq == 0 || r.seq > r.s.gone {
			break
		}
		st.order.pop()
		st.stale--
	}
	if now-st.lastTrim >= int64(time.Second) {
		st.lastTrim = now
		for _, s := range st.streams {
			st.expireLocked(s, now)
		}
	}
	if st.stale > 1024 && st.stale*2 > st.order.len() {
		st.order.filter(func(r ref) bool { return r.seq == 0 || r.seq > r.s.gone })
		st.stale = 0
	}
}

// capLocked evicts the oldest entries until the store is within its byte
// cap: a kept message, or a topic emptied long ago, whose numbering is
// then forgotten.
func (st *Store) capLocked() {
	for st.bytes > st.cfg.MaxBytes && st.order.len() > 0 {
		r := st.order.pop()
		s := r.s
		switch {
		case r.seq == 0:
			if s.tomb != r.tomb {
				continue // refilled since; a newer entry stands for it
			}
			s.tomb = 0
			if s.msgs.len() == 0 && st.streams[s.topic] == s {
				delete(st.streams, s.topic)
				st.bytes -= topicOverhead + int64(len(s.topic))
				st.forgotJ = st.journal
				st.stats.Forgotten++
			}
		case r.seq <= s.gone:
			st.stale--
		default:
			st.dropFrontLocked(s, true)
			st.stale-- // the ref just popped
		}
	}
}

// Stats returns the store's counters.
func (st *Store) Stats() Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := st.stats
	out.Topics = len(st.streams)
	for _, s := range st.streams {
		out.Messages += s.msgs.len()
	}
	out.Bytes = st.bytes
	return out
}

// Position is a place in one topic's numbering.
type Position struct {
	Epoch uint32
	Seq   uint64
}

// Gap says that some messages a Read should have returned for Topic are
// no longer kept.
type Gap struct {
	Topic string
	// Missed is how many messages are missing, when known (0 when not:
	// messages older than what is kept were asked for by time).
	Missed uint64
	// Lost means the position asked for is from another epoch of the
	// topic's numbering (a restart, a forgotten topic): how much was
	// missed is unknown, and what is kept is returned.
	Lost bool
}

// Result is what a Read found.
type Result struct {
	// Msgs are the messages, oldest first (in journal order), shared
	// with the store: read-only.
	Msgs []*hub.Message
	// Gaps lists, per topic, what should have been returned but is no
	// longer kept, in topic order.
	Gaps []Gap
	// Tops is each matched topic's last number at the time of the read.
	// A live message of a topic in Tops with a number up to its top was
	// recorded before the read: it is in Msgs, or older than asked for.
	Tops map[string]Position
}

// Read returns the kept messages of the topics matching any of patterns
// from since on, the newest limit of them at most (0 or more than
// MaxReplay means MaxReplay), and a Gap for each topic where messages
// are missing.
func (st *Store) Read(patterns []string, since Since, limit int) Result {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.cfg.Now()
	var res Result
	res.Tops = make(map[string]Position)
	gaps := make(map[string]*Gap)
	visit := func(s *stream) {
		if _, done := res.Tops[s.topic]; done {
			return
		}
		st.expireLocked(s, now)
		res.Tops[s.topic] = Position{Epoch: s.epoch, Seq: s.seq}
		from, g := st.startLocked(s, since)
		if g != nil {
			gaps[s.topic] = g
		}
		n := s.msgs.len()
		i := 0
		if since.Kind == SinceLast {
			i = max(0, n-since.Last)
		}
		for ; i < n; i++ {
			if m := s.msgs.at(i); from(m) {
				res.Msgs = append(res.Msgs, m)
			}
		}
	}
	for _, p := range patterns {
		if hub.IsLiteral(p) {
			if s := st.streams[p]; s != nil {
				visit(s)
			} else if g := st.unknownLocked(p, since); g != nil {
				gaps[p] = g
			}
			continue
		}
		for topic, s := range st.streams {
			if hub.Match(p, topic) {
				visit(s)
			}
		}
	}
	finish(&res, gaps, limit)
	return res
}

// startLocked returns which kept messages of s a read from since wants,
// and the gap before them, if any.
func (st *Store) startLocked(s *stream, since Since) (func(*hub.Message) bool, *Gap) {
	w := Window{Topic: s.topic, Top: Position{Epoch: s.epoch, Seq: s.seq}, Gone: s.gone, GoneAt: s.goneAt, GoneJ: s.goneJ}
	from, g := w.start(since, st.epoch)
	if g == nil && since.Kind == SinceJournal && since.Epoch == st.epoch &&
		s.born > since.Journal && st.forgotJ > since.Journal {
		// Its numbering may have started again after a loss.
		g = &Gap{Topic: s.topic, Lost: true}
	}
	return from, g
}

// unknownLocked is the gap of a read on a topic the store has no
// numbering for: a position in it is stale.
func (st *Store) unknownLocked(topic string, since Since) *Gap {
	return unknownGap(topic, since, st.epoch)
}

// Top returns topic's current position, and false when the topic has no
// numbering.
func (st *Store) Top(topic string) (Position, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[topic]
	if s == nil {
		return Position{}, false
	}
	return Position{Epoch: s.epoch, Seq: s.seq}, true
}

// Restore puts back a message a durable store kept (Config.Persist) with
// the numbering it had: m's Seq, Epoch, Journal and Time are as recorded.
// Messages must come in journal order; one whose topic keeps nothing now,
// or that does not follow its topic's numbering, is skipped. A topic's
// messages missing before the first restored one are reported as gaps,
// as trimmed ones are. Retention applies as when recording. It reports
// whether m was kept.
func (st *Store) Restore(m *hub.Message) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[m.Topic]
	if s == nil {
		keep, age, policy := st.limits(m.Topic)
		if keep <= 0 || m.Epoch == 0 || m.Seq == 0 {
			return false
		}
		s = &stream{topic: m.Topic, epoch: m.Epoch, keep: keep, maxAge: int64(age), lossy: policy == PolicyDropOldest}
		st.streams[m.Topic] = s
		st.bytes += topicOverhead + int64(len(m.Topic))
	}
	if m.Epoch != s.epoch || m.Seq <= s.seq {
		return false
	}
	if m.Seq > s.seq+1 {
		// What came before was not kept: as if trimmed.
		s.gone, s.goneAt, s.goneJ = m.Seq-1, m.Time, m.Journal-1
	}
	s.seq = m.Seq
	st.journal = max(st.journal, m.Journal)
	m.Lossy = s.lossy
	s.msgs.push(m)
	st.order.push(ref{s: s, seq: m.Seq})
	st.bytes += Size(m)
	for s.msgs.len() > s.keep {
		st.dropFrontLocked(s, false)
	}
	st.expireLocked(s, st.cfg.Now())
	st.capLocked()
	return true
}

// RestoreJournal gives the store the journal epoch a durable store kept,
// and a journal at least at journal, so that positions in the journal
// (SSE ids) stay valid across a restart. Call it before any Record.
func (st *Store) RestoreJournal(epoch uint32, journal uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if epoch != 0 {
		st.epoch = epoch
	}
	st.journal = max(st.journal, journal)
}

// Bounds returns the most any topic keeps, by count and by age, over the
// store's default and its rules: what a durable copy must hold at least.
func (st *Store) Bounds() (keep int, maxAge time.Duration) { return st.cfg.Bounds() }

// Bounds returns the most any topic keeps, by count and by age, over the
// configuration's default and its rules.
func (c *Config) Bounds() (keep int, maxAge time.Duration) {
	keep, maxAge = c.Keep, c.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	for _, r := range c.Rules {
		keep = max(keep, r.Keep)
		maxAge = max(maxAge, r.MaxAge)
	}
	return keep, maxAge
}
