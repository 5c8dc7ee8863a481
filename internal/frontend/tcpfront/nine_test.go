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

// Dial attempts: on a busy machine the accept queue can overflow for a
// moment, and the kernel drops the SYN; its own retransmits then back off
// (1 s, 2 s, 4 s, ...), so a fresh attempt after a short wait connects
// sooner than waiting on one. The attempts are bounded in count and time.
const (
	dialAttempts = 6
	dialAttempt  = 3 * time.Second
)

// dialRetry connects to addr from local, making up to dialAttempts
// attempts of at most dialAttempt each, none past end.
func dialRetry(local *net.TCPAddr, addr string, end time.Time) (net.Conn, error) {
	var err error
	for a := 1; a <= dialAttempts; a++ {
		left := time.Until(end)
		if left <= 0 {
			return nil, fmt.Errorf("dial: out of time after %d attempts: %w", a-1, err)
		}
		d := net.Dialer{Timeout: min(dialAttempt, left), LocalAddr: local}
		var c net.Conn
		if c, err = d.Dial("tcp", addr); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("dial: %d attempts failed, the last: %w", dialAttempts, err)
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
		c, err := dialRetry(&net.TCPAddr{IP: net.IPv4(127, 90, byte(i%250), byte(1+i/250))}, srv.addr, end)
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
