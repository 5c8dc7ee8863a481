// Package server is switchboard's composition root: it builds the hub, the
// session registry and the doors from one Config, serves until told to
// stop, and shuts everything down in order.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/metrics"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// DefaultShutdownTimeout is the default Config.ShutdownTimeout.
const DefaultShutdownTimeout = 10 * time.Second

// Config is the whole server configuration: the doors', the sessions' and
// the cluster's own configuration structs, each declared once in its
// package with its defaults. The zero value is a working single-node server
// with the TCP door on tcpfront.DefaultAddr and no web door. It is
// validated once by New and never changed afterwards, except through
// Reload.
type Config struct {
	// TCP configures the TCP (line protocol) door. New sets its Session
	// and Logger from Session and the server's logger.
	TCP tcpfront.Config
	// Web configures the web door. An empty Web.Addr disables it (the
	// command line's default is webfront.DefaultAddr). New sets its
	// Session, Logger and Metrics.
	Web webfront.Config
	// Metrics configures the server's metrics collector, which exists
	// with or without the web door; New sets ClusterStatus when
	// clustered and unset.
	Metrics metrics.Config
	// Session holds the per-session settings every door uses: the
	// outbound queue limit and the publish rate limit.
	Session session.Config
	// AdminAddr, when set, serves the web door's operator endpoints
	// (/metrics, /api/stats, the dashboard) on this address instead of
	// the web door's (admin.go).
	AdminAddr string
	// TLS is the certificate every door serves with (tls.go): with it
	// the web door serves HTTPS and WSS only, and TCP.TLSAddr, when set,
	// serves the line protocol over TLS. Zero: no TLS.
	TLS tlsconf.Options
	// Auth says who is who and what each may do, on every door
	// (auth.go); its zero value is an open server.
	Auth AuthConfig
	// Limits are the connection limits across all doors; zero means
	// unlimited.
	Limits session.Limits
	// Cluster configures the NATS backplane (see cluster.go); empty means
	// a single node.
	Cluster ClusterConfig
	// FDReserve is how many file descriptors are kept back from clients
	// below the process's RLIMIT_NOFILE (default DefaultFDReserve;
	// negative: none), so that the server refuses new clients cleanly
	// ("! server full", 503) before it runs out, and still answers
	// /healthz. It lowers Limits.MaxConns when that is higher or 0.
	FDReserve int
	// History configures the messages kept for resume and /history
	// (docs/history.md). Its zero value keeps none; the command line's
	// default keeps history.DefaultKeep per topic.
	History history.Config
	// StoreDir, when set, keeps history across restarts on this node:
	// every kept message is also written to JetStream's file store in an
	// embedded NATS server storing in this directory, and read back at
	// start with its numbering and epochs (store.go). With Cluster, only
	// with Cluster.History and Cluster.EmbedAddr: the embedded NATS's
	// JetStream then stores the cluster's history in this directory.
	StoreDir string
	// HistoryRules are per-pattern retention overrides as the command
	// line writes them (PATTERN=KEEP[/MAXAGE][/POLICY], see
	// history.ParseRule); New parses them and puts them before
	// History.Rules (the config file's [[history]] tables), first match
	// winning.
	HistoryRules []string
	// ShutdownTimeout bounds how long Shutdown lets queues drain and
	// requests finish when the caller's context has no deadline (default
	// DefaultShutdownTimeout). Past it everything left is cut, whatever
	// clients do, so Shutdown returns soon after.
	ShutdownTimeout time.Duration
}

