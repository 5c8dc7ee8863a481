package testkit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// Door is what ServeDoor needs of a front end: tcpfront.Front and
// webfront.Front have these methods, as the server's doors.
type Door interface {
	Serve() error
	Close() error
	Wait()
}

// Served is one door being served by ServeDoor. Its methods are safe for
// concurrent use.
type Served struct {
	reg    *session.Registry
	door   Door
	served chan error
	once   sync.Once
	err    error
}

// ServeDoor serves d (already listening, built on reg) until the test
// ends, when it is shut down as by Shutdown with a Timeout context; errors
// of the door's Serve or of the shutdown then fail the test.
func ServeDoor(t testing.TB, reg *session.Registry, d Door) *Served {
	t.Helper()
	s := &Served{reg: reg, door: d, served: make(chan error, 1)}
	go func() { s.served <- d.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutting the door down: %v", err)
		}
	})
	return s
}

// Shutdown shuts the door down in the server's order: stop accepting, wait
// for Serve to return, let every session's queue drain until ctx is done
// (then cut what is left), wait for the door's goroutines. Later calls
// return the first call's result.
func (s *Served) Shutdown(ctx context.Context) error {
	s.once.Do(func() {
		if err := s.door.Close(); err != nil {
			s.err = fmt.Errorf("close: %w", err)
		}
		select {
		case err := <-s.served:
			if err != nil && s.err == nil {
				s.err = fmt.Errorf("serve: %w", err)
			}
		case <-time.After(Timeout):
			if s.err == nil {
				s.err = fmt.Errorf("serve did not return within %v of close", Timeout)
			}
		}
		if err := s.reg.Shutdown(ctx); err != nil && s.err == nil {
			s.err = fmt.Errorf("registry shutdown: %w", err)
		}
		s.door.Wait()
	})
	return s.err
}
