package stress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the conns experiment.
const (
	DefaultConns     = 15_000
	DefaultConnsAddr = "127.0.0.1:8082"
	// connDialers is how many connections are opened concurrently.
	connDialers = 64
	// maxConnFailures stops dialing after this many failed connections
	// that are not a resource limit (those stop at once).
	maxConnFailures = 100
	// handshakeTimeout bounds dial + banner + subscribe of one connection.
	handshakeTimeout = 10 * time.Second
	// connReadBuf is the bufio size per connection: lines are short.
	connReadBuf = 512
)

// ConnsReport is the result of [RunConns].
type ConnsReport struct {
	Experiment string `json:"experiment"`
	// N is how many connections were asked for; Connected how many were
	// open and subscribed at once.
	N         int `json:"n"`
	Connected int `json:"connected"`
	// StopReason says why fewer than N connected ("" if all did).
	StopReason string `json:"stop_reason,omitempty"`
	// ConnFailures counts failed attempts; FirstError is the first one.
	ConnFailures int    `json:"conn_failures"`
	FirstError   string `json:"first_error,omitempty"`
	// ConnectSeconds is from the first dial until the last subscription was
	// confirmed; ConnectsPerSecond is Connected / ConnectSeconds.
	ConnectSeconds    float64 `json:"connect_seconds"`
	ConnectsPerSecond float64 `json:"connects_per_second"`
	// Delivered is how many subscribers received the broadcast.
	Delivered int `json:"delivered"`
	// BroadcastAllSeconds is from writing /pub until the last subscriber
	// had the message (or until the wait ended, if some never did).
	BroadcastAllSeconds float64 `json:"broadcast_all_seconds"`
	BroadcastP50Seconds float64 `json:"broadcast_p50_seconds"`
	BroadcastP99Seconds float64 `json:"broadcast_p99_seconds"`
	WallSeconds         float64 `json:"wall_seconds"`
	// Client-side figures (this process).
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	OSThreads    int    `json:"os_threads"`
	// BytesPerGoroutine is (client VmRSS with all connected - baseline) /
	// Connected: one reader goroutine, its buffer and the client socket's
	// user-space state per connection. Kernel socket buffers are not in RSS.
	BytesPerGoroutine float64 `json:"bytes_per_goroutine"`
	// SourceAddrs are the local IPs connections were spread over.
	SourceAddrs []string `json:"source_addrs"`
	// Server holds the server's own figures from /api/stats, if available;
	// ServerNote says why not otherwise.
	Server     *ServerStats      `json:"server,omitempty"`
	ServerNote string            `json:"server_note,omitempty"`
	Limits     Limits            `json:"limits"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	Machine    Machine           `json:"machine"`
	Sources    map[string]string `json:"sources"`
}

// connHarness holds the client side of the conns experiment. Its counters
// are shared by the dialers and reader goroutines; everything else is owned
// by RunConns.
type connHarness struct {
	addr    string
	topic   string
	token   []byte
	srcs    []net.IP
	epoch   time.Time
	pubAt   atomic.Int64 // ns since epoch when /pub was written
	gotAt   []atomic.Int64
	got     atomic.Int64
	allGot  chan struct{}
	gotOnce sync.Once
	want    atomic.Int64 // deliveries expected (set before publish)
	limits  Limits

	next     atomic.Int64 // next connection index to dial
	stop     atomic.Bool
	mu       sync.Mutex // guards conns, failures, reason, firstErr
	conns    []net.Conn
	failures int
	reason   string
	firstErr string
	readers  sync.WaitGroup
}

// RunConns opens opt.N TCP connections to the switchboard server at
// opt.Addr, subscribes each to one fresh topic, publishes one message and
// times its arrival everywhere. Resource limits (EMFILE, ENFILE, no local
// ports) stop the dialing cleanly and are reported with the reason; only a
// server that cannot be reached at all is an error. All connections are
// closed and their goroutines have exited when it returns.
func RunConns(ctx context.Context, opt Options) (ConnsReport, error) {
	n := opt.N
	if n <= 0 {
		n = DefaultConns
	}
	addr := opt.Addr
	if addr == "" {
		addr = DefaultConnsAddr
	}
	r := ConnsReport{Experiment: "conns", N: n, Machine: currentMachine(), Limits: readLimits()}
	r.GOMAXPROCS = r.Machine.GOMAXPROCS
	h, err := newConnHarness(addr, n)
	if err != nil {
		return r, err
	}
	h.limits = r.Limits
	for _, ip := range h.srcs {
		r.SourceAddrs = append(r.SourceAddrs, ip.String())
	}
	p := newProbe()
	base, resetOK, err := baseline(p)
	if err != nil {
		return r, err
	}
	start := time.Now()

	// The publisher connects first, so later fd exhaustion cannot stop it.
	pub, pubR, err := h.handshake(ctx, 0, false)
	if err != nil {
		return r, fmt.Errorf("conns: connect publisher to %s: %w", addr, err)
	}
	defer pub.Close()
	stats := newStatsClient(opt.HTTPAddr)
	defer stats.close()
	before, beforeErr := stats.fetch(ctx)

	bar := startProgress(opt.Progress, "connecting", int64(n))
	h.dialAll(ctx, n, bar)
	connectDur := time.Since(start)
	bar.done()
	defer h.closeAll()
	h.mu.Lock()
	r.Connected, r.ConnFailures, r.StopReason, r.FirstError = len(h.conns), h.failures, h.reason, h.firstErr
	h.mu.Unlock()
	if r.Connected < n && r.StopReason == "" && ctx.Err() != nil {
		r.StopReason = "timeout: " + ctx.Err().Error()
	}
	r.ConnectSeconds = connectDur.Seconds()
	if connectDur > 0 {
		r.ConnectsPerSecond = float64(r.Connected) / connectDur.Seconds()
	}
	alive, _ := p.read()
	r.BytesPerGoroutine = perUnit(alive.RSSBytes, base.RSSBytes, r.Connected)
	after, afterErr := stats.fetch(ctx)
	r.Server, r.ServerNote = serverFigures(opt.HTTPAddr, before, beforeErr, after, afterErr, r.Connected)

	if r.Connected > 0 && ctx.Err() == nil {
		if err := h.broadcast(ctx, pub, r.Connected); err != nil {
			r.StopReason = strings.TrimPrefix(r.StopReason+"; ", "; ") + "publish: " + err.Error()
		}
		h.fillLatency(&r)
		if r.Delivered == 0 {
			if line := peekError(pub, pubR); line != "" {
				r.StopReason = strings.TrimPrefix(r.StopReason+"; ", "; ") + "server said: " + line
			}
		}
	}
	h.closeAll()
	end, _ := p.read()
	r.WallSeconds = time.Since(start).Seconds()
	var rssSrc string
	r.PeakRSSBytes, rssSrc = peakRSS(resetOK, end, alive)
	r.OSThreads = max(end.Threads, alive.Threads)
	r.Sources = map[string]string{
		"connect_seconds":       srcClock + ", first dial until last `* subscribed`",
		"broadcast_all_seconds": srcClock + ", /pub written until the last subscriber read the message",
		"peak_rss_bytes":        rssSrc + " (client process)",
		"bytes_per_goroutine":   "(client " + srcRSS + " with all connected - baseline) / connected",
		"server":                "GET http://" + opt.HTTPAddr + "/api/stats: (process_rss_bytes after - before) / (connections after - before)",
		"os_threads":            srcThreads + " (client process)",
	}
	return r, nil
}

// newConnHarness prepares the client: a fresh topic and token, and the
// source addresses to spread connections over (127.0.0.2-9 for loopback
// targets, so no single source IP runs out of ephemeral ports).
func newConnHarness(addr string, n int) (*connHarness, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --addr %q: %v", ErrUsage, addr, err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	h := &connHarness{
		addr:   addr,
		topic:  "stress.conns." + id,
		token:  []byte("stress-broadcast-" + id),
		epoch:  time.Now(),
		gotAt:  make([]atomic.Int64, n),
		allGot: make(chan struct{}),
	}
	ip := net.ParseIP(host)
	if host == "localhost" || (ip != nil && ip.IsLoopback() && ip.To4() != nil) {
		for i := 2; i <= 9; i++ {
			h.srcs = append(h.srcs, net.IPv4(127, 0, 0, byte(i)))
		}
	}
	return h, nil
}

// dialAll runs connDialers workers until n connections are subscribed, the
// harness is stopped by a resource limit or too many failures, or ctx ends.
func (h *connHarness) dialAll(ctx context.Context, n int, bar *progressBar) {
	var wg sync.WaitGroup
	for range min(connDialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !h.stop.Load() && ctx.Err() == nil {
				i := int(h.next.Add(1) - 1)
				if i >= n {
					return
				}
				c, br, err := h.handshake(ctx, i, true)
				if err != nil {
					h.fail(ctx, err)
					continue
				}
				h.mu.Lock()
				idx := len(h.conns)
				h.conns = append(h.conns, c)
				h.readers.Add(1)
				h.mu.Unlock()
				go h.readLoop(idx, br)
				bar.Add(1)
			}
		}()
	}
	wg.Wait()
}

// handshake dials connection i from its source address, reads the banner
// and, if subscribe is set, subscribes to the topic and waits for the ack.
func (h *connHarness) handshake(ctx context.Context, i int, subscribe bool) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{Timeout: handshakeTimeout}
	if len(h.srcs) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: h.srcs[i%len(h.srcs)]}
	}
	c, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReaderSize(c, connReadBuf)
	if err := expectLine(br, "* Welcome"); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("banner: %w", err)
	}
	if subscribe {
		if _, err := io.WriteString(c, "/sub "+h.topic+"\n"); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("send /sub: %w", err)
		}
		if err := expectLine(br, "* subscribed "+h.topic); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("subscribe: %w", err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

// errServerLine is wrapped when the server answers with a "! " error line.
var errServerLine = errors.New("stress: server error line")

// expectLine reads lines until one starts with prefix, failing on an error
// line ("! ...") or after 64 unrelated lines.
func expectLine(br *bufio.Reader, prefix string) error {
	for range 64 {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(line, prefix) {
			return nil
		}
		if strings.HasPrefix(line, "! ") {
			return fmt.Errorf("%w: %q", errServerLine, line)
		}
	}
	return fmt.Errorf("no %q line from server", prefix)
}

// limitReason says whether err is the OS refusing a resource, and why.
func limitReason(err error, l Limits) (string, bool) {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return fmt.Sprintf("EMFILE: this process reached its open-file limit (ulimit -n: soft %s, hard %s)",
			fmtInt(l.NofileSoft), fmtInt(l.NofileHard)), true
	case errors.Is(err, syscall.ENFILE):
		return "ENFILE: the system-wide open-file table is full", true
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "EADDRNOTAVAIL: no free local port for these source addresses", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "ECONNREFUSED: nothing is listening (or the server's accept queue is full)", true
	}
	return "", false
}

// fail records a failed connection attempt and stops the dialers when it
// is a resource limit or failures pile up.
func (h *connHarness) fail(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures++
	if h.firstErr == "" {
		h.firstErr = err.Error()
	}
	if reason, ok := limitReason(err, h.limits); ok {
		if h.reason == "" {
			h.reason = reason
		}
		h.stop.Store(true)
		return
	}
	if h.failures >= maxConnFailures && h.reason == "" {
		h.reason = fmt.Sprintf("%d failed connections (first: %s)", h.failures, h.firstErr)
		h.stop.Store(true)
	}
}

// readLoop reads one subscriber's lines until the connection is closed,
// recording when the broadcast arrived.
func (h *connHarness) readLoop(i int, br *bufio.Reader) {
	defer h.readers.Done()
	prefix := []byte("[" + h.topic + "] ")
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return
		}
		if bytes.HasPrefix(line, prefix) && bytes.Contains(line, h.token) {
			if h.gotAt[i].CompareAndSwap(0, max(1, time.Since(h.epoch).Nanoseconds())) {
				if h.got.Add(1) == h.want.Load() {
					h.gotOnce.Do(func() { close(h.allGot) })
				}
			}
		}
	}
}

// broadcast publishes the token once and waits until want subscribers
// have it or ctx ends.
func (h *connHarness) broadcast(ctx context.Context, pub net.Conn, want int) error {
	h.want.Store(int64(want))
	if h.got.Load() >= int64(want) {
		h.gotOnce.Do(func() { close(h.allGot) })
	}
	h.pubAt.Store(time.Since(h.epoch).Nanoseconds())
	_ = pub.SetWriteDeadline(time.Now().Add(handshakeTimeout))
	if _, err := fmt.Fprintf(pub, "/pub %s %s\n", h.topic, h.token); err != nil {
		return fmt.Errorf("write /pub: %w", err)
	}
	select {
	case <-h.allGot:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for delivery: %w", ctx.Err())
	}
}

// fillLatency computes delivery figures from the recorded arrival times.
func (h *connHarness) fillLatency(r *ConnsReport) {
	pubAt := h.pubAt.Load()
	lat := make([]int64, 0, r.Connected)
	for i := range r.Connected {
		if t := h.gotAt[i].Load(); t > 0 {
			lat = append(lat, t-pubAt)
		}
	}
	r.Delivered = len(lat)
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))]) / 1e9 }
	r.BroadcastP50Seconds, r.BroadcastP99Seconds, r.BroadcastAllSeconds = q(0.5), q(0.99), q(1)
}

// closeAll closes every subscriber connection and waits for the readers.
// Calling it again is harmless.
func (h *connHarness) closeAll() {
	h.stop.Store(true)
	h.mu.Lock()
	conns := h.conns
	h.conns = nil
	h.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	h.readers.Wait()
}

// peekError reads what the server sent the publisher, briefly, and returns
// the first error line, if any.
func peekError(c net.Conn, br *bufio.Reader) string {
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for range 16 {
		line, err := br.ReadString('\n')
		if err != nil {
			return ""
		}
		if strings.HasPrefix(line, "! ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// WriteTable writes the human-readable report.
func (r ConnsReport) WriteTable(w io.Writer) error {
	t := kvTable(fmt.Sprintf("stress conns: %s TCP clients subscribed to one topic, then one broadcast", fmtInt(int64(r.N))))
	s := r.Sources
	t.add("connections open and subscribed", fmtInt(int64(r.Connected)), "client count of `* subscribed` acks")
	if r.StopReason != "" {
		t.add("stopped early because", r.StopReason, "")
	}
	t.add("failed attempts", fmtInt(int64(r.ConnFailures)), r.FirstError)
	t.add("connect time (all)", fmtSec(r.ConnectSeconds), s["connect_seconds"])
	t.add("connect rate", fmt.Sprintf("%.0f conn/s", r.ConnectsPerSecond), "connected / connect_seconds")
	t.add("subscribers that got the broadcast", fmtInt(int64(r.Delivered)), "reader goroutines")
	t.add("broadcast: until all had it", fmtSec(r.BroadcastAllSeconds), s["broadcast_all_seconds"])
	t.add("broadcast: p50 / p99", fmtSec(r.BroadcastP50Seconds)+" / "+fmtSec(r.BroadcastP99Seconds), "same clock, per subscriber")
	if r.Server != nil {
		t.add("server RSS before / after", fmtTotal(r.Server.RSSBeforeBytes)+" / "+fmtTotal(r.Server.RSSAfterBytes), "/api/stats process_rss_bytes")
		t.add("server connections before / after", fmtInt(r.Server.ConnsBefore)+" / "+fmtInt(r.Server.ConnsAfter), "/api/stats connections")
		t.add("server memory per connection", fmtBytes(r.Server.BytesPerConn), s["server"])
	} else {
		t.add("server memory per connection", "n/a", r.ServerNote)
	}
	t.add("client bytes per connection", fmtBytes(r.BytesPerGoroutine), s["bytes_per_goroutine"])
	t.add("client peak RSS", fmtTotal(r.PeakRSSBytes), s["peak_rss_bytes"])
	t.add("client OS threads", fmtInt(int64(r.OSThreads)), s["os_threads"])
	t.note("source addresses: %s", orUnknown(strings.Join(r.SourceAddrs, ", ")))
	t.note("open-file limit (ulimit -n): soft %s, hard %s", fmtInt(r.Limits.NofileSoft), fmtInt(r.Limits.NofileHard))
	t.note("%s", machineNote(r.Machine))
	return t.write(w)
}
