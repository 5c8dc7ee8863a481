package session

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// slowConsumerGrace bounds how long a slow consumer's writer may still
// block before the connection is cut without the notice.
const slowConsumerGrace = time.Second

// Transport is what a front end provides for one connection.
type Transport interface {
	// WriteBatch writes the frames in order, as few system calls as the
	// medium allows (one writev on TCP). It is called only from the
	// session's writer goroutine, never concurrently. It may modify the
	// slice (not the frames).
	WriteBatch(frames [][]byte) error
	// SetWriteDeadline bounds the current and future WriteBatch calls; a
	// zero time removes the bound. Safe to call concurrently with
	// WriteBatch.
	SetWriteDeadline(t time.Time) error
	// Close closes the connection, which must make the front end's reader
	// return. Safe to call more than once and concurrently.
	Close() error
}

// Codec encodes what a session sends in one front end's wire format.
type Codec interface {
	// Slot is the hub.Message encoding cache slot this format uses; front
	// ends with the same format share a slot.
	Slot() int
	// Message encodes a message, private message or room event.
	Message(m *hub.Message) []byte
	// Reply encodes a reply to a request, or an unsolicited notice.
	Reply(r Reply) []byte
}

// Session is one connected client. Deliver and the Close methods are safe
// for concurrent use; Do and SetCurrentRoom must be called from the front
// end's reader goroutine only.
type Session struct {
	cfg     Config
	reg     *Registry
	client  *hub.Client
	t       Transport
	codec   Codec
	log     *slog.Logger
	limiter *rate.Limiter
	room    string    // current room; reader goroutine only
	batch   *flushSet // sessions woken by this session's publishes; reader goroutine only
	batched bool      // between BeginBatch and EndBatch; reader goroutine only

	mu       sync.Mutex // guards the fields below
	queue    [][]byte   // frames waiting for the writer
	spare    [][]byte   // the writer's last batch, reused as the next queue
	slot     [1][]byte  // backs the queue of an idle session's first frame
	pending  int        // bytes queued or being written
	writing  bool       // a writer goroutine is running
	closing  bool       // no more frames except the final notice
	reason   CloseReason
	deferred bool          // in a publisher's flush set; its writer starts at the batch end
	closed   bool          // transport closed
	finished bool          // Finish has run
	done     chan struct{} // made on demand; closed when Finish has run
	writers  sync.WaitGroup
}

// New registers a client with the hub and returns its session. The front
// end must eventually call Finish from its reader goroutine.
func New(reg *Registry, cfg Config, t Transport, codec Codec) *Session {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Session{cfg: cfg, reg: reg, t: t, codec: codec}
	if cfg.RateLimit > 0 {
		b := cfg.RateBurst
		if b <= 0 {
			b = DefaultRateBurst
		}
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), b)
	}
	s.client = reg.hub.Connect(s)
	s.log = cfg.Logger
	reg.add(s)
	return s
}

// Client returns the session's hub handle.
func (s *Session) Client() *hub.Client { return s.client }

// Nick returns the client's current nick.
func (s *Session) Nick() string { return s.client.Nick() }

// Door returns the name of the front end the client came through.
func (s *Session) Door() string { return s.cfg.Door }

// Logger returns a logger annotated with the session's door, peer and
// client. It is built on demand because logging is rare and an annotated
// logger per idle connection would cost memory.
func (s *Session) Logger() *slog.Logger {
	return s.log.With("door", s.cfg.Door, "remote", s.cfg.RemoteAddr, "client", s.client.ID())
}

// Done is closed when the session has ended: connection closed and writer
// finished. The channel is made on first use, so idle sessions that nobody
// waits for do not pay for it.
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		s.done = make(chan struct{})
		if s.finished {
			close(s.done)
		}
	}
	return s.done
}

// Deliver queues a message from the hub. It never blocks. It implements
// hub.Subscriber.
func (s *Session) Deliver(m *hub.Message) {
	fs, _ := m.Tag.(*flushSet)
	s.enqueueFrom(s.frame(m), fs)
}

// frame returns m encoded for this session's wire format, shared with
// every session of the same format.
func (s *Session) frame(m *hub.Message) []byte {
	return m.Encoded(s.codec.Slot(), s.codec.Message)
}

// Send queues a reply or notice for the client.
func (s *Session) Send(r Reply) {
	s.enqueue(s.codec.Reply(r))
}

