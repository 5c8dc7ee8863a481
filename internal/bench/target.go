package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errSlowConsumer is returned by a subscriber whose server closed it for not
// keeping up (switchboard's "! slow consumer", NATS's "Slow Consumer").
var errSlowConsumer = errors.New("bench: disconnected as a slow consumer")

// protocol is what differs between the servers bench can measure: how a
// client subscribes, how it publishes, and how it reads deliveries. Each
// implementation lives in its own file (target_line.go, target_redis.go,
// target_nats.go) so every scenario is written once.
type protocol interface {
	// name is the server family: "switchboard", "redis" or "nats".
	name() string
	// subscribe performs the handshake on a fresh connection and returns
	// once the server confirms the subscription to topic is active.
	subscribe(c net.Conn, br *bufio.Reader, topic string) (subscriber, error)
	// publisher performs the handshake for a connection that publishes.
	publisher(c net.Conn, br *bufio.Reader) (*publisher, error)
}

// subscriber reads deliveries from one subscribed connection. It is used
// by a single goroutine.
type subscriber interface {
	// next returns the payload of the next delivered message, valid until
	// the following call. It answers keep-alives itself.
	next() ([]byte, error)
}

// target is a parsed --target: the protocol and the TCP address.
type target struct {
	proto protocol
	addr  string // host:port
}

// String returns the target as a URL.
func (t target) String() string {
	scheme := map[string]string{"switchboard": "tcp", "redis": "redis", "nats": "nats"}[t.proto.name()]
	return scheme + "://" + t.addr
}

// parseTarget accepts tcp://HOST:PORT (or a bare HOST:PORT), redis://HOST:PORT
// and nats://HOST:PORT.
func parseTarget(s string) (target, error) {
	if !strings.Contains(s, "://") {
		s = "tcp://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return target{}, fmt.Errorf("parse target %q: %w", s, err)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return target{}, fmt.Errorf("target %q needs HOST:PORT: %w", s, err)
	}
	var p protocol
	switch u.Scheme {
	case "tcp", "line", "switchboard":
		p = lineProtocol{}
	case "redis":
		p = redisProtocol{}
	case "nats":
		p = natsProtocol{}
	default:
		return target{}, fmt.Errorf("target %q: unknown scheme %q (want tcp, redis or nats)", s, u.Scheme)
	}
	return target{proto: p, addr: u.Host}, nil
}

// isLoopback reports whether the target's host is a loopback address.
func (t target) isLoopback() bool {
	host, _, _ := net.SplitHostPort(t.addr)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dialer opens connections to a target, spreading them over local source
// addresses when asked so that one process can hold more connections to a
// single server port than one address's ephemeral port range allows.
type dialer struct {
	t       target
	sources []net.IP // empty: let the kernel choose
	next    atomic.Uint64
	timeout time.Duration
	bufSize int // read buffer per connection
}

// dial connects and returns the connection and its buffered reader. The
// reader wraps a countingConn so readers can tell when new bytes arrived.
func (d *dialer) dial(ctx context.Context) (*countingConn, *bufio.Reader, error) {
	nd := net.Dialer{Timeout: d.timeout}
	if len(d.sources) > 0 {
		ip := d.sources[d.next.Add(1)%uint64(len(d.sources))]
		nd.LocalAddr = &net.TCPAddr{IP: ip}
		nd.Control = bindNoPort
	}
	c, err := nd.DialContext(ctx, "tcp", d.t.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", d.t, err)
	}
	cc := &countingConn{Conn: c}
	return cc, bufio.NewReaderSize(cc, d.bufSize), nil
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT before the dialer binds the
// source address: the kernel then picks the port at connect time, unique
// per (source, destination) pair, instead of reserving a port exclusively
// at bind time. Without it, binding thousands of sockets crawls once other
// processes hold many ports (TIME_WAIT included) on the same address.
func bindNoPort(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("set IP_BIND_ADDRESS_NO_PORT: %w", serr)
	}
	return nil
}

// countingConn counts Read calls that returned data, so a subscriber can
// take one timestamp per batch of bytes instead of one per message.
type countingConn struct {
	net.Conn
	reads uint64 // only touched by the reading goroutine
}

// Read reads from the connection and counts the call.
func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads++
	}
	return n, err
}

// handshake runs fn with the connection's deadline set to timeout, then
// clears the deadline.
func handshake(c net.Conn, timeout time.Duration, fn func() error) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("set handshake deadline: %w", err)
	}
	if err := fn(); err != nil {
		return err
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear handshake deadline: %w", err)
	}
	return nil
}

