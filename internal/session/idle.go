package session

import (
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the idle timeout (Limits.IdleTimeout, --idle-timeout):
// one rule for every door, enforced by the registry.
//
// A client is idle when it has shown no sign of life for the whole
// timeout. What counts as a sign of life is the door's to say, through
// Alive: every request (Do calls Alive) and every read from the client;
// for a door whose clients may only listen, also the answer to a probe
// (Prober). The TCP door's clients send requests (a quiet subscriber
// sends /ping); a WebSocket client answers the door's pings, which proves
// it read everything sent before them; an SSE client cannot send, so its
// door counts every write that succeeds. A listener that stops reading is
// not idle but a slow consumer, and the queue limits cut it.
//
// The registry's sweep, a timer callback at most one at a time, visits the
// sessions every sweepEvery(timeout): a session seen since the last sweep
// is stamped with the sweep's time; one quiet for half the timeout is
// probed once, if its door can; one quiet for the whole timeout (and, if
// probed, given half the timeout to answer) is closed gracefully with
// ReasonIdle and a notice that says for how long. So a client is cut
// between IdleTimeout and IdleTimeout plus two sweep intervals after its
// last sign of life (when the sweeps run on time), never earlier.
//
// Alive itself, on every request, costs one atomic load (and a store
// once per sweep interval): no lock, no clock reading, no allocation (BenchmarkAlive: under 1 ns). A sweep
// holds Registry.mu while it visits every session: about 8 ms for 100,000
// busy sessions on the 2-core test box, once a second at most
// (go test -bench BenchmarkIdleSweep ./internal/session/), so a connect or
// disconnect may wait that long once a second; nothing on the publish path
// takes that lock.

// Sweep intervals: an eighth of the timeout, within these bounds.
const (
	minSweepEvery = 5 * time.Millisecond
	maxSweepEvery = time.Second
)

// sweepEvery is the interval of the idle sweep for timeout d.
func sweepEvery(d time.Duration) time.Duration {
	return min(max(d/8, minSweepEvery), maxSweepEvery)
}

// Prober is implemented by the transport of a door whose clients may only
// listen (WebSocket, SSE). The idle sweep calls Probe once when such a
// client has shown no sign of life for half the idle timeout; Probe asks
// the client, without blocking, to show it is alive (a WebSocket ping, an
// SSE keepalive written now), and the door calls Session.Alive when it
// does. Probe may be called concurrently with every other method, also
// after the session ended.
type Prober interface {
	Probe()
}

// idleState is a session's part in the idle rule.
type idleState struct {
	// seen is set by Alive, cleared by the sweep.
	seen atomic.Bool
	// The sweep's, guarded by Registry.mu: the registry clock at the
	// sweep that last found the session seen (or at add), and whether
	// the current quiet stretch has been probed (and when), whether the
	// session has been cut (it may take a few seconds to end).
	last, probedAt time.Duration
	probed, cut    bool
}

// Alive records a sign of life from the client: a request, a frame, an
// answered probe, a write that succeeded on a door whose clients only
// listen. Doors call it for what reaches them outside Do. Safe for
// concurrent use; it costs one atomic load when the client was seen since
// the last sweep.
func (s *Session) Alive() {
	if !s.quiet.seen.Load() {
		s.quiet.seen.Store(true)
	}
}

// idleSweep is the registry's side of the idle rule: the timeout and the
// timer that runs the sweep.
type idleSweep struct {
	timeout atomic.Int64 // time.Duration; 0 = off

	mu      sync.Mutex // held by a sweep for its whole run; guards the fields below
	timer   *time.Timer
	stopped bool       // Shutdown: no more sweeps
	cut     []*Session // the sweep's lists, reused
	probe   []Prober
}

// IdleTimeout returns the current idle timeout (Limits.IdleTimeout); 0
// means none.
func (g *Registry) IdleTimeout() time.Duration { return time.Duration(g.idle.timeout.Load()) }

// setIdleTimeout applies Limits.IdleTimeout: it arms the sweep when the
// timeout becomes positive. A running sweep picks a changed timeout up at
// its next run (within maxSweepEvery) and stops when it is 0.
func (g *Registry) setIdleTimeout(d time.Duration) {
	w := &g.idle
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timeout.Store(int64(max(d, 0)))
	if d > 0 && w.timer == nil && !w.stopped {
		w.timer = time.AfterFunc(sweepEvery(d), g.sweepIdle)
	}
}

// stopIdle stops the sweep for good (Shutdown): once it returns, no sweep
// runs and none will.
func (g *Registry) stopIdle() {
	w := &g.idle
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}

// sweepIdle is the idle sweep (a timer callback): it probes and closes
// the sessions quiet for too long, then arms the timer again.
func (g *Registry) sweepIdle() {
	w := &g.idle
	w.mu.Lock()
	defer w.mu.Unlock()
	d := time.Duration(w.timeout.Load())
	if w.stopped || d <= 0 {
		w.timer = nil
		return
	}
	now := g.clock()
	g.mu.Lock()
	for s := range g.sessions {
		q := &s.quiet
		if q.cut {
			continue
		}
		if q.seen.Load() {
			q.seen.Store(false)
			q.last, q.probed = now, false
			continue
		}
		p, listens := s.t.(Prober)
		switch quiet := now - q.last; {
		case listens && !q.probed && quiet >= d/2:
			q.probed, q.probedAt = true, now
			w.probe = append(w.probe, p)
		case quiet >= d && (!listens || now-q.probedAt >= d/2):
			// A client that may only listen has always been probed
			// and given half the timeout to answer, however late
			// the sweeps run.
			q.cut = true
			w.cut = append(w.cut, s)
		}
	}
	g.mu.Unlock()
	// Outside g.mu: closing takes the session's lock, probing the
	// door's.
	for _, s := range w.cut {
		s.closeIdle()
	}
	for _, p := range w.probe {
		p.Probe()
	}
	clear(w.cut)
	clear(w.probe)
	w.cut, w.probe = w.cut[:0], w.probe[:0]
	w.timer.Reset(sweepEvery(d))
}

// closeIdle closes the session gracefully for the idle timeout. A writer
// blocked on a peer that reads nothing any more (a queue too small for
// the pending limits to cut) gets a deadline, so the session ends even if
// the notice can never be sent.
func (s *Session) closeIdle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lf.closing {
		return
	}
	s.beginCloseLocked(ReasonIdle, false)
	_ = s.t.SetWriteDeadline(time.Now().Add(slowConsumerGrace))
}

// idleNotice is the final notice of a session closed by the idle sweep:
// the reason's notice and the timeout it overstayed.
func (g *Registry) idleNotice(notice string) string {
	d := g.IdleTimeout()
	if d <= 0 {
		return notice
	}
	return notice + "; nothing from the client for " + d.String() + " (--idle-timeout)"
}
