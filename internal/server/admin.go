package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// adminDoor serves the web door's operator endpoints (/metrics,
// /api/stats, the dashboard) on an address of their own (--admin-addr),
// so that a public web door need not expose them.
type adminDoor struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenAdmin binds addr for h.
func listenAdmin(addr string, h http.Handler, log *slog.Logger) (*adminDoor, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin door: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return &adminDoor{ln: ln, srv: srv, done: make(chan struct{})}, nil
}

// Serve serves until Close.
func (a *adminDoor) Serve() error {
	defer close(a.done)
	if err := a.srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin door: %w", err)
	}
	return nil
}

// Close stops the listener and lets requests in flight finish for a
// moment before cutting them.
func (a *adminDoor) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		return a.srv.Close()
	}
	return nil
}

// Wait returns once Serve has returned.
func (a *adminDoor) Wait() { <-a.done }
