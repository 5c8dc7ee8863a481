package natsbp

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

// This file is the cluster's history in JetStream (`--cluster-history`):
// one stream for the whole cluster, each topic on its own subject, so that
// any node numbers, keeps and reads every topic's messages the same way.
//
// Numbering: JetStream is the one sequencer of each topic. A node
// publishes a topic's next message with its topic number (the last one it
// knows + 1) in a header and the stream sequence of the topic's last
// message as Nats-Expected-Last-Subject-Sequence; the stream refuses the
// write if another node wrote the topic in between, and the node reads the
// topic's last message again and retries. An accepted message's topic
// number, epoch and stream sequence (its journal place) are its Seq, Epoch
// and Journal everywhere: the backplane carries them, and the receiving
// nodes keep them (Record with remote set changes nothing).

// ClusterHistoryConfig configures a ClusterHistory.
type ClusterHistoryConfig struct {
	// History gives each topic's limits (Keep, MaxAge, Rules, through
	// history.Config.Limits); MaxBytes and Persist are not used.
	History history.Config
	// Replicas is how many copies of the stream JetStream keeps (default
	// 1); more than 1 needs a clustered NATS with JetStream.
	Replicas int
	// Timeout bounds each publish, and each read as a whole (default
	// DefaultHistoryTimeout).
	Timeout time.Duration
}

// DefaultHistoryTimeout is the default ClusterHistoryConfig.Timeout.
const DefaultHistoryTimeout = 2 * time.Second

// Headers of a message in the cluster history, besides hdrSeq, hdrEpoch,
// hdrTime and hdrFrom: where and when the topic's previous message was,
// so that a read knows what is gone before the first message it finds.
const (
	hdrPrev     = "Sb-Prev"
	hdrPrevTime = "Sb-Prev-Time"
)

// Bounds of the cluster history's work.
const (
	maxReadTopics = 1000 // topics one wildcard read visits
	maxTopicCache = 1 << 16
)

// ErrNoJetStream is wrapped by OpenHistory's error when the cluster's
// NATS has no JetStream.
var ErrNoJetStream = errors.New("the cluster's NATS has no JetStream")

// ClusterHistory is the cluster's history in JetStream: it implements
// hub.History (Record) and the session layer's history reads (Read,
// Epoch). It is safe for concurrent use.
type ClusterHistory struct {
	cfg         history.Config
	timeout     time.Duration
	subj        string // subject prefix; a topic's messages are on subj+topic
	streamName  string
	nc          *nats.Conn
	js          jetstream.JetStream
	stream      jetstream.Stream
	epoch       uint32       // the journal's epoch: from the stream's creation time
	up          atomic.Bool  // the connection is up: else publishes go unnumbered at once
	pausedUntil atomic.Int64 // Unix ns: publishes go unnumbered at once until then (pause)

	mu     sync.Mutex // guards topics; a leaf lock, never held across NATS
	topics map[string]*topicSeq

	unnumbered, conflicts, readErrors atomic.Uint64
}

// topicSeq is what this node knows of one topic's numbering.
type topicSeq struct {
	// mu serializes this node's publishes on the topic and guards top;
	// it is held across the JetStream publish, and only this topic's
	// publishers wait for it.
	mu  sync.Mutex
	top topTop
}

// topTop is a topic's last message, as far as a node knows.
type topTop struct {
	known  bool   // the fields below are known
	epoch  uint32 // the topic's epoch
	seq    uint64 // its last topic number
	last   uint64 // the stream sequence of its last message (0: none)
	lastAt int64  // the time of its last message
}

// historyNames returns the JetStream stream of the cluster's history and
// its subject prefix.
func (c Config) historyNames() (stream, subject string) {
	return "SBCLUSTER_" + c.Prefix + "_" + c.ClusterName, c.Prefix + "." + c.ClusterName + ".hist."
}