// dialSubscriber connects one client and subscribes it to topic, with the
// handshake bounded by timeout; on error the connection is closed.
func dialSubscriber(ctx context.Context, d *dialer, proto protocol, topic string, timeout time.Duration) (*countingConn, *bufio.Reader, subscriber, error) {
	cc, br, err := d.dial(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var sub subscriber
	err = handshake(cc, timeout, func() error {
		var err error
		sub, err = proto.subscribe(cc, br, topic)
		return err
	})
	if err != nil {
		cc.Close()
		return nil, nil, nil, err
	}
	return cc, br, sub, nil
}

// pubCodec is the protocol-specific part of a publisher.
type pubCodec struct {
	// appendPub appends one publish command.
	appendPub func(dst []byte, topic string, payload []byte) []byte
	// ping is the barrier request; the server answers it with a pong
	// after processing everything sent before it.
	ping []byte
	// readReply reads one server reply on the publishing connection.
	readReply func() (replyKind, []byte, error)
}

// replyKind classifies what a publisher's connection receives.
type replyKind uint8

const (
	replyIgnore replyKind = iota // acks and informational lines
	replyPong                    // the answer to ping
	replyError                   // an error reply
	replyPing                    // a server keep-alive to answer with pong
)

// publisher batches publish commands into one buffer and writes it with one
// write per flush. A background goroutine reads and discards the server's
// replies (Redis answers every PUBLISH), counts errors and signals pongs.
// publish and flush are for one goroutine; the reader only takes mu to
// answer keep-alives.
type publisher struct {
	c     net.Conn
	codec pubCodec
	pong  []byte // answer to a server keep-alive, nil if none

	mu  sync.Mutex // guards buf and writes to c
	buf []byte

	pongs    chan struct{} // one per pong received
	errs     atomic.Int64
	lastErr  atomic.Value // string
	readDone chan struct{}
	readErr  error // set before readDone closes
}

func newPublisher(c net.Conn, codec pubCodec, pong []byte) *publisher {
	p := &publisher{c: c, codec: codec, pong: pong, buf: make([]byte, 0, 64<<10),
		pongs: make(chan struct{}, 16), readDone: make(chan struct{})}
	go p.readLoop()
	return p
}

func (p *publisher) readLoop() {
	defer close(p.readDone)
	for {
		kind, text, err := p.codec.readReply()
		if err != nil {
			p.readErr = err
			return
		}
		switch kind {
		case replyPong:
			select {
			case p.pongs <- struct{}{}:
			default:
			}
		case replyError:
			p.errs.Add(1)
			p.lastErr.Store(string(text))
		case replyPing:
			p.mu.Lock()
			_, err := p.c.Write(p.pong)
			p.mu.Unlock()
			if err != nil {
				p.readErr = err
				return
			}
		}
	}
}

// publish appends one publish command to the pending batch.
func (p *publisher) publish(topic string, payload []byte) {
	p.mu.Lock()
	p.buf = p.codec.appendPub(p.buf, topic, payload)
	p.mu.Unlock()
}

// flush writes the pending batch.
func (p *publisher) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		return nil
	}
	_, err := p.c.Write(p.buf)
	p.buf = p.buf[:0]
	if err != nil {
		return fmt.Errorf("write publish batch: %w", err)
	}
	return nil
}

// sync flushes, sends the barrier and waits for its answer: when it
// returns nil the server has processed every command sent before.
func (p *publisher) sync(ctx context.Context) error {
	p.mu.Lock()
	p.buf = append(p.buf, p.codec.ping...)
	p.mu.Unlock()
	if err := p.flush(); err != nil {
		return err
	}
	select {
	case <-p.pongs:
		return nil
	case <-p.readDone:
		return fmt.Errorf("publisher connection closed before pong: %w", p.readErr)
	case <-ctx.Done():
		return fmt.Errorf("wait for pong: %w", ctx.Err())
	}
}

// close closes the connection and waits for the reader.
func (p *publisher) close() error {
	err := p.c.Close()
	<-p.readDone
	return err
}

// errorCount returns the number of error replies and the last one.
func (p *publisher) errorCount() (int64, string) {
	s, _ := p.lastErr.Load().(string)
	return p.errs.Load(), s
}

// lineReader reads newline-ended lines without their line ending,
// assembling lines longer than the bufio buffer in a scratch buffer. The
// returned line is valid until the next call.
type lineReader struct {
	br      *bufio.Reader
	scratch []byte
	max     int
}

func (lr *lineReader) readLine() ([]byte, error) {
	l, err := lr.br.ReadSlice('\n')
	if err == nil {
		return trimEOL(l), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(l) > 0 {
			return nil, noEOF(err)
		}
		return nil, err
	}
	lr.scratch = append(lr.scratch[:0], l...)
	for {
		l, err = lr.br.ReadSlice('\n')
		if len(lr.scratch)+len(l) > lr.max {
			return nil, fmt.Errorf("line longer than %d bytes", lr.max)
		}
		lr.scratch = append(lr.scratch, l...)
		if err == nil {
			return trimEOL(lr.scratch), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, noEOF(err)
		}
	}
}

func trimEOL(l []byte) []byte {
	l = l[:len(l)-1]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return l
}