// Validate checks the configuration for values that cannot work.
func (c Config) Validate() error {
	switch {
	case c.TCP.MaxLine < 0:
		return errors.New("server: max line must not be negative")
	case c.Session.MaxPending < 0:
		return errors.New("server: max pending must not be negative")
	case c.Session.RateLimit < 0 || c.Session.RateBurst < 0:
		return errors.New("server: rate limit and burst must not be negative")
	case c.TCP.SendBuffer < 0:
		return errors.New("server: TCP send buffer must not be negative")
	case c.Web.MaxBody < 0 || c.Web.MaxMessage < 0:
		return errors.New("server: web body and message limits must not be negative")
	case c.Limits.MaxConns < 0 || c.Limits.MaxConnsPerIP < 0:
		return errors.New("server: connection limits must not be negative")
	case c.Limits.IdleTimeout < 0 || c.ShutdownTimeout < 0:
		return errors.New("server: timeouts must not be negative")
	case c.History.Keep < 0 || c.History.MaxAge < 0 || c.History.MaxBytes < 0:
		return errors.New("server: history limits must not be negative")
	}
	for _, r := range c.HistoryRules {
		if _, err := history.ParseRule(r); err != nil {
			return fmt.Errorf("server: --history-rule: %w", err)
		}
	}
	switch cl := c.Cluster; {
	case cl.History && !cl.enabled():
		return errClusterHistoryAlone
	case c.StoreDir != "" && cl.enabled() && (!cl.History || cl.EmbedAddr == ""):
		return errStoreCluster
	case cl.HistoryReplicas < 0:
		return errors.New("server: --cluster-history-replicas must not be negative")
	}
	for _, r := range c.History.Rules {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("server: history rule for %q: %w", r.Pattern, err)
		}
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	// Users, permissions and keys are checked by building them (the key
	// files are read).
	_, err := identities(c.Auth)
	return err
}

// registryLimits are the session registry's limits for cfg: the
// connection limits, and the session rate limit applied per client IP to
// HTTP publishes, which have no session.
func (s *Server) registryLimits(cfg Config) session.Limits {
	l := cfg.Limits
	l.VisitorRate, l.VisitorBurst = cfg.Session.RateLimit, cfg.Session.RateBurst
	if s.fdCap > 0 && (l.MaxConns == 0 || l.MaxConns > s.fdCap) {
		s.log.Info("connections limited by the descriptor limit", "max_conns", s.fdCap, "fd_reserve", cfg.FDReserve)
		l.MaxConns = s.fdCap
	}
	return l
}

// door is what the server needs of a front end.
type door interface {
	Serve() error
	Close() error
	Wait()
}

// drainer is a door with requests that are not sessions (the web door's
// plain HTTP requests): Drain lets them finish until ctx is done, then
// cuts them.
type drainer interface {
	Drain(ctx context.Context)
}

// Server is a running switchboard node. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	reg     *session.Registry
	tcp     *tcpfront.Front
	web     *webfront.Front // nil without a web door
	admin   *adminDoor      // nil without --admin-addr
	tls     *tlsconf.Server // nil without TLS
	door    []door
	cluster *clusterRun // the backplane and embedded NATS, when clustered
	store   *storeRun   // the durable history of --store, if any
	fdCap   int         // connections the descriptor limit leaves room for; 0: no bound
	metrics *metrics.Collector
	quit    chan struct{}  // closed by Shutdown: stops the metrics sampler
	bg      sync.WaitGroup // the metrics sampler

	mu       sync.Mutex // guards shutting and serving's counter going up
	shutting bool
	serving  sync.WaitGroup
	stopped  chan struct{}
	stopOnce sync.Once
}

// New validates cfg, builds the hub and binds every door's listener, so
// that addresses are known (and port conflicts reported) before Serve.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.FDReserve == 0 {
		cfg.FDReserve = DefaultFDReserve
	}
	if cfg.Session.RateBurst == 0 {
		// HTTP publishes' per-IP limiter takes the burst too: give both
		// the session's default.
		cfg.Session.RateBurst = session.DefaultRateBurst
	}
	ids, err := identities(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, stopped: make(chan struct{}), quit: make(chan struct{})}
	hcfg := hub.Config{ReservedNicks: []string{"http", "server"}}
	// With --cluster, --store is the embedded NATS's JetStream store
	// (cluster.go), not this node's durable copy.
	local := cfg.StoreDir != "" && !cfg.Cluster.enabled()
	var setDurable func(*natsbp.Durable)
	if local {
		setDurable = prepareStore(&s.cfg)
	}
	st := newHistory(&s.cfg)
	if st != nil {
		hcfg.History = st
	}
	if local {
		if s.store, err = openStore(cfg.StoreDir, st, setDurable); err != nil {
			return nil, err
		}
	}
	if err := s.setupCluster(&hcfg, st != nil); err != nil {
		return nil, err
	}
	s.hub = hub.New(hcfg)
	if err := s.startCluster(); err != nil {
		s.closeCluster()
		return nil, err
	}
	fdCap, err := connCap(0, cfg.FDReserve)
	if err != nil {
		s.closeCluster()
		return nil, err
	}
	s.fdCap = fdCap
	s.reg = session.NewRegistry(s.hub, s.registryLimits(cfg))
	s.reg.SetIdentities(ids)
	m, err := metrics.New(s.hub, s.reg, s.cfg.Metrics)
	if err != nil {
		s.closeCluster()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.metrics = m
	if err := s.setupTLS(); err != nil {
		s.closeCluster()
		return nil, err
	}
	tcfg := cfg.TCP
	tcfg.Session = cfg.Session
	tcfg.Logger = log
	if tcfg.TLSAddr != "" {
		tcfg.TLS = s.tls.Config()
	}
	tcp, err := tcpfront.Listen(tcfg, s.reg)
	if err != nil {
		s.closeCluster()
		return nil, err
	}
	s.tcp = tcp
	s.door = append(s.door, tcp)
	log.Info("tcp door listening", "addr", tcp.Addr().String())
	if a := tcp.TLSAddr(); a != nil {
		log.Info("tcp door listening for TLS", "addr", a.String())
	}
	if err := s.setupWeb(); err != nil {
		_ = tcp.Close()
		s.closeCluster()
		return nil, err
	}
	return s, nil
}

