package webfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"path"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/metrics"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
	"github.com/switchboard-hub/switchboard/web"
)

// Defaults of Config.
const (
	// DefaultAddr is the default listen address.
	DefaultAddr = ":8080"
	// DefaultMaxBody is the default body limit of POST /pub, in bytes.
	DefaultMaxBody = 64 << 10
	// DefaultMaxMessage is the default limit of one WebSocket message
	// from a client, in bytes.
	DefaultMaxMessage = 64 << 10
	// DefaultSSEKeepalive is the default interval of SSE keepalive
	// comments.
	DefaultSSEKeepalive = 30 * time.Second
	// DefaultReadTimeout is the default time a client has to send a whole
	// request, body included (WebSocket and SSE streams are exempt once
	// they start).
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout is the default time, from the end of a
	// request's head, by which its answer must have been taken (streams
	// are exempt; their slow readers are slow consumers). Longer than the
	// read timeout, so that a request cut by it still gets its answer.
	DefaultWriteTimeout = 60 * time.Second
	// ReadHeaderTimeout is the time a client has to send a request's
	// head, and IdleTimeout how long a kept-alive connection may wait for
	// its next request.
	ReadHeaderTimeout = 10 * time.Second
	IdleTimeout       = 2 * time.Minute
)

// HTTPSender is the nick HTTP publishes come from. The hub reserves it so
// that no client can impersonate it.
const HTTPSender = "http"

