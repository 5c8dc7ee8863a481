package session

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/identity"
)

// ErrServerFull is returned by Registry.Admit when a connection limit is
// reached.
var ErrServerFull = errors.New("session: server full")

// Limits are the limits a Registry enforces across sessions. Zero means
// unlimited.
type Limits struct {
	MaxConns      int // connections across all doors
	MaxConnsPerIP int // connections per remote IP address, across all doors
	// IdleTimeout closes a session that has shown no sign of life for
	// that long, whatever its door (idle.go says what counts); 0 means
	// never. SetLimits applies a new value to every live session.
	IdleTimeout time.Duration
	// VisitorRate and VisitorBurst limit publishes by clients without a
	// session (HTTP publishes), per remote IP, in messages per second;
	// the burst defaults to DefaultRateBurst.
	VisitorRate  float64
	VisitorBurst int
}

// Registry tracks the live sessions of one server across all doors: it
// enforces connection limits, counts what happens for metrics, and ends
// every session on shutdown. It is safe for concurrent use.
type Registry struct {
	hub      *hub.Hub
	limits   Limits
	formats  *frames.Formats
	visitors atomic.Pointer[ipLimiter] // holds nil without a visitor rate limit
	epoch    time.Time                 // the sessions' monotonic clock starts here (see clock)
	history  HistoryReader             // the hub's History, nil when it keeps none
	// unordered: live messages of a topic may come out of number order
	// (UnorderedReader); resumed sessions keep their tops.
	unordered bool
	idle      idleSweep // the idle timeout's sweep (idle.go)

	mu       sync.Mutex // guards sessions, admitted, perIP, byDoor
	sessions map[*Session]struct{}
	admitted int
	shutting bool
	perIP    map[string]int
	byDoor   map[string]int

	stats      counters
	idents     atomic.Pointer[identity.Store] // who is who (auth.go); never nil
	violations violations                     // refusals by door and kind (auth.go)

	// frames recycles the backing arrays of outbound queues: a session
	// takes one when its queue goes from empty to non-empty and gives it
	// back when its writer goes idle, so busy sessions do not allocate per
	// wake-up and idle ones pin nothing.
	frames sync.Pool

	// flushers are the helper goroutines of EndBatch for big flush sets.
	flushers sync.WaitGroup
}

// Pooled queue slices start with frameSliceCap entries (384 bytes), so a
// broadcast that wakes thousands of sessions for one frame each borrows
// little; slices grown by busy sessions are pooled too, up to
// maxPooledFrames entries.
const (
	frameSliceCap   = 16
	maxPooledFrames = 1024
)

func (g *Registry) getFrames() [][]byte {
	if p, ok := g.frames.Get().(*[][]byte); ok {
		return (*p)[:0]
	}
	return make([][]byte, 0, frameSliceCap)
}

// putFrames gives a queue slice back to the pool, unless it is nil, the
// session's own slot or too big to keep.
func (g *Registry) putFrames(f [][]byte) {
	if cap(f) < frameSliceCap || cap(f) > maxPooledFrames {
		return
	}
	clear(f[:cap(f)])
	// The pool holds pointers; allocate the one this slice needs here,
	// after the checks above, so that the common no-op calls allocate
	// nothing (a parameter whose address escapes would be moved to the
	// heap on every call).
	p := new([][]byte)
	*p = f[:0]
	g.frames.Put(p)
}

type counters struct {
	published, delivered       atomic.Uint64
	bytesOut                   atomic.Uint64
	writes, framesOut          atomic.Uint64
	slowConsumers, rateLimited atomic.Uint64
	writeErrors, rejected      atomic.Uint64
	accepted                   atomic.Uint64
	lossyDropped               atomic.Uint64
}

// NewRegistry returns a registry for sessions on h. When h's History is
// a HistoryReader, sessions get the history operations.
func NewRegistry(h *hub.Hub, l Limits) *Registry {
	hr, _ := h.History().(HistoryReader)
	un, _ := hr.(UnorderedReader)
	g := &Registry{history: hr, unordered: un != nil && un.Unordered(),
		hub: h, limits: l, formats: frames.NewFormats(), epoch: time.Now(),
		sessions: make(map[*Session]struct{}), perIP: make(map[string]int), byDoor: make(map[string]int),
	}
	g.visitors.Store(newIPLimiter(l.VisitorRate, l.VisitorBurst))
	g.idents.Store(identity.Open())
	g.setIdleTimeout(l.IdleTimeout)
	return g
}

// clock is the registry's monotonic time, for the sessions' budgets.
func (g *Registry) clock() time.Duration { return time.Since(g.epoch) }

// Hub returns the hub the sessions use.
func (g *Registry) Hub() *hub.Hub { return g.hub }

// Formats returns the table of wire formats, with which each door
// registers the formats its codecs write (see package frames).
func (g *Registry) Formats() *frames.Formats { return g.formats }

// SetLimits replaces the limits (on SIGHUP). Connections already
// admitted stay; the connection limits apply to the next Admit, the
// visitor rate to the next visitor publish, with every address's bucket
// full again, and the idle timeout to every live session from the next
// sweep (within a second).
func (g *Registry) SetLimits(l Limits) {
	g.mu.Lock()
	g.limits = l
	g.visitors.Store(newIPLimiter(l.VisitorRate, l.VisitorBurst))
	g.mu.Unlock()
	g.setIdleTimeout(l.IdleTimeout)
}