// newHistory builds the history store, or returns nil when no topic
// keeps history. cfg has been validated.
func newHistory(cfg *Config) *history.Store {
	var rules []history.Rule
	for _, text := range cfg.HistoryRules {
		r, _ := history.ParseRule(text)
		rules = append(rules, r)
	}
	// The command line's rules come first: first match wins.
	cfg.History.Rules = append(rules, cfg.History.Rules...)
	on := cfg.History.Keep > 0
	for _, r := range cfg.History.Rules {
		// A lossy feed needs the store for its policy even if it keeps
		// nothing.
		on = on || r.Keep > 0 || r.Policy != history.PolicyDisconnect
	}
	if !on {
		return nil
	}
	return history.New(cfg.History)
}

// TCPAddr returns the TCP door's bound address.
func (s *Server) TCPAddr() string { return s.tcp.Addr().String() }

// Hub returns the server's hub.
func (s *Server) Hub() *hub.Hub { return s.hub }

// Metrics returns the server's metrics collector: what /metrics and
// /api/stats serve, whether or not the web door runs.
func (s *Server) Metrics() *metrics.Collector { return s.metrics }

// Registry returns the server's session registry.
func (s *Server) Registry() *session.Registry { return s.reg }

// Serve serves every door until Shutdown is called or ctx is done (which
// starts a shutdown bounded by ShutdownTimeout). It returns nil after a
// clean shutdown, or the first door error.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, len(s.door))
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		<-s.stopped
		return nil
	}
	s.serving.Add(len(s.door)) // under mu, so never concurrent with Shutdown's Wait
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		s.metrics.Run(s.quit) // returns at once if an earlier Serve runs it
	}()
	for _, d := range s.door {
		go func(d door) {
			defer s.serving.Done()
			if err := d.Serve(); err != nil && !s.isShutting() {
				errc <- err
			}
		}(d)
	}
	select {
	case <-s.stopped:
		return nil
	case err := <-errc:
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		_ = s.Shutdown(sctx)
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		return s.Shutdown(sctx)
	}
}

// isShutting reports whether Shutdown has begun; door errors after that
// are the doors closing, not failures.
func (s *Server) isShutting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutting
}

// Shutdown stops accepting on every door, tells every client the server is
// going away, lets their queues drain until ctx is done (or
// ShutdownTimeout, if ctx has no deadline), then closes what is left. It
// returns when every goroutine the server started has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
			defer cancel()
		}
		s.mu.Lock()
		s.shutting = true
		s.mu.Unlock()
		s.log.Info("shutting down", "sessions", s.reg.Len())
		for _, d := range s.door {
			_ = d.Close()
		}
		s.serving.Wait()
		if e := s.reg.Shutdown(ctx); e != nil {
			err = fmt.Errorf("server: shutdown: queues not drained in time: %w", e)
		}
		for _, d := range s.door {
			if dr, ok := d.(drainer); ok {
				dr.Drain(ctx)
			}
		}
		for _, d := range s.door {
			d.Wait()
		}
		close(s.quit)
		s.bg.Wait()
		s.closeCluster()
		close(s.stopped)
		s.log.Info("shut down")
	})
	return err
}