// OpenHistory connects to the cluster's NATS once more and creates (or
// updates) the cluster history's stream there. It fails, wrapping
// ErrNoJetStream, when NATS has no JetStream.
func (b *Backplane) OpenHistory(ctx context.Context, cfg ClusterHistoryConfig) (*ClusterHistory, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHistoryTimeout
	}
	name, subj := b.cfg.historyNames()
	h := &ClusterHistory{cfg: cfg.History, timeout: cfg.Timeout, subj: subj, streamName: name, topics: make(map[string]*topicSeq)}
	opts := append(b.options("history", false),
		nats.ConnectHandler(func(*nats.Conn) { h.up.Store(true) }),
		nats.ReconnectHandler(func(*nats.Conn) { h.up.Store(true) }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { h.up.Store(false) }))
	nc, err := nats.Connect(joinURLs(b.cfg.URLs), opts...)
	if err != nil {
		return nil, fmt.Errorf("natsbp: cluster history: connect to NATS at %s: %w", redact(b.cfg.URLs), err)
	}
	h.nc = nc
	h.up.Store(nc.IsConnected())
	fail := func(err error) (*ClusterHistory, error) {
		nc.Close()
		return nil, err
	}
	if !nc.IsConnected() {
		return fail(fmt.Errorf("natsbp: cluster history: NATS at %s unreachable: the history stream needs NATS at start, --cluster-optional or not", redact(b.cfg.URLs)))
	}
	if h.js, err = jetstream.New(nc); err != nil {
		return fail(fmt.Errorf("natsbp: cluster history: %w", err))
	}
	keep, age := cfg.History.Bounds()
	sc := jetstream.StreamConfig{
		Name:              name,
		Subjects:          []string{subj + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          max(cfg.Replicas, 1),
		MaxMsgsPerSubject: int64(max(keep, 1)),
		MaxAge:            age,
		Discard:           jetstream.DiscardOld,
	}
	h.stream, err = h.js.CreateOrUpdateStream(ctx, sc)
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders):
		return fail(fmt.Errorf("natsbp: cluster history: %w (%v): run nats-server with -js, or give the node embedding NATS (--nats-embed) --cluster-history too", ErrNoJetStream, err))
	case err != nil:
		return fail(fmt.Errorf("natsbp: cluster history: stream %s: %w", name, err))
	}
	hash := fnv.New32a()
	fmt.Fprint(hash, name, h.stream.CachedInfo().Created.UnixNano())
	h.epoch = hash.Sum32() | 1
	b.hist.Store(h)
	return h, nil
}

// Epoch returns the journal's epoch, which SSE ids carry: the same on
// every node, as long as the stream lives.
func (h *ClusterHistory) Epoch() uint32 { return h.epoch }

// Record implements hub.History. A local message is written to the
// stream, waiting for JetStream's acknowledgement, and numbered by it; a
// message from another node (remote) keeps the numbering its node gave
// it. It reports false, changing nothing, when m's topic keeps nothing.
func (h *ClusterHistory) Record(m *hub.Message, remote bool) bool {
	keep, _, policy := h.cfg.Limits(m.Topic)
	m.Lossy = policy == history.PolicyDropOldest
	if keep <= 0 {
		return false
	}
	if !remote {
		h.sequence(m)
	}
	return true
}

