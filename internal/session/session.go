package session

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/identity"
)

// slowConsumerGrace bounds how long a slow consumer's writer may still
// block before the connection is cut without the notice.
const slowConsumerGrace = time.Second

// Transport is what a door provides for one connection.
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
	// Close closes the connection for reason, which the door maps onto its
	// own form (a WebSocket close code, an SSE end of stream …); the
	// reason's notice, if any, has already been written as a Reply with
	// Final set. Close must make the door's reader return. It is safe to
	// call more than once and concurrently; only the first call counts.
	Close(reason CloseReason) error
}

// Codec encodes what a session sends in one door's wire format.
type Codec interface {
	// Format is the key of the format's slot in every message's frame
	// cache (package frames), registered by the door with the
	// registry's Formats table. Doors whose bytes are the same share one.
	Format() *frames.Format
	// Message encodes a message, private message or room event. The
	// result is cached on the message and shared: it must not depend on
	// the recipient.
	Message(m *hub.Message) []byte
	// Reply encodes a reply to a request, or an unsolicited notice.
	Reply(r Reply) []byte
}

// Session is one connected client. Deliver, Send and the Close methods
// are safe for concurrent use; Do, BeginBatch and EndBatch belong to the
// door's reader, which calls them from one goroutine at a time.
type Session struct {
	// Set by New, read-only afterwards.
	cfg     Config
	reg     *Registry
	client  *hub.Client
	t       Transport
	log     *slog.Logger
	limiter *rate.Limiter

	cmds budget // the command budget (limits.go); reader only

	quiet idleState // signs of life, for the idle timeout (idle.go)

	// The reader's: touched only by the goroutine running Do and the
	// batch methods.
	room  string // current room
	batch *batch // deliveries of this session's publishes in the current read batch; made on first use

	hist histState // resume holds and /ids (history.go)

	// What every delivery reads without the lock, kept together and
	// beside mu and out, so that a delivery touches as few of the
	// session's cache lines as it can (deliver.go).
	//
	// ident is who the client is (auth.go): set by the reader (OpAuth)
	// and by a reload. screen says which checks a delivery must make
	// (the screen* bits); with none set a delivery costs one load more
	// than no checks at all. codec and format are set by New.
	ident  atomic.Pointer[identity.Identity]
	screen atomic.Uint32
	codec  Codec
	format *frames.Format // codec.Format(), looked up once

	mu  sync.Mutex // guards out and life
	out output     // the outbound queue
	lf  life       // where the session is in its life

	writers sync.WaitGroup // the writer goroutine and finishClose
}

// The bits of Session.screen: what a delivery must check or do beyond
// queuing the frame.
const (
	screenPerms    = 1 << iota // the identity has permissions (withheld checks them)
	screenHolding              // a resume holds or filters live messages (history.go)
	screenTracking             // positions are tracked per topic (history.go)
	screenIDs                  // messages are framed with positions ("/ids on")
)

// output is a session's outbound queue. Guarded by Session.mu.
type output struct {
	queue    [][]byte  // frames waiting for the writer
	spare    [][]byte  // the writer's last batch, reused as the next queue
	slot     [1][]byte // backs the queue of an idle session's first frame
	pending  int       // bytes queued or being written
	writing  bool      // a writer goroutine is running
	deferred bool      // in a publisher's batch; written at the batch's end
	// softSince is when pending went over the soft limit (registry
	// clock, never 0 while set), or 0 (limits.go).
	softSince time.Duration
	lossy     lossyQueue // lossy frames and gap markers queued (lossy.go)
}

// life is where a session is between New and Finish. Guarded by
// Session.mu.
type life struct {
	closing  bool // no more frames except the final notice
	reason   CloseReason
	closed   bool          // Transport.Close called (or about to be)
	finished bool          // Finish has run
	done     chan struct{} // made on demand; closed when Finish has run
	// expiry ends the session when its identity's credential expires
	// (auth.go); nil when it does not expire. Stopped by Finish.
	expiry *time.Timer
}

