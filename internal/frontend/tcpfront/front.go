package tcpfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// Defaults of Config.
const (
	// DefaultAddr is the default listen address.
	DefaultAddr = ":8082"
	// DefaultBanner is the welcome sentence of the banner line.
	DefaultBanner = "Welcome to the concurrent server!"
	// DefaultParkAfter is the default Config.ParkAfter.
	DefaultParkAfter = time.Second
	// DefaultMaxLine is the default longest accepted line, in bytes, not
	// counting the line ending.
	DefaultMaxLine = 4096
	// DefaultKeepAlive is the default TCP keepalive period.
	DefaultKeepAlive = 15 * time.Second
)

// Config configures the TCP door. Zero values mean the documented defaults.
type Config struct {
	// Addr is the listen address (default DefaultAddr).
	Addr string
	// Banner replaces the welcome sentence of the first line (default
	// DefaultBanner); the nick and /help hint always follow.
	Banner string
	// MaxLine is the longest accepted line in bytes (default DefaultMaxLine).
	MaxLine int
	// Session holds the per-session settings: queue limit and rate limit.
	// Door and RemoteAddr are filled in per connection.
	Session session.Config
	// KeepAlive is the TCP keepalive period (default DefaultKeepAlive); negative
	// disables keepalives.
	KeepAlive time.Duration
	// SendBuffer sets each connection's SO_SNDBUF in bytes, which also
	// turns off the kernel's autotuning of it; 0 leaves the kernel's.
	SendBuffer int
	// ParkAfter is how long a connection may be idle before its goroutine
	// ends and the connection waits in the door's own epoll set instead
	// (Linux only); 0 means DefaultParkAfter, negative means never park.
	ParkAfter time.Duration
	// Logger receives the door's logs (default slog.Default()).
	Logger *slog.Logger
	// TLSAddr, when set, is the address of a second listener that speaks
	// the same line protocol inside TLS (--tcp-tls-addr); it needs TLS.
	// Its connections take the plain net.Conn path (tls.go). Empty: no
	// TLS listener.
	TLSAddr string
	// TLS is the TLS listener's server config (tlsconf.Server.Config):
	// its certificate may change between handshakes; nil without
	// TLSAddr.
	TLS *tls.Config
}

// Front is a listening TCP door. Serve accepts connections until Close;
// Wait waits for every connection goroutine to end. It is safe for
// concurrent use.
type Front struct {
	cfg     Config
	live    atomic.Pointer[Reloadable] // the settings SetReloadable may change
	reg     *session.Registry
	ln      *net.TCPListener
	tlsLn   *net.TCPListener // nil without Config.TLSAddr
	hsCtx   context.Context  // ends TLS handshakes in progress when Close cancels it
	hsStop  context.CancelFunc
	log     *slog.Logger
	closed  atomic.Bool
	conns   sync.WaitGroup
	pool    sync.Pool // *[]byte read buffers, borrowed only while data is there
	workers *workers
	parker  *parker
	iovecs  sync.Pool // *[]syscall.Iovec for TryWriteBatch
	codec   Codec
}