// Ticket is an admitted connection's place under the limits; Release gives
// it back. A front end admits a connection before creating its session, so
// that a refused client costs almost nothing.
type Ticket struct {
	g    *Registry
	ip   string
	once sync.Once
}

// Admit reserves a place for a connection from remote (a host:port or a
// bare IP), or returns ErrServerFull.
func (g *Registry) Admit(remote string) (*Ticket, error) {
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if (g.limits.MaxConns > 0 && g.admitted >= g.limits.MaxConns) ||
		(g.limits.MaxConnsPerIP > 0 && g.perIP[ip] >= g.limits.MaxConnsPerIP) {
		g.stats.rejected.Add(1)
		return nil, ErrServerFull
	}
	g.admitted++
	g.perIP[ip]++
	g.stats.accepted.Add(1)
	return &Ticket{g: g, ip: ip}, nil
}

// Release gives the ticket's place back. It is idempotent.
func (t *Ticket) Release() {
	t.once.Do(func() {
		t.g.mu.Lock()
		t.g.admitted--
		if t.g.perIP[t.ip]--; t.g.perIP[t.ip] <= 0 {
			delete(t.g.perIP, t.ip)
		}
		t.g.mu.Unlock()
	})
}

func (g *Registry) add(s *Session) {
	g.mu.Lock()
	s.quiet.last = g.clock()
	g.sessions[s] = struct{}{}
	g.byDoor[s.cfg.Door]++
	late := g.shutting
	g.mu.Unlock()
	if late {
		// Accepted just before the doors closed: it goes the way of all.
		s.CloseGracefully(ReasonShutdown)
	}
}

func (g *Registry) remove(s *Session) {
	g.mu.Lock()
	if _, ok := g.sessions[s]; ok {
		delete(g.sessions, s)
		g.byDoor[s.cfg.Door]--
	}
	g.mu.Unlock()
}

// Len returns the number of live sessions.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sessions)
}

// Stats is a snapshot of the registry's counters.
type Stats struct {
	Sessions       int            // live sessions
	SessionsByDoor map[string]int // live sessions per door
	Accepted       uint64         // connections admitted since start
	Rejected       uint64         // connections refused by limits
	Published      uint64         // messages published by sessions
	Delivered      uint64         // messages handed to local clients (from this node's publishers and from other nodes)
	BytesOut       uint64         // bytes written to clients
	Writes         uint64         // Transport.WriteBatch calls (one writev each on TCP)
	FramesOut      uint64         // frames written; FramesOut/Writes is the coalescing factor
	SlowConsumers  uint64         // sessions closed as slow consumers
	LossyDropped   uint64         // messages of drop-oldest topics dropped from queues that overflowed
	RateLimited    uint64         // publishes refused by the rate limit
	WriteErrors    uint64         // sessions ended by a write error
	QueuedBytes    int            // bytes waiting in all outbound queues
}

// Stats returns the current counters. It visits every session to add up
// queued bytes, so call it at human rates, not per message.
func (g *Registry) Stats() Stats {
	g.mu.Lock()
	st := Stats{Sessions: len(g.sessions), SessionsByDoor: make(map[string]int, len(g.byDoor))}
	for d, n := range g.byDoor {
		st.SessionsByDoor[d] = n
	}
	all := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		all = append(all, s)
	}
	g.mu.Unlock()
	for _, s := range all {
		st.QueuedBytes += s.QueuedBytes()
	}
	st.Accepted = g.stats.accepted.Load()
	st.Rejected = g.stats.rejected.Load()
	st.Published = g.stats.published.Load()
	st.Delivered = g.stats.delivered.Load() + g.hub.Stats().Delivered
	st.BytesOut = g.stats.bytesOut.Load()
	st.Writes = g.stats.writes.Load()
	st.FramesOut = g.stats.framesOut.Load()
	st.SlowConsumers = g.stats.slowConsumers.Load()
	st.LossyDropped = g.stats.lossyDropped.Load()
	st.RateLimited = g.stats.rateLimited.Load()
	st.WriteErrors = g.stats.writeErrors.Load()
	return st
}

// Shutdown tells every session the server is going away, lets each drain
// its queue until ctx is done, then cuts whatever is left. It returns once
// every session has ended. Front ends must have stopped accepting first.
func (g *Registry) Shutdown(ctx context.Context) error {
	g.stopIdle()
	g.mu.Lock()
	g.shutting = true
	all := make([]*Session, 0, len(g.sessions))
	for s := range g.sessions {
		all = append(all, s)
	}
	g.mu.Unlock()
	for _, s := range all {
		s.CloseGracefully(ReasonShutdown)
	}
	var err error
	for _, s := range all {
		if e := s.Drain(ctx); e != nil {
			err = e
			break
		}
	}
	if err != nil {
		for _, s := range all {
			s.Abort(ReasonShutdown)
		}
		for _, s := range all {
			<-s.Done()
		}
	}
	g.flushers.Wait()
	return err
}
