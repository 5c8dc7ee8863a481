package testkit

import (
	"testing"
	"time"
)

// Timeout bounds every wait of a test: a poll, a read, a shutdown. It only
// catches hangs and is never a measurement.
const Timeout = 20 * time.Second

// PollInterval is how often Eventually checks its condition.
const PollInterval = 5 * time.Millisecond

// Eventually polls cond every PollInterval until it holds, and fails the
// test (from the caller's line) if it still does not hold after Timeout.
// what says what was awaited, as in "session gone"; the failure reads
// "timed out after 20s waiting for session gone". Call it from the test's
// goroutine: it stops the test with t.Fatalf.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	EventuallyWithin(t, Timeout, what, cond)
}

// EventuallyWithin is Eventually with a bound of its own, for a wait that
// has a documented limit shorter than Timeout.
func EventuallyWithin(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// Poll checks cond every PollInterval until it holds (true) or within
// has passed (false), for waits that are not failures of their own.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}
