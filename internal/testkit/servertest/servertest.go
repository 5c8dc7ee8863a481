// Package servertest starts a whole switchboard server (package server,
// every door) on loopback port 0 for tests that cross doors or test the
// composition root. It is part of the test kit (see package testkit) and
// for tests only; a door's own tests use testkit.ServeDoor instead, so
// they do not compile the other doors.
package servertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// Loopback is the listen address tests give a door: 127.0.0.1, port 0.
const Loopback = "127.0.0.1:0"

// Server is a server being served until the test ends. Its methods are
// safe for concurrent use.
type Server struct {
	*server.Server
	// TCP is the TCP door's address, host:port.
	TCP string
	// HTTP is the web door's base URL ("http://host:port"), or "" when
	// the configuration has no web door.
	HTTP string
	// Logs records everything the server logged.
	Logs *testkit.Logs

	cancel context.CancelFunc
	served chan error
	once   sync.Once
	err    error
}

// Start builds a server from cfg and serves it until the test ends, then
// shuts it down (see Stop); a failure to shut down cleanly fails the test.
// An empty cfg.TCP.Addr becomes Loopback; the web door is on only when
// cfg.Web.Addr is set (use Loopback). A zero ShutdownTimeout becomes 5 s,
// so a test that forgets to read does not hold the suite for long.
func Start(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	if cfg.TCP.Addr == "" {
		cfg.TCP.Addr = Loopback
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	logs := &testkit.Logs{}
	srv, err := server.New(cfg, logs.Logger())
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{Server: srv, TCP: srv.TCPAddr(), Logs: logs, cancel: cancel, served: make(chan error, 1)}
	if a := srv.HTTPAddr(); a != "" {
		s.HTTP = "http://" + a
	}
	go func() { s.served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Stop shuts the server down gracefully, bounded by testkit.Timeout, and
// waits for Serve to return. Later calls return the first call's result.
func (s *Server) Stop() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			s.err = fmt.Errorf("server shutdown: %w", err)
		}
		s.cancel()
		select {
		case err := <-s.served:
			if err != nil && s.err == nil {
				s.err = fmt.Errorf("server Serve: %w", err)
			}
		case <-ctx.Done():
			if s.err == nil {
				s.err = fmt.Errorf("server Serve did not return within %v of Shutdown", testkit.Timeout)
			}
		}
	})
	return s.err
}