// Listen binds the TCP door's listener.
func Listen(cfg Config, reg *session.Registry) (*Front, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Banner == "" {
		cfg.Banner = DefaultBanner
	}
	if cfg.MaxLine <= 0 {
		cfg.MaxLine = DefaultMaxLine
	}
	if cfg.ParkAfter == 0 {
		cfg.ParkAfter = DefaultParkAfter
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Session.Door = "tcp"
	cfg.Session.Logger = cfg.Logger
	codec, err := NewCodec(reg.Formats())
	if err != nil {
		return nil, err
	}
	if cfg.TLSAddr != "" && cfg.TLS == nil {
		return nil, errors.New("tcp door: a TLS address needs a TLS config")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("tcp door: listen on %s: %w", cfg.Addr, err)
	}
	f := &Front{cfg: cfg, reg: reg, ln: ln.(*net.TCPListener), log: cfg.Logger, workers: newWorkers(), codec: codec}
	f.hsCtx, f.hsStop = context.WithCancel(context.Background())
	if cfg.TLSAddr != "" {
		tln, err := net.Listen("tcp", cfg.TLSAddr)
		if err != nil {
			_ = ln.Close()
			f.hsStop()
			return nil, fmt.Errorf("tcp door: listen for TLS on %s: %w", cfg.TLSAddr, err)
		}
		f.tlsLn = tln.(*net.TCPListener)
	}
	f.live.Store(&Reloadable{Session: cfg.Session})
	f.parker = newParker(f)
	f.pool.New = func() any { b := make([]byte, readBufSize); return &b }
	f.iovecs.New = func() any { v := make([]syscall.Iovec, 0, maxIovecs); return &v }
	return f, nil
}

// Reloadable is the part of Config that may change while the door runs.
type Reloadable struct {
	// Session replaces Config.Session for connections accepted from now
	// on; connections already open keep theirs. Door and Logger are the
	// door's own whatever it says.
	Session session.Config
}

// SetReloadable changes the settings of Reloadable while the door runs
// (on SIGHUP). Safe for concurrent use.
func (f *Front) SetReloadable(r Reloadable) {
	r.Session.Door = f.cfg.Session.Door
	r.Session.Logger = f.cfg.Session.Logger
	f.live.Store(&r)
}

// readBufSize is the size of the pooled read buffers: large enough that a
// fast publisher's commands arrive in few reads.
const readBufSize = 32 << 10

// Addr returns the bound address.
func (f *Front) Addr() net.Addr { return f.ln.Addr() }

// TLSAddr returns the TLS listener's bound address, or nil without one.
func (f *Front) TLSAddr() net.Addr {
	if f.tlsLn == nil {
		return nil
	}
	return f.tlsLn.Addr()
}

// Serve accepts connections on every listener of the door until Close is
// called, backing off on temporary errors such as running out of file
// descriptors. It returns nil after Close; if one listener fails, it
// closes the door and returns that error.
func (f *Front) Serve() error {
	if f.tlsLn == nil {
		return f.accept(f.ln, f.serveConn)
	}
	errc := make(chan error, 2)
	go func() { errc <- f.accept(f.ln, f.serveConn) }()
	go func() { errc <- f.accept(f.tlsLn, f.serveTLSConn) }()
	err := <-errc
	if err != nil {
		_ = f.Close()
	}
	if err2 := <-errc; err == nil {
		err = err2
	}
	return err
}

// accept is one listener's accept loop: each connection gets serve in a
// goroutine of its own, counted in f.conns.
func (f *Front) accept(ln *net.TCPListener, serve func(*net.TCPConn)) error {
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if f.closed.Load() {
				return nil
			}
			if isTemporary(err) {
				delay = backoff(delay)
				f.log.Warn("tcp door: accept failed; backing off", "err", err, "retry_in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("tcp door: accept: %w", err)
		}
		delay = 0
		f.conns.Add(1) // released when the connection ends, see runConn
		go serve(c)
	}
}

// backoff doubles the accept retry delay from 5ms up to 1s, as net/http
// does.
func backoff(d time.Duration) time.Duration {
	if d == 0 {
		return 5 * time.Millisecond
	}
	if d *= 2; d > time.Second {
		d = time.Second
	}
	return d
}

// isTemporary reports accept errors worth retrying: descriptor exhaustion,
// aborted handshakes and the like.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Close stops accepting, and ends the TLS handshakes in progress (those
// connections are no sessions yet). Existing connections are left to the
// session registry's Shutdown.
func (f *Front) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.hsStop()
	err := f.ln.Close()
	if f.tlsLn != nil {
		err = errors.Join(err, f.tlsLn.Close())
	}
	return err
}

// Stats is a snapshot of the door's connection machinery.
type Stats struct {
	// Parked is how many connections wait in the door's epoll set without
	// a goroutine of their own now (always 0 outside Linux).
	Parked int
	// Parks is how many times a connection was parked since Listen.
	Parks uint64
	// Jobs is how many pieces of connection work (opening, reading,
	// closing) went to the door's workers since Listen. An active
	// connection handles its input on its own goroutine, so at steady
	// load this stays still (see reader.wait).
	Jobs uint64
}

// Stats returns the door's current counts.
func (f *Front) Stats() Stats {
	now, ever := f.parker.counts()
	return Stats{Parked: now, Parks: ever, Jobs: f.workers.ran.Load()}
}

// Wait blocks until every connection goroutine and worker has ended.
func (f *Front) Wait() {
	f.conns.Wait()
	f.parker.close()
	f.workers.close()
}
