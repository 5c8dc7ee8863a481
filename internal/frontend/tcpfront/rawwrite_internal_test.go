package tcpfront

import (
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// rawPair is one accepted connection of a door with no sessions, wrapped
// in a reader as open would, and the client end it talks to.
type rawPair struct {
	r    *reader
	peer *net.TCPConn
}

// newRawPair listens on 127.0.0.1:0, connects once and returns both ends;
// everything is closed when the test ends.
func newRawPair(t testing.TB) rawPair {
	t.Helper()
	f, err := Listen(Config{Addr: "127.0.0.1:0"}, session.NewRegistry(hub.New(hub.Config{}), session.Limits{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close(); f.Wait() })
	peer, err := net.DialTCP("tcp", nil, f.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = peer.Close() })
	c, err := f.ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{f: f, c: c, rc: rc}
	if err := rc.Control(func(fd uintptr) { r.fd = int(fd) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(session.ReasonClientGone) })
	return rawPair{r: r, peer: peer}
}

// TestRawWriteNeverReachesReusedDescriptor races Close against
// TryWriteBatch with nothing else keeping them apart (no session and its
// lock). Once Close has run, the kernel hands the connection's descriptor
// number to the next socket made, here one end of a socketpair; the
// writer goroutine keeps writing all along, and not one byte may arrive on
// the socketpair. Without the door's own guard, the raw sendto goes to
// whatever the number now names.
func TestRawWriteNeverReachesReusedDescriptor(t *testing.T) {
	t.Parallel()
	const (
		rounds     = 50
		afterReuse = 200 // writes each round attempts once the number is reused
	)
	frame := [][]byte{[]byte("for the old connection only\n")}
	for round := 0; round < rounds; round++ {
		p := newRawPair(t)
		oldFD := p.r.fd

		var (
			writes  atomic.Int64 // TryWriteBatch calls so far
			stop    atomic.Bool
			errs    atomic.Int64 // calls that reported an error
			writing sync.WaitGroup
		)
		writing.Add(1)
		go func() {
			defer writing.Done()
			for !stop.Load() {
				if _, err := p.r.TryWriteBatch(frame); err != nil {
					errs.Add(1)
				}
				writes.Add(1)
			}
		}()
		for writes.Load() < 10 {
			// Let the writer get going before the close.
			runtime.Gosched()
		}
		if err := p.r.Close(session.ReasonClientGone); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("round %d: socketpair: %v", round, err)
		}
		// The end that took the old number, and the end its bytes reach.
		reused, other := fds[0], fds[1]
		if fds[1] == oldFD {
			reused, other = fds[1], fds[0]
		}
		from := writes.Load()
		for writes.Load() < from+afterReuse {
			runtime.Gosched()
		}
		stop.Store(true)
		writing.Wait()

		var buf [4096]byte
		n, rerr := syscall.Read(other, buf[:])
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
		if n > 0 {
			t.Fatalf("round %d: %d bytes written after Close reached the socket that reused descriptor %d: %q",
				round, n, oldFD, buf[:min(n, 40)])
		}
		if rerr != syscall.EAGAIN {
			t.Fatalf("round %d: read from socketpair: n=%d err=%v, want EAGAIN", round, n, rerr)
		}
		if reused != oldFD {
			// The descriptor number was not reused this round (another
			// goroutine of the process took it); the writes still had to
			// fail, checked below.
			t.Logf("round %d: descriptor %d not reused (socketpair got %v)", round, oldFD, fds)
		}
		if errs.Load() < afterReuse {
			t.Fatalf("round %d: only %d of the writes after Close failed, want at least %d", round, errs.Load(), afterReuse)
		}
	}
}

// BenchmarkTryWriteBatch is the direct write of one small frame to a
// socket whose peer keeps reading: the per-subscriber cost of a broadcast,
// guard included.
func BenchmarkTryWriteBatch(b *testing.B) {
	p := newRawPair(b)
	go func() {
		var buf [64 << 10]byte
		for {
			if _, err := p.peer.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	frame := [][]byte{[]byte("[broadcast.all] announcer: hello, all nine thousand\n")}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.r.TryWriteBatch(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTryWriteBatchFull is the same write to a socket that is full:
// the syscall returns EAGAIN at once, so the guard's share is at its
// largest.
func BenchmarkTryWriteBatchFull(b *testing.B) {
	p := newRawPair(b)
	frame := [][]byte{make([]byte, 64<<10)}
	for {
		n, err := p.r.TryWriteBatch(frame)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	frame = [][]byte{[]byte("x\n")}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.r.TryWriteBatch(frame); err != nil {
			b.Fatal(err)
		}
	}
}
