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

// Server is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Server struct {
	s *server.Server
}

// Start runs a NATS server listening on addr ("host:port"; port 0 or an
// empty addr picks a free port on 127.0.0.1) and returns once it accepts
// connections.
func Start(addr string) (*Server, error) {
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
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: configure server on %s: %w", addr, err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("%w: listening on %s:%d", ErrNotReady, host, port)
	}
	return &Server{s: s}, nil
}

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
