// Package natsembed runs a NATS server inside the switchboard process, for
// `switchboard serve --nats-embed` (a zero-infrastructure trial cluster)
// and for tests that need a real NATS without an external install. It is
// the only package importing github.com/nats-io/nats-server/v2.
//
// Production deployments should run a real NATS cluster instead: an
// embedded server dies with its switchboard node.
package natsembed

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// ErrNotReady is returned when the embedded server does not accept
// connections in time.
var ErrNotReady = errors.New("natsembed: server not ready")

// readyTimeout bounds how long Start waits for the server to accept
// connections when nothing has gone wrong.
const readyTimeout = 10 * time.Second

// Server is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Server struct {
	s *server.Server
}

// Start runs a NATS server listening on addr ("host:port"; port 0 or an
// empty addr picks a free port on 127.0.0.1) and returns once it accepts
// connections.
func Start(addr string) (*Server, error) { return start(addr, "") }

// StartJetStream is Start with JetStream enabled, its file store in dir
// (created if missing): what `switchboard serve --store DIR` keeps
// history in.
func StartJetStream(addr, dir string) (*Server, error) {
	if dir == "" {
		return nil, errors.New("natsembed: JetStream needs a store directory")
	}
	return start(addr, dir)
}

// start runs the server, with JetStream storing in storeDir when it is
// not empty.
func start(addr, storeDir string) (*Server, error) {
	host, port := "127.0.0.1", -1
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("natsembed: bad listen address %q: %w", addr, err)
		}
		if h != "" {
			host = h
		} else {
			host = "0.0.0.0"
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("natsembed: bad port in %q", addr)
		}
		if n != 0 {
			port = n
		}
	}
	opts := &server.Options{
		ServerName: "switchboard-embedded",
		Host:       host,
		Port:       port,
		NoLog:      true,
		NoSigs:     true,
		// Room for a burst fanned out to every node (default 64 MiB per
		// client connection).
		MaxPending: 256 << 20,
	}
	if storeDir != "" {
		opts.JetStream, opts.StoreDir = true, storeDir
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: configure server on %s: %w", addr, err)
	}
	// NoLog leaves the server without a logger; this one only catches
	// the fatal error of a listener that cannot bind, so that a busy port
	// fails at once, like the doors, instead of after readyTimeout.
	fatal := &fatalCatcher{ch: make(chan error, 1)}
	s.SetLogger(fatal, false, false)
	s.Start()
	for end := time.Now().Add(readyTimeout); ; {
		if s.ReadyForConnections(50 * time.Millisecond) {
			return &Server{s: s}, nil
		}
		var err error
		select {
		case e := <-fatal.ch:
			err = fmt.Errorf("natsembed: listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(max(port, 0))), e)
		default:
			if time.Now().After(end) {
				err = fmt.Errorf("%w after %v: listening on %s:%d", ErrNotReady, readyTimeout, host, port)
			}
		}
		if err != nil {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, err
		}
	}
}

// fatalCatcher is the embedded server's logger: it drops every message
// except the first fatal one, which it hands to Start. The NATS server
// calls it from its own goroutines.
type fatalCatcher struct {
	ch chan error
}

// Fatalf hands the error among the arguments (the listener's, for a busy
// port) to Start, or the formatted message when there is none.
func (f *fatalCatcher) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	for _, a := range v {
		if e, ok := a.(error); ok {
			err = e
		}
	}
	select {
	case f.ch <- err:
	default:
	}
}

// Noticef drops the message.
func (*fatalCatcher) Noticef(string, ...any) {}

// Warnf drops the message.
func (*fatalCatcher) Warnf(string, ...any) {}

// Errorf drops the message.
func (*fatalCatcher) Errorf(string, ...any) {}

// Debugf drops the message.
func (*fatalCatcher) Debugf(string, ...any) {}

// Tracef drops the message.
func (*fatalCatcher) Tracef(string, ...any) {}

// ClientURL returns the nats:// URL clients connect to.
func (s *Server) ClientURL() string { return s.s.ClientURL() }

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string {
	if a, ok := s.s.Addr().(*net.TCPAddr); ok {
		return a.String()
	}
	return ""
}

// Shutdown stops the server and waits until it has released its port and
// goroutines.
func (s *Server) Shutdown() {
	s.s.Shutdown()
	s.s.WaitForShutdown()
}