// Info queues an informational notice.
func (s *Session) Info(text string) { s.Send(Reply{Text: text}) }

// Error queues an error notice.
func (s *Session) Error(text string) { s.Send(Reply{Error: true, Text: text}) }

// enqueue appends one frame to the queue and makes sure a writer runs. A
// frame that would take the queue over its limit makes the session a slow
// consumer; replies are held to the same limit as messages.
func (s *Session) enqueue(b []byte) { s.enqueueFrom(b, nil) }

// enqueueFrom is enqueue for a frame delivered by a publisher that batches
// (fs != nil): instead of starting a writer, the session joins the
// publisher's flush set and is written at the end of the publisher's batch.
func (s *Session) enqueueFrom(b []byte, fs *flushSet) {
	s.mu.Lock()
	if !s.admitLocked(b) {
		s.mu.Unlock()
		return
	}
	if fs == nil {
		s.startWriterLocked()
		s.mu.Unlock()
		return
	}
	join := !s.writing && !s.closed && !s.deferred
	if join {
		s.deferred = true
	}
	s.mu.Unlock()
	if join {
		fs.sessions = append(fs.sessions, s)
	}
}

// admitLocked queues b unless the session is closing or b would take the
// queue over its limit, which makes the session a slow consumer. It
// reports whether b was queued. Caller holds s.mu.
func (s *Session) admitLocked(b []byte) bool {
	if s.closing {
		return false
	}
	if s.pending+len(b) > s.cfg.MaxPending {
		s.beginCloseLocked(ReasonSlowConsumer, true)
		return false
	}
	s.appendLocked(b)
	return true
}

// appendLocked adds b to the queue. The first frame of a session with no
// writer goes into the session's own slot, so a broadcast waking thousands
// of idle sessions for one frame each borrows no queue slices; a second
// frame moves the queue to a pooled slice. Caller holds s.mu.
func (s *Session) appendLocked(b []byte) {
	switch {
	case s.queue == nil && !s.writing:
		// No writer holds the slot (a writer's batch or spare may
		// alias it only while s.writing).
		s.queue = s.slot[:0:1]
	case s.queue == nil:
		s.queue = s.reg.getFrames()
	case len(s.queue) == cap(s.queue) && cap(s.queue) < frameSliceCap:
		old := s.queue
		s.queue = append(s.reg.getFrames(), old...)
		clear(old)
	}
	s.queue = append(s.queue, b)
	s.pending += len(b)
}

// dropQueueLocked empties the queue of an idle session after its frames
// went out or were dropped, pinning no slice. Caller holds s.mu.
func (s *Session) dropQueueLocked() {
	clear(s.queue)
	s.reg.putFrames(s.queue) // keeps out the session's own slot (cap 1)
	s.queue = nil
	s.slot[0] = nil
}

// startWriterLocked starts the writer goroutine unless one runs. Caller
// holds s.mu.
func (s *Session) startWriterLocked() {
	if s.writing || s.closed {
		return
	}
	s.writing = true
	s.writers.Add(1)
	go s.writeLoop()
}

// writeLoop drains the queue, a whole batch per WriteBatch, and exits when
// the queue is empty. When the session is closing it closes the transport
// once the final notice is out.
func (s *Session) writeLoop() {
	defer s.writers.Done()
	lingered := false
	busy := false // more than one frame has come through this writer
	for {
		s.mu.Lock()
		if len(s.queue) == 0 && busy && !s.closed && !s.closing && !lingered {
			// Give a busy publisher one turn to queue more before this
			// writer exits: fewer writer start-ups, bigger batches. A
			// writer started for a single frame (a broadcast waking
			// thousands of sessions) exits at once instead.
			lingered = true
			s.mu.Unlock()
			runtime.Gosched()
			continue
		}
		if len(s.queue) == 0 || s.closed {
			s.writing = false
			// An idle session pins no write buffers.
			s.reg.putFrames(s.queue)
			s.reg.putFrames(s.spare)
			s.queue, s.spare = nil, nil
			finish := s.closing && !s.closed
			s.mu.Unlock()
			if finish {
				s.closeTransport()
			}
			return
		}
		lingered = false
		batch := s.queue
		s.queue = s.spare
		s.spare = nil
		s.mu.Unlock()

		n := 0
		for _, b := range batch {
			n += len(b)
		}
		err := s.t.WriteBatch(batch)
		frames := len(batch)
		busy = busy || frames > 1 || lingered
		clear(batch)

		s.mu.Lock()
		s.pending -= n
		if s.spare == nil {
			s.spare = batch[:0]
		} else {
			s.reg.putFrames(batch)
		}
		s.mu.Unlock()
		if err != nil {
			s.reg.stats.writeErrors.Add(1)
			s.abort(ReasonWriteError)
			return
		}
		s.reg.stats.bytesOut.Add(uint64(n))
		s.reg.stats.writes.Add(1)
		s.reg.stats.framesOut.Add(uint64(frames))
	}
}