// New registers a client with the hub and returns its session. The door
// must eventually call Finish (or EndServing) from its reader.
func New(reg *Registry, cfg Config, t Transport, codec Codec) *Session {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.setLimitDefaults()
	s := &Session{cfg: cfg, reg: reg, t: t, codec: codec, format: codec.Format(), log: cfg.Logger}
	s.cmds = budget{tokens: float64(cfg.CommandBurst), at: reg.clock()}
	if pc, ok := codec.(PositionCodec); ok {
		s.hist.idCodec = pc.WithPositions()
	}
	if cfg.RateLimit > 0 {
		b := cfg.RateBurst
		if b <= 0 {
			b = DefaultRateBurst
		}
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), b)
	}
	id := cfg.Identity
	if id == nil {
		id = reg.Anonymous()
	}
	s.setIdentity(id)
	s.client = reg.hub.Connect(s)
	reg.add(s)
	s.takeName(id)
	return s
}

// Nick returns the client's current nick.
func (s *Session) Nick() string { return s.client.Nick() }

// Door returns the name of the door the client came through.
func (s *Session) Door() string { return s.cfg.Door }

// CurrentRoom returns the room plain text goes to, or "". Reader only.
func (s *Session) CurrentRoom() string { return s.room }

// Logger returns a logger annotated with the session's door, peer and
// client. It is built on demand because logging is rare and an annotated
// logger per idle connection would cost memory.
func (s *Session) Logger() *slog.Logger {
	return s.log.With("door", s.cfg.Door, "remote", s.cfg.RemoteAddr, "client", s.client.ID())
}

// Deliver queues a message routed by the hub itself: a room event, a
// private message, a message from another node. It never blocks. It
// implements hub.Subscriber. (Messages published on this node reach their
// subscribers through the publisher's delivery, see deliver.go.)
func (s *Session) Deliver(m *hub.Message) {
	if !s.withheld(m) {
		s.enqueueMessage(m, s.frame(m))
	}
}

// frame returns m encoded in this session's wire format, shared with every
// session of the same format.
func (s *Session) frame(m *hub.Message) []byte {
	if s.screen.Load()&screenIDs != 0 {
		return s.frameWith(s.hist.idCodec, m)
	}
	return frames.Get(&m.Frames, s.format, m, s.codec.Message)
}

// frameWith returns m encoded by c, through m's frame cache.
func (s *Session) frameWith(c Codec, m *hub.Message) []byte {
	return frames.Get(&m.Frames, c.Format(), m, c.Message)
}

// Send queues a reply or notice for the client.
func (s *Session) Send(r Reply) { s.enqueue(s.codec.Reply(r)) }

// Info queues an informational notice.
func (s *Session) Info(text string) { s.Send(Reply{Text: text}) }

// Refuse queues an error notice for a refusal the door found itself (a
// line it cannot parse, a frame it cannot decode).
func (s *Session) Refuse(op Op, e *Error) {
	s.Send(Reply{Op: op, Error: true, Code: e.Code, Text: e.Text})
}

// Reason returns why the session is closing, or ReasonNone.
func (s *Session) Reason() CloseReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lf.reason
}

// Closing reports whether the session is closing: a door stops handling
// the client's input then, since nothing it asks for would be answered.
func (s *Session) Closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lf.closing
}

// Done is closed when the session has ended: connection closed and writer
// finished. The channel is made on first use, so idle sessions that nobody
// waits for do not pay for it.
func (s *Session) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lf.done == nil {
		s.lf.done = make(chan struct{})
		if s.lf.finished {
			close(s.lf.done)
		}
	}
	return s.lf.done
}

// Finish is called by the door's reader when it stops reading, whatever
// the cause: it takes the client out of the hub, closes the connection,
// waits for the writer, and unregisters the session. readErrReason is the
// reason to record if none was set before.
func (s *Session) Finish(readErrReason CloseReason) {
	s.mu.Lock()
	finished := s.lf.finished
	s.mu.Unlock()
	if finished {
		return
	}
	s.client.Close()
	s.markClosing(readErrReason)
	s.closeTransport()
	s.writers.Wait()
	s.reg.remove(s)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.Logger().Debug("session closed", "reason", s.Reason().String())
	}
	s.mu.Lock()
	s.lf.finished = true
	if s.lf.expiry != nil {
		s.lf.expiry.Stop()
		s.lf.expiry = nil
	}
	if s.lf.done != nil {
		close(s.lf.done)
	}
	s.mu.Unlock()
}

// EndServing is deferred by a door's per-connection goroutine in place of
// Finish(*reason), reading the reason when it runs: it also recovers a
// panic in that goroutine, logs it with the stack and ends only this
// session (ReasonInternal).
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
	return s.out.pending
}
