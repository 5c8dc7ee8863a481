package tcpfront_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// raiseNoFile raises the soft descriptor limit to the hard limit and
// returns the new soft limit.
func raiseNoFile(t *testing.T) uint64 {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < lim.Max {
		old := lim.Cur
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		t.Logf("RLIMIT_NOFILE soft limit raised from %d to %d", old, lim.Cur)
	}
	return lim.Cur
}

// forEach runs fn(i) for i in [0, n) on at most par goroutines and
// returns the first error.
func forEach(n, par int, fn func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n)) // stop handing out work
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// retryDialer makes bounded dial attempts: on a busy machine the accept
// queue can overflow for a moment and the kernel drops the SYN; its own
// retransmits then back off (1 s, 2 s, 4 s, ...), so a fresh attempt after
// a short wait connects sooner than waiting on one. The attempts are
// bounded in count and time.
type retryDialer struct {
	attempts  int           // at most this many attempts
	each      time.Duration // each bounded by this
	afterFail func(n int)   // if set, called after the nth failed attempt
}

// nineDialer is the 9,000-client test's: 6 attempts of 3 s.
var nineDialer = retryDialer{attempts: 6, each: 3 * time.Second}

// dial connects to addr from local (nil for any), none of its attempts
// past end. It returns the connection and how many attempts failed first.
func (rd retryDialer) dial(local *net.TCPAddr, addr string, end time.Time) (net.Conn, int, error) {
	var err error
	for a := 0; a < rd.attempts; a++ {
		left := time.Until(end)
		if left <= 0 {
			return nil, a, fmt.Errorf("dial: out of time after %d attempts: %w", a, err)
		}
		d := net.Dialer{Timeout: min(rd.each, left)}
		if local != nil {
			d.LocalAddr = local
		}
		var c net.Conn
		if c, err = d.Dial("tcp", addr); err == nil {
			return c, a, nil
		}
		if rd.afterFail != nil {
			rd.afterFail(a + 1)
		}
	}
	return nil, rd.attempts, fmt.Errorf("dial: %d attempts failed, the last: %w", rd.attempts, err)
}

// TestRetryDialerOutlastsFullBacklog: a listener whose accept queue is
// full drops new SYNs, so one short attempt times out; once the server
// accepts again, a later attempt connects.
func TestRetryDialerOutlastsFullBacklog(t *testing.T) {
	t.Parallel()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	// Backlog 0: one connection waits to be accepted, the next SYN is
	// dropped.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	first, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	short := retryDialer{attempts: 1, each: 200 * time.Millisecond}
	if c, _, err := short.dial(nil, addr, time.Now().Add(timeout)); err == nil {
		c.Close()
		t.Fatal("a dial to a listener with a full accept queue connected; the test cannot tell retries apart")
	}
	// Once two attempts have failed, the server accepts the waiting
	// connection, which makes room in the queue.
	twoFailed := make(chan struct{})
	var once sync.Once
	rd := retryDialer{attempts: 20, each: 200 * time.Millisecond, afterFail: func(n int) {
		if n == 2 {
			once.Do(func() { close(twoFailed) })
		}
	}}
	accepted := make(chan error, 1)
	go func() {
		<-twoFailed
		nfd, _, err := syscall.Accept(fd)
		if err == nil {
			syscall.Close(nfd)
		}
		accepted <- err
	}()
	c, failed, err := rd.dial(nil, addr, time.Now().Add(timeout))
	once.Do(func() { close(twoFailed) }) // in case it never failed twice
	if aerr := <-accepted; aerr != nil {
		t.Fatalf("accept: %v", aerr)
	}
	if err != nil {
		t.Fatalf("retrying dial: %v", err)
	}
	c.Close()
	if failed < 2 {
		t.Errorf("connected after %d failed attempts; want at least 2, while the queue was full", failed)
	}
}

// TestNineThousandClients connects 9,000 TCP clients, subscribes each, and
// checks that one publish reaches every one of them. Server and clients
// share this process, so it holds about 18,000 descriptors: it must not run
// alongside other tests (no t.Parallel), and it stays under a 20,000 limit.
func TestNineThousandClients(t *testing.T) {
	const (
		n        = 9000
		par      = 64              // concurrent dials and reads
		deadline = 2 * time.Minute // whole-test bound: only catches hangs
	)
	if lim := raiseNoFile(t); lim < 2*n+200 {
		testkit.Unavailable(t, fmt.Sprintf("RLIMIT_NOFILE is %d and this test needs %d descriptors (ulimit -n)", lim, 2*n+200))
	}
	start := time.Now()
	end := start.Add(deadline)
	srv := startServer(t, tcpfront.Config{})

	type lite struct {
		c net.Conn
		r *bufio.Reader
	}
	clients := make([]lite, n)
	t.Cleanup(func() {
		for _, c := range clients {
			if c.c != nil {
				_ = c.c.Close()
			}
		}
	})
	readLine := func(c lite) (string, error) {
		l, err := c.r.ReadString('\n')
		return strings.TrimSuffix(l, "\n"), err
	}
	err := forEach(n, par, func(i int) error {
		// Each client dials from its own loopback source address, bound
		// explicitly, so the test does not depend on free ephemeral ports
		// of 127.0.0.1, which other processes on the machine may be using.
		c, _, err := nineDialer.dial(&net.TCPAddr{IP: net.IPv4(127, 90, byte(i%250), byte(1+i/250))}, srv.addr, end)
		if err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		_ = c.SetDeadline(end)
		cl := lite{c: c, r: bufio.NewReaderSize(c, 256)}
		clients[i] = cl
		if l, err := readLine(cl); err != nil || !strings.HasPrefix(l, "* Welcome") {
			return fmt.Errorf("client %d: banner %q: %v", i, l, err)
		}
		if _, err := c.Write([]byte("/sub broadcast.all\n")); err != nil {
			return fmt.Errorf("client %d: write: %w", i, err)
		}
		if l, err := readLine(cl); err != nil || l != "* subscribed broadcast.all" {
			return fmt.Errorf("client %d: sub reply %q: %v", i, l, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	connected := time.Since(start)
	// A dial attempt given up on may have reached the server after all;
	// its session ends when the server sees the reset.
	testkit.Eventually(t, fmt.Sprintf("the registry to hold %d sessions", n), func() bool { return srv.Registry().Len() == n })

	pub := dialNick(t, srv.addr, "announcer")
	pub.Send("/pub broadcast.all hello, all nine thousand")
	pub.Quiet()
	want := "[broadcast.all] announcer: hello, all nine thousand"
	var received atomic.Int64
	err = forEach(n, par, func(i int) error {
		l, err := readLine(clients[i])
		if err != nil || l != want {
			return fmt.Errorf("client %d: got %q, %v; want %q", i, l, err, want)
		}
		received.Add(1)
		return nil
	})
	if err != nil {
		t.Fatalf("after %d of %d deliveries: %v", received.Load(), n, err)
	}
	t.Logf("%d clients connected and subscribed in %v; broadcast received by all in %v",
		n, connected.Round(time.Millisecond), (time.Since(start) - connected).Round(time.Millisecond))
}