// beginCloseLocked starts a graceful close: drop what is queued if drop is
// set, queue the notice, and let the writer close the transport once the
// notice is out. Caller holds s.mu.
func (s *Session) beginCloseLocked(r CloseReason, drop bool) {
	if s.closing {
		return
	}
	s.closing = true
	s.reason = r
	if drop {
		for _, b := range s.queue {
			s.pending -= len(b) // frames in flight stay counted until written
		}
		clear(s.queue)
		s.queue = s.queue[:0]
		// A writer blocked on a peer that does not read gets a deadline,
		// so the slot frees up even if the notice can never be sent.
		_ = s.t.SetWriteDeadline(time.Now().Add(slowConsumerGrace))
	}
	if r == ReasonSlowConsumer {
		s.reg.stats.slowConsumers.Add(1)
		s.Logger().Warn("slow consumer disconnected", "nick", s.client.Nick(), "max_pending", s.cfg.MaxPending)
	}
	if notice := r.Notice(); notice != "" {
		s.appendLocked(s.codec.Reply(Reply{Error: r.IsError(), Text: notice, Final: r}))
	}
	if len(s.queue) == 0 && !s.writing {
		s.closed = true
		s.writers.Add(1)
		go s.finishClose()
		return
	}
	s.startWriterLocked()
}

// CloseGracefully ends the session after everything already queued and
// the reason's notice have been written. It does not wait.
func (s *Session) CloseGracefully(r CloseReason) {
	s.mu.Lock()
	s.beginCloseLocked(r, false)
	s.mu.Unlock()
}

// abort closes the transport at once, dropping whatever is queued.
func (s *Session) abort(r CloseReason) {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.reason = r
	}
	s.mu.Unlock()
	s.closeTransport()
}

// Abort ends the session at once, without draining the queue.
func (s *Session) Abort(r CloseReason) { s.abort(r) }

func (s *Session) closeTransport() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	_ = s.t.Close()
}

// finishClose closes the transport from a goroutine of its own, for the
// case where no writer runs to do it.
func (s *Session) finishClose() {
	defer s.writers.Done()
	_ = s.t.Close()
}

// Reason returns why the session is closing, or ReasonNone.
func (s *Session) Reason() CloseReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Finish is called by the front end's reader goroutine when it stops
// reading, whatever the cause: it takes the client out of the hub, closes
// the connection, waits for the writer, and unregisters the session.
// readErrReason is the reason to record if none was set before.
func (s *Session) Finish(readErrReason CloseReason) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.client.Close()
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.reason = readErrReason
	}
	s.mu.Unlock()
	s.closeTransport()
	s.writers.Wait()
	s.reg.remove(s)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger().Debug("session closed", "reason", s.Reason().String())
	}
	s.mu.Lock()
	s.finished = true
	if s.done != nil {
		close(s.done)
	}
	s.mu.Unlock()
}

// EndServing is deferred by a front end's per-connection goroutine in
// place of Finish(*reason), reading the reason when it runs: it also
// recovers a panic in that goroutine, logs it with the stack and ends only
// this session (ReasonInternal).
func (s *Session) EndServing(reason *CloseReason) {
	r := *reason
	if p := recover(); p != nil {
		s.Logger().Error("panic serving connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		r = ReasonInternal
		s.Abort(r)
	}
	s.Finish(r)
}

// Drain waits until the session has ended or ctx is done.
func (s *Session) Drain(ctx context.Context) error {
	select {
	case <-s.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// QueuedBytes returns the bytes queued or being written.
func (s *Session) QueuedBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending
}

// Encoding cache slots of hub.Message, one per wire format. Front ends
// that share a format share a slot.
const (
	SlotLine = 0 // the line protocol
	SlotJSON = 1 // WebSocket JSON frames
	SlotSSE  = 2 // Server-Sent Events
)
