package testkit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fatalRecorder is a testing.TB whose Fatalf records the message and
// stops the calling goroutine (by panicking), as the real one does, and
// whose Errorf only records.
type fatalRecorder struct {
	testing.TB
	msg    string
	errors atomic.Int32
}

func (f *fatalRecorder) Errorf(string, ...any) { f.errors.Add(1) }

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestEventually(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	testkit.Eventually(t, "the third poll", func() bool { return n.Add(1) == 3 })
	if n.Load() != 3 {
		t.Fatalf("cond called %d times, want 3 (it stops once true)", n.Load())
	}
}

func TestPollGivesUp(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if testkit.Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never holds as true")
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("Poll gave up after %v, before its 30ms", d)
	}
}

// The failure names what was awaited and the bound. A recording TB stands
// in for the test, so that the failure is observed instead of failing.
func TestEventuallyFailureMessage(t *testing.T) {
	t.Parallel()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = recover() }()
		testkit.EventuallyWithin(rec, 20*time.Millisecond, "the moon to turn blue", func() bool { return false })
	}()
	<-done
	if want := "timed out after 20ms waiting for the moon to turn blue"; rec.msg != want {
		t.Fatalf("failure message %q, want %q", rec.msg, want)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	var l testkit.Logs
	log := l.Logger()
	log.Info("slow consumer cut")
	log.With("k", 1).WithGroup("g").Warn("another slow consumer")
	log.Error("panic serving")
	if n := l.Count("slow consumer"); n != 2 {
		t.Fatalf("Count(slow consumer) = %d, want 2", n)
	}
	if n := l.Count("nothing like it"); n != 0 {
		t.Fatalf("Count of an absent message = %d", n)
	}
}

// fakeDoor is a door whose Serve blocks until Close, recording the calls
// the shutdown makes.
type fakeDoor struct {
	closed chan struct{}
	calls  []string
	err    error // what Serve returns
}

func newFakeDoor(err error) *fakeDoor { return &fakeDoor{closed: make(chan struct{}), err: err} }

func (d *fakeDoor) Serve() error { <-d.closed; return d.err }
func (d *fakeDoor) Close() error { d.calls = append(d.calls, "close"); close(d.closed); return nil }
func (d *fakeDoor) Wait()        { d.calls = append(d.calls, "wait") }

func TestServeDoorShutsDownInOrder(t *testing.T) {
	t.Parallel()
	reg := session.NewRegistry(hub.New(hub.Config{}), session.Limits{})
	d := newFakeDoor(nil)
	s := testkit.ServeDoor(t, reg, d)
	for i := 0; i < 2; i++ {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown #%d: %v", i+1, err)
		}
	}
	if got := strings.Join(d.calls, ","); got != "close,wait" {
		t.Fatalf("calls %q, want close then wait, once each", got)
	}
}

func TestServeDoorReportsServeError(t *testing.T) {
	t.Parallel()
	reg := session.NewRegistry(hub.New(hub.Config{}), session.Limits{})
	boom := errors.New("accept failed")
	rec := &fatalRecorder{TB: t}
	t.Run("serve", func(t *testing.T) {
		rec.TB = t
		s := testkit.ServeDoor(rec, reg, newFakeDoor(boom))
		if err := s.Shutdown(context.Background()); !errors.Is(err, boom) {
			t.Fatalf("Shutdown = %v, want the door's Serve error", err)
		}
	})
	// The subtest's cleanup ran the shutdown too and reported the error.
	if n := rec.errors.Load(); n != 1 {
		t.Fatalf("the cleanup reported %d errors, want 1", n)
	}
}

// skipRecorder is a fatalRecorder whose Skipf records and stops too.
type skipRecorder struct {
	fatalRecorder
	skipped string
}

func (s *skipRecorder) Skipf(format string, args ...any) {
	s.skipped = fmt.Sprintf(format, args...)
	panic(s)
}

// Unavailable skips outside CI and fails under CI=true. Not parallel: it
// sets CI for its subtests.
func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		ci                 string
		wantFail, wantSkip bool
	}{{"true", true, false}, {"", false, true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			rec := &skipRecorder{fatalRecorder: fatalRecorder{TB: t}}
			func() {
				defer func() { _ = recover() }()
				testkit.Unavailable(rec, "no frobnicator on PATH")
			}()
			if got := rec.msg != ""; got != tc.wantFail {
				t.Errorf("failed = %v (%q), want %v", got, rec.msg, tc.wantFail)
			}
			if got := rec.skipped != ""; got != tc.wantSkip {
				t.Errorf("skipped = %v (%q), want %v", got, rec.skipped, tc.wantSkip)
			}
			if m := rec.msg + rec.skipped; !strings.Contains(m, "no frobnicator on PATH") {
				t.Errorf("message %q does not say why", m)
			}
		})
	}
}