// sequence writes m to the stream as its topic's next message and gives
// it the numbering the stream accepted, or no numbering (0) when it
// cannot.
func (h *ClusterHistory) sequence(m *hub.Message) {
	m.Seq, m.Epoch, m.Journal = 0, 0, 0
	if !h.available() {
		h.unnumbered.Add(1)
		return
	}
	t := h.topic(m.Topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !h.available() { // failed while this publisher waited for the topic
		h.unnumbered.Add(1)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	top := &t.top
	// A conflict means another node wrote the topic: retry, for as long
	// as the timeout allows, so that a node outpaced by a busy one still
	// gets its turn.
	for ctx.Err() == nil {
		if !top.known {
			if err := h.loadTop(ctx, m.Topic, top); err != nil {
				h.pause()
				break
			}
		}
		ack, err := h.js.PublishMsg(ctx, h.encode(m, top), jetstream.WithExpectLastSequencePerSubject(top.last))
		if err == nil {
			top.seq++
			top.last, top.lastAt = ack.Sequence, m.Time
			m.Seq, m.Epoch, m.Journal = top.seq, top.epoch, ack.Sequence
			return
		}
		top.known = false
		if !wrongLast(err) {
			h.pause()
			break
		}
		h.conflicts.Add(1)
	}
	h.unnumbered.Add(1)
}

// pauseFor is how long publishes skip JetStream after a request to it
// failed other than by a conflict (a timeout: NATS stalled, or JetStream
// down), so that a stalled NATS costs one publisher the timeout, not
// every publisher in turn.
const pauseFor = time.Second

// pause makes publishes skip JetStream for pauseFor.
func (h *ClusterHistory) pause() { h.pausedUntil.Store(time.Now().Add(pauseFor).UnixNano()) }

// available reports whether publishes should try JetStream: connected,
// and not paused after a failure.
func (h *ClusterHistory) available() bool {
	return h.up.Load() && time.Now().UnixNano() >= h.pausedUntil.Load()
}

// topic returns this node's numbering state of topic.
func (h *ClusterHistory) topic(topic string) *topicSeq {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[topic]
	if t == nil {
		if len(h.topics) >= maxTopicCache {
			// Forgetting costs a read of the topic's last message at its
			// next publish; two states of one topic only conflict, and
			// the stream settles that.
			clear(h.topics)
		}
		t = &topicSeq{}
		h.topics[topic] = t
	}
	return t
}

// loadTop reads topic's last message into t: a topic absent from the
// stream (never written, or everything expired) starts a new epoch.
func (h *ClusterHistory) loadTop(ctx context.Context, topic string, t *topTop) error {
	raw, err := h.stream.GetLastMsgForSubject(ctx, h.subj+topic)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		*t = topTop{known: true, epoch: history.NewNumbering()}
		return nil
	}
	if err != nil {
		return err
	}
	k, ok := h.decode(raw)
	if !ok {
		// Not written by a node: number after it, afresh.
		*t = topTop{known: true, epoch: history.NewNumbering(), last: raw.Sequence}
		return nil
	}
	*t = topTop{known: true, epoch: k.m.Epoch, seq: k.m.Seq, last: raw.Sequence, lastAt: k.m.Time}
	return nil
}

// encode is m as the stream keeps it, numbered after t.
func (h *ClusterHistory) encode(m *hub.Message, t *topTop) *nats.Msg {
	msg := nats.NewMsg(h.subj + m.Topic)
	msg.Header.Set(hdrSeq, strconv.FormatUint(t.seq+1, 10))
	msg.Header.Set(hdrEpoch, strconv.FormatUint(uint64(t.epoch), 10))
	msg.Header.Set(hdrTime, strconv.FormatInt(m.Time, 10))
	msg.Header.Set(hdrFrom, m.From)
	msg.Header.Set(hdrPrev, strconv.FormatUint(t.last, 10))
	msg.Header.Set(hdrPrevTime, strconv.FormatInt(t.lastAt, 10))
	msg.Data = []byte(m.Text)
	return msg
}

// stored is a message read back from the stream, with where and when its
// topic's previous message was.
type stored struct {
	m      *hub.Message
	prev   uint64
	prevAt int64
}

// decode reads a message encode wrote; ok is false for anything else.
func (h *ClusterHistory) decode(raw *jetstream.RawStreamMsg) (stored, bool) {
	topic, ok := strings.CutPrefix(raw.Subject, h.subj)
	if !ok {
		return stored{}, false
	}
	hd := raw.Header
	seq, err1 := strconv.ParseUint(hd.Get(hdrSeq), 10, 64)
	ep, err2 := strconv.ParseUint(hd.Get(hdrEpoch), 10, 32)
	t, err3 := strconv.ParseInt(hd.Get(hdrTime), 10, 64)
	prev, err4 := strconv.ParseUint(hd.Get(hdrPrev), 10, 64)
	prevAt, err5 := strconv.ParseInt(hd.Get(hdrPrevTime), 10, 64)
	if errors.Join(err1, err2, err3, err4, err5) != nil || seq == 0 || ep == 0 {
		return stored{}, false
	}
	m := &hub.Message{Kind: hub.KindMessage, Topic: topic, From: hd.Get(hdrFrom), Text: string(raw.Data),
		Seq: seq, Epoch: uint32(ep), Journal: raw.Sequence, Time: t}
	return stored{m: m, prev: prev, prevAt: prevAt}, true
}

// wrongLast reports whether err is the stream refusing a write because
// the topic's last message is not the one expected.
func wrongLast(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) &&
		(api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Read implements the session layer's history reads (session.
// HistoryReader) from the stream, on any node: what history.Store.Read
// gives, with the stream's sequence as the journal. It costs one request
// per topic and one per message returned. A topic that cannot be read
// (NATS unreachable) gets a gap of unknown size.
func (h *ClusterHistory) Read(patterns []string, since history.Since, limit int) history.Result {
	if limit <= 0 || limit > history.MaxReplay {
		limit = history.MaxReplay
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	var windows []history.Window
	var failed []string
	for _, p := range patterns {
		topics := []string{p}
		if !hub.IsLiteral(p) {
			var err error
			if topics, err = h.matching(ctx, p); err != nil {
				failed = append(failed, p)
				continue
			}
		}
		for _, t := range topics {
			w, err := h.window(ctx, t, since, limit)
			if err != nil {
				failed = append(failed, t)
				continue
			}
			windows = append(windows, w)
		}
	}
	res := history.ReadWindows(windows, since, h.epoch, limit)
	for _, t := range failed {
		h.readErrors.Add(1)
		res.Gaps = append(res.Gaps, history.Gap{Topic: t})
	}
	return res
}

// matching lists the topics of the stream matching pattern, at most
// maxReadTopics of them.
func (h *ClusterHistory) matching(ctx context.Context, pattern string) ([]string, error) {
	info, err := h.stream.Info(ctx, jetstream.WithSubjectFilter(h.subj+pattern))
	if err != nil {
		return nil, fmt.Errorf("natsbp: cluster history: topics of %s: %w", pattern, err)
	}
	var out []string
	for subj := range info.State.Subjects {
		if t, ok := strings.CutPrefix(subj, h.subj); ok && len(out) < maxReadTopics {
			out = append(out, t)
		}
	}
	return out, nil
}

// window reads what the stream keeps of topic that a read from since,
// returning at most limit messages, needs: from the topic's last message
// back, one request per message through each message's link to its
// predecessor, until the read has what it asked for, the topic's own
// limits are reached (the stream keeps the most any topic keeps), or a
// message is gone. Gone is then the last message no longer there, or 0
// when the walk stopped at a message the read does not want (nothing it
// wants is gone).
func (h *ClusterHistory) window(ctx context.Context, topic string, since history.Since, limit int) (history.Window, error) {
	w := history.Window{Topic: topic}
	raw, err := h.stream.GetLastMsgForSubject(ctx, h.subj+topic)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return w, nil
	}
	if err != nil {
		return w, fmt.Errorf("natsbp: cluster history: last of %s: %w", topic, err)
	}
	cur, ok := h.decode(raw)
	if !ok {
		return w, nil
	}
	w.Top = history.Position{Epoch: cur.m.Epoch, Seq: cur.m.Seq}
	keep, age, policy := h.cfg.Limits(topic)
	want := min(keep, limit)
	if since.Kind == history.SinceLast {
		want = min(want, since.Last)
	}
	if want <= 0 { // a rule keeps none of it now
		w.Gone, w.GoneAt, w.GoneJ = cur.m.Seq, cur.m.Time, cur.m.Journal
		return w, nil
	}
	wanted := h.wanted(since, w.Top)
	oldest := time.Now().UnixNano() - int64(age)
	var rev []*hub.Message // newest first
	for {
		if cur.m.Time < oldest {
			w.Gone, w.GoneAt, w.GoneJ = cur.m.Seq, cur.m.Time, cur.m.Journal
			break
		}
		if !wanted(cur.m) {
			break
		}
		cur.m.Lossy = policy == history.PolicyDropOldest
		rev = append(rev, cur.m)
		if cur.m.Seq == 1 {
			break
		}
		if len(rev) >= want || cur.prev == 0 {
			w.Gone, w.GoneAt, w.GoneJ = cur.m.Seq-1, cur.prevAt, cur.prev
			break
		}
		r, err := h.stream.GetMsg(ctx, cur.prev)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return w, fmt.Errorf("natsbp: cluster history: %s at %d: %w", topic, cur.prev, err)
		}
		var p stored
		if err == nil {
			p, ok = h.decode(r)
		}
		if err != nil || !ok || p.m.Topic != topic || p.m.Epoch != cur.m.Epoch || p.m.Seq != cur.m.Seq-1 {
			w.Gone, w.GoneAt, w.GoneJ = cur.m.Seq-1, cur.prevAt, cur.prev
			break
		}
		cur = p
	}
	slices.Reverse(rev)
	w.Msgs = rev
	return w, nil
}

// wanted returns whether a read from since wants a kept message of a
// topic whose last number is top; a position the read will call lost
// wants everything kept.
func (h *ClusterHistory) wanted(since history.Since, top history.Position) func(*hub.Message) bool {
	switch since.Kind {
	case history.SinceSeq:
		if (since.Epoch == 0 || since.Epoch == top.Epoch) && since.Seq <= top.Seq {
			return func(m *hub.Message) bool { return m.Seq > since.Seq }
		}
	case history.SinceJournal:
		if since.Epoch == h.epoch {
			return func(m *hub.Message) bool { return m.Journal > since.Journal }
		}
	case history.SinceTime:
		return func(m *hub.Message) bool { return m.Time >= since.Time }
	}
	return func(*hub.Message) bool { return true }
}

// Close closes the history's NATS connection. Call it after every
// session has ended.
func (h *ClusterHistory) Close() {
	h.nc.Close()
}

// ClusterHistory is a hub History.
var _ hub.History = (*ClusterHistory)(nil)

// Unordered reports that live messages of a topic may reach a node out of
// number order (each node forwards its own publishes), so that resumed
// sessions keep filtering copies at or below the top they read (see
// session.UnorderedReader).
func (h *ClusterHistory) Unordered() bool { return true }
