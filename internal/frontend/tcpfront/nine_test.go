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

	"github.com/switchboard-hub/switchboard/internal/server"
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

// TestNineThousandClients connects 9,000 TCP clients, subscribes each, and
// checks that one publish reaches every one of them. Server and clients
// share this process, so it holds about 18,000 descriptors: it must not run
// alongside other tests (no t.Parallel), and it stays under a 20,000 limit.
func TestNineThousandClients(t *testing.T) {
	const (
		n        = 9000
		par      = 64               // concurrent dials and reads
		deadline = 50 * time.Second // whole-test bound: only catches hangs
	)
	if lim := raiseNoFile(t); lim < 2*n+200 {
		t.Skipf("RLIMIT_NOFILE is %d; this test needs %d descriptors", lim, 2*n+200)
	}
	start := time.Now()
	end := start.Add(deadline)
	srv := startServer(t, server.Config{})

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
		d := net.Dialer{
			Timeout:   time.Until(end),
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 90, byte(i%250), byte(1+i/250))},
		}
		c, err := d.Dial("tcp", srv.addr)
		if err != nil {
			return fmt.Errorf("client %d: dial: %w", i, err)
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
	if got := srv.Registry().Len(); got != n {
		t.Fatalf("registry holds %d sessions, want %d", got, n)
	}

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
