package tcpfront

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// The accept loop must back off, not die, when descriptors run out.
func TestAcceptBackoff(t *testing.T) {
	t.Parallel()
	var d time.Duration
	var seq []time.Duration
	for i := 0; i < 12; i++ {
		d = backoff(d)
		seq = append(seq, d)
	}
	if seq[0] != 5*time.Millisecond || seq[1] != 10*time.Millisecond || seq[len(seq)-1] != time.Second {
		t.Errorf("backoff sequence %v: want 5ms doubling up to 1s", seq)
	}
	temporary := []error{
		syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED,
		&net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)},
		fmt.Errorf("wrapped: %w", syscall.ENOBUFS),
	}
	for _, err := range temporary {
		if !isTemporary(err) {
			t.Errorf("isTemporary(%v) = false", err)
		}
	}
	for _, err := range []error{net.ErrClosed, errors.New("boom"), syscall.EINVAL} {
		if isTemporary(err) {
			t.Errorf("isTemporary(%v) = true", err)
		}
	}
}
