package tcpfront

import (
	"crypto/tls"
	"fmt"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// The TLS listener (Config.TLSAddr) speaks the same line protocol as the
// plain one, through the same line handling (reader.consume and on), but
// not through the plain connection's machinery: a worker reading the raw
// descriptor until EAGAIN, parking in the door's epoll set, and the
// publisher's direct non-blocking write to the descriptor (TryWriteBatch)
// all handle the socket's bytes, and under TLS those are records that only
// the tls.Conn can read and write. So a TLS connection is the plain
// net.Conn model: one goroutine that blocks in tls.Conn.Read and handles
// what it read itself, a transport without TryWriteBatch (the session's
// writer goroutine writes every frame), and no parking. It costs a
// goroutine with its stack and a 16 KiB read buffer for its whole life,
// where an idle plain connection costs neither.

const (
	// handshakeTimeout bounds a TLS client's handshake; Close ends the
	// handshakes in progress at once.
	handshakeTimeout = 10 * time.Second
	// tlsReadBufSize is a TLS connection's read buffer: the plaintext of
	// one TLS record at most, which is what one Read returns.
	tlsReadBufSize = 16 << 10
	// closeNotifyWait bounds the close_notify alert crypto/tls sends when
	// a TLS connection closes: a socket that cannot take it at once (a
	// peer that does not read) is closed without it.
	closeNotifyWait = 10 * time.Millisecond
	// maxKeptWriteBuf is the largest gathering buffer a TLS transport
	// keeps between batches.
	maxKeptWriteBuf = 64 << 10
)

// serveTLSConn is a TLS connection's goroutine, from accept to end: it
// admits the client, runs the handshake, opens the session and reads until
// the connection ends. A panic ends only this connection.
func (f *Front) serveTLSConn(c *net.TCPConn) {
	defer f.conns.Done()
	var r *reader
	var t *tlsTransport
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		f.log.Error("panic serving TLS connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		if r == nil || r.s == nil {
			_ = c.Close()
			return
		}
		r.s.Abort(session.ReasonInternal)
		r.finish(session.ReasonInternal)
	}()
	r, t = f.openTLS(c)
	if r == nil {
		return
	}
	r.close(t.read())
}

// openTLS admits the connection, runs the TLS handshake and opens the
// session with the verified client certificate's name. It returns nil when
// the connection was refused or the handshake failed; the connection is
// closed then.
func (f *Front) openTLS(c *net.TCPConn) (*reader, *tlsTransport) {
	remote := c.RemoteAddr().String()
	ticket, err := f.reg.Admit(remote)
	if err != nil {
		// No handshake for a refused client: refusing must stay cheap
		// when the server is full. The client sees its handshake fail.
		_ = c.Close()
		return nil, nil
	}
	setKeepAlive(c, f.cfg.KeepAlive)
	if f.cfg.SendBuffer > 0 {
		_ = c.SetWriteBuffer(f.cfg.SendBuffer)
	}
	sock := &tlsSocket{TCPConn: c}
	tc := tls.Server(sock, f.cfg.TLS)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.HandshakeContext(f.hsCtx); err != nil {
		f.log.Debug("tcp door: TLS handshake failed", "remote", remote, "err", err)
		_ = c.Close()
		ticket.Release()
		return nil, nil
	}
	_ = c.SetDeadline(time.Time{})
	r := &reader{f: f, c: tc, fd: -1, ticket: ticket, active: time.Now()}
	t := &tlsTransport{r: r, tc: tc, sock: sock}
	cs := tc.ConnectionState()
	scfg := f.live.Load().Session
	scfg.RemoteAddr = remote
	if scfg.CertName = tlsconf.PeerName(&cs); scfg.CertName != "" {
		// As the web door does: the certificate's name, with the
		// permissions the server gives it.
		scfg.Identity = f.reg.Certified(scfg.CertName)
	}
	r.s = session.New(f.reg, scfg, t, f.codec)
	r.s.Info(f.cfg.Banner + " You are " + r.s.Nick() + ". Type /help for commands.")
	return r, t
}

// read reads and handles input until the connection ends; the error says
// why, as reader.wait's does (errClosing, or the read's error). The idle
// timeout is the session registry's, as for a plain connection: it closes
// the session, which closes the connection and ends the read.
func (t *tlsTransport) read() error {
	r := t.r
	buf := make([]byte, tlsReadBufSize)
	for {
		if r.closing() {
			return errClosing
		}
		n, err := t.tc.Read(buf)
		if n > 0 {
			r.active = time.Now()
			r.s.Alive() // any bytes, a whole line or not, are a sign of life
			r.consumeBatch(buf[:n])
		}
		if err != nil {
			return err
		}
	}
}

// tlsTransport is a TLS connection's session.Transport. It has no
// TryWriteBatch: the session's writer goroutine writes every frame.
type tlsTransport struct {
	r    *reader
	tc   *tls.Conn
	sock *tlsSocket
	buf  []byte // WriteBatch's gathering buffer; writer goroutine only
}

// WriteBatch implements session.Transport: the frames gathered into one
// tls.Conn write, so a batch goes out in few records and one system call
// rather than a record and a call per frame.
func (t *tlsTransport) WriteBatch(frames [][]byte) error {
	if len(frames) == 1 {
		_, err := t.tc.Write(frames[0])
		return err
	}
	b := t.buf[:0]
	for _, fr := range frames {
		b = append(b, fr...)
	}
	_, err := t.tc.Write(b)
	if cap(b) > maxKeptWriteBuf {
		b = nil
	}
	t.buf = b[:0]
	return err
}

// SetWriteDeadline implements session.Transport.
func (t *tlsTransport) SetWriteDeadline(d time.Time) error { return t.tc.SetWriteDeadline(d) }

// Close implements session.Transport: close_notify if the socket takes it
// within closeNotifyWait, then the socket. The line protocol's close form
// is the notice line the session has already written.
func (t *tlsTransport) Close(session.CloseReason) error {
	t.sock.boundWrites(time.Now().Add(closeNotifyWait))
	return t.tc.Close()
}

// tlsSocket is the TCP connection under a tls.Conn. Once boundWrites has
// been called, no write deadline goes past its bound: crypto/tls gives its
// close_notify alert a 5 s deadline of its own, which would hold a
// session's close (and a shutdown cutting many) that long for a peer that
// does not read.
type tlsSocket struct {
	*net.TCPConn
	writeBy atomic.Int64 // the bound in Unix nanoseconds; 0: none
}

// boundWrites bounds every write deadline to by from now on.
func (s *tlsSocket) boundWrites(by time.Time) {
	s.writeBy.Store(by.UnixNano())
	_ = s.SetWriteDeadline(by)
}

// SetWriteDeadline implements net.Conn, within the bound.
func (s *tlsSocket) SetWriteDeadline(d time.Time) error {
	if by := s.writeBy.Load(); by != 0 {
		if b := time.Unix(0, by); d.IsZero() || d.After(b) {
			d = b
		}
	}
	return s.TCPConn.SetWriteDeadline(d)
}

// SetDeadline implements net.Conn, within the bound for writes.
func (s *tlsSocket) SetDeadline(d time.Time) error {
	if err := s.SetReadDeadline(d); err != nil {
		return err
	}
	return s.SetWriteDeadline(d)
}
