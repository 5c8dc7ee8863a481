package webfront

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// maxRefusing bounds the refused connections the door answers at once
// (with 503, or a health probe's answer); past it a refused connection is
// closed without an answer. The bound keeps refusing cheap in descriptors,
// which matter most when the server is full because it is short of them.
const maxRefusing = 32

// refusedLinger bounds the life of a refused connection: one request's
// head and its answer.
const refusedLinger = 5 * time.Second

// admitListener admits every connection it accepts through the session
// registry before net/http sees it, so that plain HTTP requests count
// toward --max-conns and --max-conns-per-ip like streams and TCP clients.
// A connection over a limit is still handed to net/http, marked refused:
// it gets one answer (503, or /healthz and /readyz served as usual) and is
// closed. It is safe for concurrent use.
type admitListener struct {
	net.Listener
	reg      *session.Registry
	refusing atomic.Int32 // refused connections being answered
}

// Accept implements net.Listener.
func (l *admitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		t, err := l.reg.Admit(c.RemoteAddr().String())
		if err == nil {
			return &admittedConn{Conn: c, ticket: t}, nil
		}
		if l.refusing.Add(1) > maxRefusing {
			l.refusing.Add(-1)
			_ = c.Close()
			continue
		}
		_ = c.SetDeadline(time.Now().Add(refusedLinger))
		return &admittedConn{Conn: c, refusedBy: l}, nil
	}
}

// admittedConn is a connection of the web door with its place under the
// connection limits (ticket), or none when it was refused (refusedBy).
// Closing it gives the place back.
type admittedConn struct {
	net.Conn
	ticket    *session.Ticket
	refusedBy *admitListener
	once      sync.Once
}

// Close implements net.Conn.
func (c *admittedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.ticket != nil {
			c.ticket.Release()
		} else {
			c.refusedBy.refusing.Add(-1)
		}
	})
	return err
}

// CloseWrite lets net/http half-close before its lingering close, as it
// does for a bare TCP connection.
func (c *admittedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connKey is the request context key of the request's *admittedConn.
type connKey struct{}

// connContext puts the connection into its requests' context
// (http.Server.ConnContext); under TLS, the connection beneath.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if ac, ok := c.(*admittedConn); ok {
		return context.WithValue(ctx, connKey{}, ac)
	}
	return ctx
}

// connOf returns the request's connection, or nil when the door has no
// listener of its own (Handler served by someone else).
func connOf(r *http.Request) *admittedConn {
	c, _ := r.Context().Value(connKey{}).(*admittedConn)
	return c
}

// refuseFull answers requests on a refused connection: 503 and close,
// except health probes, which are answered as usual so that a full server
// still looks alive.
func (f *Front) refuseFull(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := connOf(r)
		if c == nil || c.ticket != nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "server full: too many connections (try again later)")
	})
}

// admitStream gives a WebSocket or SSE stream its place under the
// connection limits: the connection's own when it came through the door's
// listener, else a ticket of its own (a door served through Handler). It
// answers 503 and returns false when there is none.
func (f *Front) admitStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if c := connOf(r); c != nil {
		return func() {}, true // refused connections never get here
	}
	t, err := f.reg.Admit(r.RemoteAddr)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "server full")
		return nil, false
	}
	return t.Release, true
}
