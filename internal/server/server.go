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

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// Config is the whole server configuration. The zero value is a working
// single-node server with the TCP door on :8082 and no web door. It is
// validated once by New and never changed afterwards.
type Config struct {
	// TCPAddr is the TCP (line protocol) door's listen address; default
	// ":8082".
	TCPAddr string
	// HTTPAddr is the web door's listen address; "" disables it.
	HTTPAddr string
	// Banner replaces the welcome sentence of the TCP banner.
	Banner string
	// MaxLine is the longest accepted line-protocol line in bytes
	// (default 4096).
	MaxLine int
	// MaxPending is each client's outbound queue limit in bytes (default
	// 1 MiB); a client over it is disconnected as a slow consumer.
	MaxPending int
	// RateLimit is each client's publish rate limit in messages per
	// second; 0 means off. RateBurst is the burst above it (default 1).
	RateLimit float64
	RateBurst int
	// MaxConns and MaxConnsPerIP limit connections across all doors;
	// 0 means unlimited.
	MaxConns      int
	MaxConnsPerIP int
	// IdleTimeout disconnects clients silent for that long; 0 means never.
	IdleTimeout time.Duration
	// TCPSendBuffer caps the kernel send buffer of TCP clients' sockets
	// (SO_SNDBUF) so that a slow consumer is noticed after about
	// MaxPending plus twice this many bytes; 0 leaves the kernel's
	// autotuning.
	TCPSendBuffer int
	// TCPKeepAlive is the TCP door's keepalive probe interval; 0 means the
	// default (15s), negative turns keepalives off.
	TCPKeepAlive time.Duration
	// ParkAfter is how long a TCP connection may be idle before it gives
	// up its goroutine and waits in the door's epoll set (Linux); 0 means
	// the default (1s), negative means never.
	ParkAfter time.Duration
	// ShutdownTimeout bounds how long Shutdown lets queues drain when the
	// caller's context has no deadline (default 10s).
	ShutdownTimeout time.Duration
	// Web configures the web door (see web.go); used when HTTPAddr is set.
	Web WebConfig
	// Cluster configures the NATS backplane (see cluster.go); empty means
	// a single node.
	Cluster ClusterConfig
}

// Validate checks the configuration for values that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxLine < 0:
		return errors.New("server: max line must not be negative")
	case c.MaxPending < 0:
		return errors.New("server: max pending must not be negative")
	case c.RateLimit < 0 || c.RateBurst < 0:
		return errors.New("server: rate limit and burst must not be negative")
	case c.TCPSendBuffer < 0:
		return errors.New("server: TCP send buffer must not be negative")
	case c.MaxConns < 0 || c.MaxConnsPerIP < 0:
		return errors.New("server: connection limits must not be negative")
	case c.IdleTimeout < 0 || c.ShutdownTimeout < 0:
		return errors.New("server: timeouts must not be negative")
	}
	return nil
}

// door is what the server needs of a front end.
type door interface {
	Serve() error
	Close() error
	Wait()
}

// Server is a running switchboard node. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	hub     *hub.Hub
	reg     *session.Registry
	tcp     *tcpfront.Front
	door    []door
	cluster *clusterRun // the backplane and embedded NATS, when clustered

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
		cfg.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, log: log, stopped: make(chan struct{})}
	hcfg := hub.Config{ReservedNicks: []string{"http", "server"}}
	if err := s.setupCluster(&hcfg); err != nil {
		return nil, err
	}
	s.hub = hub.New(hcfg)
	if err := s.startCluster(); err != nil {
		s.closeCluster()
		return nil, err
	}
	s.reg = session.NewRegistry(s.hub, session.Limits{MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP})
	reg := s.reg
	tcp, err := tcpfront.Listen(tcpfront.Config{
		Addr:        cfg.TCPAddr,
		Banner:      cfg.Banner,
		MaxLine:     cfg.MaxLine,
		IdleTimeout: cfg.IdleTimeout,
		ParkAfter:   cfg.ParkAfter,
		KeepAlive:   cfg.TCPKeepAlive,
		SendBuffer:  cfg.TCPSendBuffer,
		Logger:      log,
		Session: session.Config{
			MaxPending: cfg.MaxPending,
			RateLimit:  cfg.RateLimit,
			RateBurst:  cfg.RateBurst,
		},
	}, reg)
	if err != nil {
		s.closeCluster()
		return nil, err
	}
	s.tcp = tcp
	s.door = append(s.door, tcp)
	log.Info("tcp door listening", "addr", tcp.Addr().String())
	if err := s.setupWeb(); err != nil {
		_ = tcp.Close()
		s.closeCluster()
		return nil, err
	}
	return s, nil
}

// TCPAddr returns the TCP door's bound address.
func (s *Server) TCPAddr() string { return s.tcp.Addr().String() }

// Hub returns the server's hub.
func (s *Server) Hub() *hub.Hub { return s.hub }

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
	s.mu.Unlock()
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
			d.Wait()
		}
		s.closeCluster()
		close(s.stopped)
		s.log.Info("shut down")
	})
	return err
}