// Config configures the web door. Zero values mean the documented
// defaults. It is read once by Listen; only Session changes afterwards,
// through SetSession.
type Config struct {
	// Addr is the listen address (default DefaultAddr); "127.0.0.1:0"
	// picks a free port.
	Addr string
	// AllowedOrigins are extra WebSocket Origin host patterns accepted
	// besides the page's own host, as in path.Match ("*.example.com");
	// "*" accepts any origin. Empty means same origin only.
	AllowedOrigins []string
	// SSEKeepalive is the interval of ": keepalive" comments on SSE
	// streams (default DefaultSSEKeepalive).
	SSEKeepalive time.Duration
	// MaxBody is the body limit of POST /pub in bytes (default
	// DefaultMaxBody); a larger body is answered 413.
	MaxBody int64
	// MaxMessage is the limit of one WebSocket message from a client in
	// bytes (default DefaultMaxMessage); a larger one closes the
	// connection with status 1009.
	MaxMessage int64
	// Session holds the per-session settings (queue and rate limits);
	// Door, RemoteAddr and Logger are filled in per stream.
	Session session.Config
	// Assets replaces the embedded web assets (default web.FS()).
	Assets fs.FS
	// Metrics is the server's collector that /metrics, /api/stats and the
	// dashboard serve; the door registers its own counters on it. Nil
	// means a collector of the door's own, sampled while Serve runs (for
	// a door used without a server).
	Metrics *metrics.Collector
	// ReadTimeout bounds reading one request, head and body (default
	// DefaultReadTimeout): a POST whose body trickles in is cut. Streams
	// lift it once they start.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's head to
	// the end of its answer (default DefaultWriteTimeout); keep it above
	// ReadTimeout. Streams lift it once they start.
	WriteTimeout time.Duration
	// AllowedHosts are the Host header patterns the door answers, as in
	// path.Match without the port ("*.example.com"); "*" answers any.
	// Empty means any host when Addr listens on all interfaces, else the
	// listen address's host, "localhost" and the loopback addresses.
	// Other hosts get 403: the defence against DNS rebinding.
	AllowedHosts []string
	// AdminToken, when set, is needed for the operator endpoints
	// (/metrics, /api/stats, the dashboard): Authorization: Bearer or
	// ?token= (admin.go).
	AdminToken string
	// AdminSeparate keeps the operator endpoints off this door: they are
	// served by AdminHandler on an address of their own.
	AdminSeparate bool
	// LineAddr is the address the TCP (line protocol) door listens on,
	// which GET /api/doors tells the chat app for its "nc HOST PORT"
	// hint; empty when there is none.
	LineAddr string
	// Logger receives the door's logs (default slog.Default()).
	Logger *slog.Logger
	// TLS, when set, makes the door serve HTTPS (and so WSS) only, with
	// this server config (tlsconf.Server.Config: its certificate may
	// change between handshakes). Plain HTTP on the port gets net/http's
	// 400. The door speaks HTTP/1.1 over TLS as over plain TCP: no ALPN,
	// so no HTTP/2, which WebSocket upgrades cannot use.
	TLS *tls.Config
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.SSEKeepalive <= 0 {
		c.SSEKeepalive = DefaultSSEKeepalive
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
	if c.Assets == nil {
		c.Assets = web.FS()
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Session.Logger = c.Logger
}

// Front is a listening web door. Serve serves until Close; Wait waits for
// every goroutine of the door, streams included. Its methods are safe for
// concurrent use.
//
// http.Server.Shutdown does not cover hijacked (WebSocket) or streaming
// (SSE) connections, so the Front counts its handlers itself: Close stops
// the listener and turns new requests away, the session registry tells
// and drains the streams (they are sessions), and Wait waits for the last
// handler to return before closing what idle connections are left.
type Front struct {
	cfg       Config
	hub       *hub.Hub
	reg       *session.Registry
	ln        net.Listener
	srv       *http.Server
	log       *slog.Logger
	handler   http.Handler
	metrics   *doorMetrics
	collector *metrics.Collector
	ownStats  bool                           // collector is the door's own: Serve runs its sampler
	formats   formats                        // the web door's frame-cache keys
	hosts     hostRule                       // the Host headers answered
	session   atomic.Pointer[session.Config] // settings for new streams (SetSession)

	mu       sync.Mutex // guards closed and the Add side of handlers
	closed   bool
	handlers sync.WaitGroup // running handlers, streams included
	bg       sync.WaitGroup // the stats sampler of a collector of the door's own
	quit     chan struct{}  // closed by Close

	connMu    sync.Mutex // guards conns; connsGone waits on it
	conns     map[net.Conn]struct{}
	connsGone *sync.Cond // signalled when conns becomes empty
}

// Listen binds the web door's listener. h and reg are the server's hub and
// session registry.
func Listen(cfg Config, h *hub.Hub, reg *session.Registry) (*Front, error) {
	f, err := New(cfg, h, reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", f.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("web door: listen on %s: %w", f.cfg.Addr, err)
	}
	f.ln = &admitListener{Listener: ln, reg: reg}
	if f.cfg.TLS != nil {
		// Admission first, then TLS: a connection counts from its
		// accept, before its handshake; net/http runs the handshake,
		// bounded by the request timeouts.
		f.ln = tls.NewListener(f.ln, f.cfg.TLS)
	}
	return f, nil
}

// New builds a web door without a listener, for serving through Handler
// (tests, or embedding in another server). Serve needs Listen.
func New(cfg Config, h *hub.Hub, reg *session.Registry) (*Front, error) {
	cfg.setDefaults()
	if h == nil || reg == nil {
		return nil, errors.New("web door: hub and registry are required")
	}
	for _, p := range cfg.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("web door: bad allowed origin pattern %q: %w", p, err)
		}
	}
	hosts, err := newHostRule(cfg.Addr, cfg.AllowedHosts)
	if err != nil {
		return nil, err
	}
	f := &Front{cfg: cfg, hub: h, reg: reg, log: cfg.Logger, hosts: hosts, quit: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	f.connsGone = sync.NewCond(&f.connMu)
	if f.formats, err = registerFormats(reg.Formats()); err != nil {
		return nil, err
	}
	f.SetSession(cfg.Session)
	f.collector = cfg.Metrics
	if f.collector == nil {
		c, err := metrics.New(h, reg, metrics.Config{})
		if err != nil {
			return nil, fmt.Errorf("web door: %w", err)
		}
		f.collector, f.ownStats = c, true
	}
	m, err := newDoorMetrics(f.collector)
	if err != nil {
		return nil, err
	}
	f.metrics = m
	f.handler = f.track(f.routes())
	f.srv = &http.Server{
		Handler:           f.handler,
		ReadHeaderTimeout: min(ReadHeaderTimeout, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		ConnState:         f.connState,
		ConnContext:       connContext,
	}
	return f, nil
}

// Addr returns the bound address, or nil without a listener.
func (f *Front) Addr() net.Addr {
	if f.ln == nil {
		return nil
	}
	return f.ln.Addr()
}

// Handler returns the door's HTTP handler: every endpoint, with handler
// tracking and panic recovery.
func (f *Front) Handler() http.Handler { return f.handler }

// routes builds the request multiplexer.
func (f *Front) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", stream(f.serveWS))
	mux.HandleFunc("GET /sse", stream(f.serveSSE))
	mux.HandleFunc("POST /pub/{topic...}", f.servePublish)
	mux.HandleFunc("GET /history/{topic...}", f.serveHistory)
	if !f.cfg.AdminSeparate {
		f.adminRoutes(mux)
	}
	mux.HandleFunc("GET /api/doors", f.serveDoors)
	mux.HandleFunc("GET /healthz", f.serveHealth)
	mux.HandleFunc("GET /readyz", f.serveReady)
	f.assetRoutes(mux)
	return securityHeaders(f.refuseFull(f.checkHost(mux)))
}

// track counts running handlers so Wait can wait for them, refuses new
// requests once the door is closed, and turns a panic into a 500 for that
// request only.
func (f *Front) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			w.Header().Set("Connection", "close")
			http.Error(w, "server shutting down", http.StatusServiceUnavailable)
			return
		}
		f.handlers.Add(1)
		f.mu.Unlock()
		defer f.handlers.Done()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
					panic(p)
				}
				f.log.Error("web door: panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Serve serves HTTP until Close is called (and, with a collector of the
// door's own, samples statistics for the dashboard meanwhile). It returns
// nil after Close. Temporary accept errors
// (running out of file descriptors included) are retried with backoff by
// net/http.
func (f *Front) Serve() error {
	if f.ln == nil {
		return errors.New("web door: serve: no listener (use Listen)")
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	if f.ownStats {
		f.bg.Add(1)
		go func() {
			defer f.bg.Done()
			f.collector.Run(f.quit)
		}()
	}
	f.mu.Unlock()
	err := f.srv.Serve(f.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("web door: serve: %w", err)
}

// Close stops accepting connections and requests. Open WebSocket and SSE
// streams are left to the session registry's Shutdown, which tells and
// drains them; plain requests in flight finish.
func (f *Front) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	close(f.quit)
	if f.ln == nil {
		return nil
	}
	// An already-cancelled context: close the listener and idle
	// connections now, without waiting for the active ones (streams end
	// through the registry; Wait waits for them).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.srv.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("web door: close: %w", err)
	}
	return nil
}

// Drain waits until every request in flight has been answered or ctx is
// done, whichever comes first; then it closes every connection net/http
// still holds, which cuts the requests still running (a body arriving a
// byte a second, a client that does not read its answer), and waits for
// their handlers. Streams are sessions: the registry's Shutdown ends them.
// Call it after Close and the registry's Shutdown, before Wait.
func (f *Front) Drain(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		f.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	_ = f.srv.Close()
	<-done
}

// Wait blocks until every handler of the door (streams included) and the
// stats sampler have returned, closes the connections left idle, and waits
// until net/http has let go of every connection. Call it after Close.
func (f *Front) Wait() {
	f.handlers.Wait()
	f.bg.Wait()
	_ = f.srv.Close()
	f.connMu.Lock()
	for len(f.conns) > 0 {
		f.connsGone.Wait()
	}
	f.connMu.Unlock()
}

// connState tracks the connections net/http serves, so that Wait can wait
// for their goroutines too. A hijacked (WebSocket) connection leaves
// net/http for its handler, which Wait waits for separately.
func (f *Front) connState(c net.Conn, s http.ConnState) {
	f.connMu.Lock()
	defer f.connMu.Unlock()
	switch s {
	case http.StateNew:
		f.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(f.conns, c)
		if len(f.conns) == 0 {
			f.connsGone.Broadcast()
		}
	}
}

// stream marks a handler as a stream's: the connection's read and write
// deadlines, which bound ordinary requests, are lifted for it. A stream
// that stops reading is handled as a slow consumer, one that says nothing
// is not idle while it listens.
func stream(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		next(w, r)
	}
}

// serveHealth answers liveness probes.
func (f *Front) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// serveReady answers readiness probes: ready while the door accepts.
func (f *Front) serveReady(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	closed := f.closed
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if closed {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("shutting down\n"))
		return
	}
	_, _ = w.Write([]byte(f.readyText()))
}

// SetSession replaces the per-session settings (queue limit, rate limit)
// that streams opened from now on take; open streams keep theirs. It runs
// on SIGHUP; safe for concurrent use.
func (f *Front) SetSession(c session.Config) {
	c.Logger = f.cfg.Logger
	f.session.Store(&c)
}

// sessionConfig returns the session settings for one stream of request r,
// with the common name of its verified TLS client certificate, if any.
func (f *Front) sessionConfig(door string, r *http.Request) session.Config {
	c := *f.session.Load()
	c.Door = door
	c.RemoteAddr = r.RemoteAddr
	c.CertName = tlsconf.PeerName(r.TLS)
	return c
}
