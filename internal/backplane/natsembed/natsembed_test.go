package natsembed

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStartFreePort: an empty address picks a free loopback port and the
// server accepts connections there.
func TestStartFreePort(t *testing.T) {
	t.Parallel()
	s, err := Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	c, err := net.DialTimeout("tcp", s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr(), err)
	}
	_ = c.Close()
}

// TestStartBusyPort: a port someone else holds fails with the listener's
// own error (address already in use), long before the ready timeout.
func TestStartBusyPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	start := time.Now()
	s, err := Start(ln.Addr().String())
	if err == nil {
		s.Shutdown()
		t.Fatal("Start on a busy port succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, ErrNotReady) {
		t.Errorf("err = %v, want the listener's address-in-use error", err)
	}
	// Not a timing assertion on performance: the bug was a fixed wait of
	// readyTimeout before any error.
	if took := time.Since(start); took >= readyTimeout {
		t.Errorf("Start took %v, the whole ready timeout", took)
	}
	t.Log(err)
}

// TestStartBadAddress: a malformed address is refused before anything runs.
func TestStartBadAddress(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"nohostport", "127.0.0.1:x", "127.0.0.1:70000"} {
		if s, err := Start(addr); err == nil {
			s.Shutdown()
			t.Errorf("Start(%q) succeeded", addr)
		}
	}
}
