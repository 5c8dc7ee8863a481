package tcpfront_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// TestSendBufferBoundsSlowConsumer: with --tcp-sndbuf, a subscriber that
// never reads is cut after about the queue limit plus the two sockets'
// small buffers, not after the megabytes an autotuned kernel buffer takes.
func TestSendBufferBoundsSlowConsumer(t *testing.T) {
	t.Parallel()
	const buf = 16 << 10
	srv := startServer(t, tcpfront.Config{SendBuffer: buf, Session: session.Config{MaxPending: 64 << 10}})
	// The slow client's own receive buffer is small too (set before
	// connecting, so the window is sized for it).
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, buf) })
		if err != nil {
			return err
		}
		return serr
	}}
	slow, err := d.DialContext(context.Background(), "tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	br := bufio.NewReader(slow)
	if _, err := fmt.Fprintf(slow, "/sub load\n"); err != nil {
		t.Fatal(err)
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "* subscribed load") {
			break
		}
	}
	pub := dialNick(t, srv.addr, "pub")
	n, bytes := 0, 0
	for round := 0; round < 500 && srv.Registry().Stats().SlowConsumers == 0; round++ {
		var b strings.Builder
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "/pub load %d %s\n", n, padding)
			n++
		}
		bytes += b.Len()
		pub.Write(b.String())
		pub.Send("/ping r")
		pub.ExpectLine("* pong r")
	}
	if got := srv.Registry().Stats().SlowConsumers; got != 1 {
		t.Fatalf("SlowConsumers = %d after %d messages, want 1", got, n)
	}
	// 64 KiB queue + 2 × 16 KiB send buffer + 2 × 16 KiB receive buffer
	// is ~192 KiB; allow for rounding and the last round. Without the
	// setting the kernel absorbs several MiB (TestSlowConsumer logs it).
	if bytes > 512<<10 {
		t.Errorf("slow consumer cut after %d bytes published, want under 512 KiB", bytes)
	}
	t.Logf("slow consumer cut after %d messages (%d bytes)", n, bytes)
}
