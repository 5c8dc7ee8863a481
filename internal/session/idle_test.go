package session_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// idleFor is the idle timeout of these tests: short so they run fast; the
// waits are bounded by waitFor, never by it.
const idleFor = 100 * time.Millisecond

// probingTransport is a fake transport of a door whose clients may only
// listen: it counts probes and, if answering, answers each at once.
type probingTransport struct {
	*fakeTransport
	s         atomic.Pointer[session.Session]
	answering bool
	probes    atomic.Int32
}

func (p *probingTransport) Probe() {
	p.probes.Add(1)
	if s := p.s.Load(); s != nil && p.answering {
		s.Alive()
	}
}

// openIdle opens a session on tr, ending it like env.open does, and
// shuts the registry down at the end (which stops its sweep).
func (e *env) openIdle(t *testing.T, tr session.Transport, closeCh <-chan struct{}) *session.Session {
	t.Helper()
	s := session.New(e.reg, session.Config{Door: "fake", Logger: quietLog}, tr, lineCodec{})
	go func() {
		<-closeCh
		s.Finish(session.ReasonClientGone)
	}()
	t.Cleanup(func() {
		_ = tr.Close(session.ReasonClientGone)
		<-s.Done()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = e.reg.Shutdown(ctx)
	})
	return s
}

const idleNotice = "! idle timeout, disconnecting; nothing from the client for 100ms (--idle-timeout)\n"

// TestIdleSweep: the registry's idle timeout closes a session that shows
// no sign of life, with the notice last, and spares one that does; a
// door's Prober is asked once per quiet stretch, and a client that
// answers stays.
func TestIdleSweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		alive     bool // the test calls Alive every idleFor/5
		prober    bool // the transport implements session.Prober
		answering bool // and answers each probe
		wantCut   bool
	}{
		{name: "silent", wantCut: true},
		{name: "alive", alive: true},
		{name: "probed and answering", prober: true, answering: true},
		{name: "probed, no answer", prober: true, wantCut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(session.Limits{IdleTimeout: idleFor})
			ft := newTransport()
			var tr session.Transport = ft
			pt := &probingTransport{fakeTransport: ft, answering: tt.answering}
			if tt.prober {
				tr = pt
			}
			s := e.openIdle(t, tr, ft.closeCh)
			pt.s.Store(s)
			start := time.Now()
			for time.Since(start) < 4*idleFor && !ft.isClosed() {
				if tt.alive {
					s.Alive()
				}
				time.Sleep(idleFor / 5)
			}
			if !tt.wantCut {
				if ft.isClosed() {
					t.Fatalf("cut after %v: %q", time.Since(start), ft.frames())
				}
				if tt.prober && pt.probes.Load() < 2 {
					t.Errorf("%d probes in %v, want one per half timeout", pt.probes.Load(), 4*idleFor)
				}
				return
			}
			testkit.Eventually(t, "the session to be cut", ft.isClosed)
			if got := s.Reason(); got != session.ReasonIdle {
				t.Errorf("reason %v, want idle_timeout", got)
			}
			if f := ft.frames(); len(f) == 0 || f[len(f)-1] != idleNotice {
				t.Errorf("frames %q, want the notice %q last", f, idleNotice)
			}
			if tt.prober && pt.probes.Load() != 1 {
				t.Errorf("%d probes before the cut, want 1", pt.probes.Load())
			}
		})
	}
}

// TestIdleSweepStuckWriter: a client whose writer is stuck (a peer that
// stopped reading, with a queue too small for the pending limits) is
// still cut: the idle close bounds the writes with a deadline.
func TestIdleSweepStuckWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{IdleTimeout: idleFor})
	ft := newTransport()
	ft.block()
	s := e.openIdle(t, ft, ft.closeCh)
	s.Info("stuck behind a peer that reads nothing")
	testkit.Eventually(t, "the writer to block", ft.writing)
	testkit.Eventually(t, "the session to end", func() bool {
		select {
		case <-s.Done():
			return true
		default:
			return false
		}
	})
	if got := s.Reason(); got != session.ReasonIdle && got != session.ReasonWriteError {
		t.Errorf("reason %v, want idle_timeout (or the write error its deadline caused)", got)
	}
}

// TestIdleSweepReload: SetLimits turns the idle timeout on for sessions
// already open, and off again.
func TestIdleSweepReload(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	ft := newTransport()
	s := e.openIdle(t, ft, ft.closeCh)
	time.Sleep(2 * idleFor)
	if ft.isClosed() {
		t.Fatal("cut without an idle timeout")
	}
	e.reg.SetLimits(session.Limits{IdleTimeout: idleFor})
	if got := e.reg.IdleTimeout(); got != idleFor {
		t.Fatalf("IdleTimeout() = %v after SetLimits, want %v", got, idleFor)
	}
	testkit.Eventually(t, "the open session to be cut", ft.isClosed)
	if got := s.Reason(); got != session.ReasonIdle {
		t.Errorf("reason %v, want idle_timeout", got)
	}

	e.reg.SetLimits(session.Limits{})
	ft2 := newTransport()
	e.openIdle(t, ft2, ft2.closeCh)
	time.Sleep(3 * idleFor)
	if ft2.isClosed() {
		t.Fatal("cut after the idle timeout was turned off")
	}
}
