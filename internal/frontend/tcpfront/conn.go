package tcpfront

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// serveConn is a new connection's goroutine: it opens the session on a
// worker, then runs the connection.
func (f *Front) serveConn(c *net.TCPConn) {
	var r *reader
	func() {
		defer func() {
			if p := recover(); p != nil {
				f.log.Error("panic setting up connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				_ = c.Close()
				r = nil
			}
		}()
		f.workers.run(func() { r = f.open(c) })
	}()
	if r == nil {
		f.conns.Done()
		return
	}
	f.runConn(r)
}

// runConn is the connection's own goroutine, from open or from waking up
// after being parked. It only waits: for the socket to become readable,
// and for workers to run the connection's code (reading and handling,
// clean-up), so its stack stays minimal. It ends the connection, or hands
// it to the parker when it has been idle long enough; either way the
// connection's slot in f.conns is released only when the connection ends.
// A panic ends only this connection.
func (f *Front) runConn(r *reader) {
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		stack := string(debug.Stack())
		f.workers.run(func() {
			r.s.Logger().Error("panic serving connection", "panic", fmt.Sprint(p), "stack", stack)
			r.s.Abort(session.ReasonInternal)
			r.finish(session.ReasonInternal)
		})
		f.conns.Done()
	}()
	err := r.wait()
	if err == errParked {
		return
	}
	f.workers.run(func() { r.close(err) })
	f.conns.Done()
}

// open admits, configures and greets a new connection. It returns nil when
// the connection was refused.
func (f *Front) open(c *net.TCPConn) *reader {
	remote := c.RemoteAddr().String()
	ticket, err := f.reg.Admit(remote)
	if err != nil {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(line.AppendError(nil, "server full"))
		_ = c.Close()
		return nil
	}
	setKeepAlive(c, f.cfg.KeepAlive)
	if f.cfg.SendBuffer > 0 {
		_ = c.SetWriteBuffer(f.cfg.SendBuffer)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		ticket.Release()
		_ = c.Close()
		return nil
	}
	r := &reader{f: f, c: c, rc: rc, ticket: ticket, active: time.Now()}
	if err := rc.Control(func(fd uintptr) { r.fd = int(fd) }); err != nil {
		ticket.Release()
		_ = c.Close()
		return nil
	}
	scfg := f.live.Load().Session
	scfg.RemoteAddr = remote
	r.s = session.New(f.reg, scfg, r, f.codec)
	r.s.Info(f.cfg.Banner + " You are " + r.s.Nick() + ". Type /help for commands.")
	return r
}

// setKeepAlive probes an idle peer every period, or never when period is
// not positive. Off must be said explicitly: the net package's listener
// turns keepalives on by default.
func setKeepAlive(c *net.TCPConn, period time.Duration) {
	if period <= 0 {
		_ = c.SetKeepAlive(false)
		return
	}
	// First probe after period of silence, then one every period; a
	// peer that answers none of 9 is gone (about 10 periods in all).
	_ = c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: period, Interval: period, Count: 9})
}

// close ends the connection after its reader stopped with err.
func (r *reader) close(err error) {
	if err == errClosing {
		// The session is ending (quit, slow consumer, idle timeout,
		// shutdown): let its final notice go out, discarding whatever
		// the client still sends.
		r.drainUntilClosed()
	}
	r.finish(session.ReasonClientGone)
}

// finish ends the session and gives back the connection's place.
func (r *reader) finish(reason session.CloseReason) {
	r.s.Finish(reason)
	r.ticket.Release()
}

var (
	errParked  = errors.New("tcp door: parked")
	errClosing = errors.New("tcp door: session closing")
)

// reader is one TCP connection: it turns the bytes read into session
// requests, and it is the session's Transport.
type reader struct {
	f       *Front
	s       *session.Session
	c       net.Conn        // the *net.TCPConn, or the *tls.Conn of a TLS connection (tls.go)
	rc      syscall.RawConn // nil for a TLS connection
	fd      int             // the socket, for TryWriteBatch (which uses it only under raw); -1 for TLS
	raw     rawGuard        // keeps TryWriteBatch off fd once Close has begun
	ticket  *session.Ticket
	active  time.Time // when bytes last arrived
	partial []byte    // an incomplete line carried to the next read
	tooLong bool      // discarding the rest of an over-long line
	lastArg string    // the last command argument, see intern
	park    parkState // owned by the parker while parked
	// hot: input was handled during the current goroutine's life, so the
	// goroutine handles the next input itself, without the two hand-offs
	// to a worker and back (see wait). Written by drain, which runs on a
	// worker or on the connection's goroutine, read by that goroutine
	// after the worker is done.
	hot bool
}

// WriteBatch implements session.Transport: all frames in one writev, or
// one write for a single frame. The single-frame case matters for memory:
// the net package's writev keeps an iovec array on the connection for
// good (~100 bytes), and most idle connections have only ever been sent
// single frames (the greeting, a reply).
func (r *reader) WriteBatch(frames [][]byte) error {
	if len(frames) == 1 {
		_, err := r.c.Write(frames[0])
		return err
	}
	bufs := net.Buffers(frames)
	_, err := bufs.WriteTo(r.c)
	return err
}

// rawGuard makes the raw-descriptor write safe by construction: once the
// connection's Close has begun, no TryWriteBatch reaches the descriptor,
// whatever the caller does. Without it, a write racing Close could land on
// the socket the kernel hands the same number to next, another client's.
// The net package's descriptor lock would give the same guarantee, at the
// cost of its bookkeeping on every write of a broadcast; this is one
// uncontended mutex per write, and the writes it serializes never wait.
type rawGuard struct {
	mu     sync.Mutex // held across each raw write, and by shut
	closed bool       // Close has begun: the descriptor may be gone or reused
}

// shut marks the descriptor closed, after any raw write in progress has
// returned. Close calls it before closing the socket.
func (g *rawGuard) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// TryWriteBatch implements session.TryWriter: one send or writev that
// does not wait for the socket; it returns the bytes the socket took (0
// when full), or net.ErrClosed once Close has begun. It goes to the file
// descriptor directly, under the connection's rawGuard instead of the net
// package's descriptor lock: a broadcast to many idle connections then
// spends its time in the kernel, not in bookkeeping.
func (r *reader) TryWriteBatch(frames [][]byte) (int, error) {
	r.raw.mu.Lock()
	defer r.raw.mu.Unlock()
	if r.raw.closed {
		return 0, net.ErrClosed
	}
	return r.tryWriteLocked(frames)
}

// tryWriteLocked is TryWriteBatch's write; the caller holds r.raw.mu and
// has checked that the connection is not closed.
func (r *reader) tryWriteLocked(frames [][]byte) (int, error) {
	var n uintptr
	var errno syscall.Errno
	switch {
	case len(frames) == 1:
		b := frames[0]
		if len(b) == 0 {
			return 0, nil
		}
		n, _, errno = syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(r.fd),
			uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
	case len(frames) <= smallIovecs:
		var local [smallIovecs]syscall.Iovec
		n, errno = writev(r.fd, fillIovecs(local[:0], frames))
	default:
		iov := r.f.iovecs.Get().(*[]syscall.Iovec)
		vec := fillIovecs((*iov)[:0], frames[:min(len(frames), maxIovecs)])
		n, errno = writev(r.fd, vec)
		clear(vec) // drop the references to the frames
		*iov = vec[:0]
		r.f.iovecs.Put(iov)
	}
	switch errno {
	case 0:
		return int(n), nil
	case syscall.EAGAIN, syscall.EINTR:
		return 0, nil
	}
	return 0, errno
}

// fillIovecs appends an iovec for each non-empty frame to vec.
func fillIovecs(vec []syscall.Iovec, frames [][]byte) []syscall.Iovec {
	for _, b := range frames {
		if len(b) > 0 {
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			vec = append(vec, v)
		}
	}
	return vec
}

// writev is one non-blocking writev(2) of vec to the socket fd.
func writev(fd int, vec []syscall.Iovec) (uintptr, syscall.Errno) {
	if len(vec) == 0 {
		return 0, 0
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&vec[0])), uintptr(len(vec)))
	return n, errno
}

// smallIovecs is how many frames TryWriteBatch gathers on its stack.
const smallIovecs = 8

// maxIovecs is the most buffers one writev takes (IOV_MAX on Linux).
const maxIovecs = 1024

// SetWriteDeadline implements session.Transport.
func (r *reader) SetWriteDeadline(d time.Time) error { return r.c.SetWriteDeadline(d) }

// Close implements session.Transport. It first shuts the raw-write guard,
// so no TryWriteBatch reaches the descriptor from here on. The line
// protocol's close form is the notice line the session has already
// written, so the reason needs nothing more. A parked connection has no
// goroutine to notice, so it is woken up to end.
func (r *reader) Close(session.CloseReason) error {
	r.raw.shut()
	err := r.c.Close()
	r.f.parker.wake(r)
	return err
}

// wait waits for input and hands it to a worker, until the connection ends
// (the error says why) or, with parking on, until it has been idle for
// ParkAfter and the parker took it (errParked). The idle timeout is the
// session registry's: it closes the session, which closes the connection.
//
// The first input of the goroutine's life is handled on a worker, and so
// is everything of a connection that is never parked; once input has come
// in, a connection that parks handles the rest on its own goroutine
// (r.hot). At a few messages per read that saves the two goroutine
// hand-offs per readable event (the job to a worker, its completion back)
// and, on an idle machine, the thread wake-ups that come with them. The
// goroutine's stack grows, but only while the connection is active: after
// ParkAfter of silence the goroutine ends and its stack with it, so an
// idle connection costs what it did. A connection that only ever
// subscribes keeps the 2 KiB stack.
func (r *reader) wait() error {
	cfg := &r.f.cfg
	r.hot = false
	for {
		if cfg.ParkAfter > 0 {
			park := r.active.Add(cfg.ParkAfter)
			if now := time.Now(); !park.After(now) {
				// Woken from the parker: a past deadline would fail
				// the read before it looks at the socket.
				park = now.Add(cfg.ParkAfter)
			}
			_ = r.c.SetReadDeadline(park)
		}
		var rerr error
		err := r.rc.Read(func(fd uintptr) bool {
			again := false
			if r.hot {
				again, rerr = r.drain(int(fd))
			} else {
				r.f.workers.run(func() { again, rerr = r.drain(int(fd)) })
			}
			return !again
		})
		switch {
		case err == nil:
			return rerr
		case !errors.Is(err, os.ErrDeadlineExceeded):
			return err
		case cfg.ParkAfter < 0 || time.Since(r.active) < cfg.ParkAfter:
			// Bytes came in since the deadline was set: not idle yet.
		case r.f.parker.park(r):
			return errParked
		}
	}
}

// drain reads and handles until the socket has nothing more (again=true)
// or the connection ended (err, io.EOF at end of stream). It borrows a read
// buffer from the pool only while bytes are there.
func (r *reader) drain(fd int) (again bool, err error) {
	for {
		if r.closing() {
			// Input from a client whose session is ending is
			// dropped, not worked through: a client that keeps
			// sending must not hold a shutdown up.
			return false, errClosing
		}
		bp := r.f.pool.Get().(*[]byte)
		n, rerr := readRaw(fd, *bp)
		for rerr == syscall.EINTR {
			n, rerr = readRaw(fd, *bp)
		}
		switch {
		case rerr == syscall.EAGAIN:
			r.f.pool.Put(bp)
			return true, nil
		case rerr != nil:
			r.f.pool.Put(bp)
			return false, rerr
		case n <= 0:
			r.f.pool.Put(bp)
			return false, io.EOF
		}
		r.active = time.Now()
		r.hot = parks && r.f.cfg.ParkAfter > 0
		r.s.Alive() // any bytes, a whole line or not, are a sign of life
		r.consumeBatch((*bp)[:n])
		full := n == len(*bp)
		r.f.pool.Put(bp)
		if !full {
			// A short read took everything the socket had: wait for
			// the next edge instead of paying a read that says EAGAIN.
			return true, nil
		}
	}
}

// readRaw is one read(2) of the non-blocking socket fd into b, made as a
// raw system call: it never waits, so it need not tell the scheduler
// (syscall.Read's entersyscall, which on an otherwise idle server wakes
// the runtime's sysmon thread on every read, with a futex and a round of
// its timed sleeps after it).
func readRaw(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// drainUntilClosed reads and discards input until the connection closes,
// so the writer can finish the final notice.
func (r *reader) drainUntilClosed() {
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := r.c.Read(buf); err != nil {
			return
		}
	}
}

// consumeBatch handles one read's worth of lines as one batch: the
// subscribers its publishes wake are written once, at the end.
func (r *reader) consumeBatch(data []byte) {
	r.s.BeginBatch()
	defer r.s.EndBatch()
	r.consume(data)
}

// closing reports whether the session is ending, after which the rest of
// the client's input is dropped.
func (r *reader) closing() bool { return r.s.Reason() != session.ReasonNone }

// closingCheckLines is how many lines consume handles between looks at
// closing: often enough that a batch stops within a few lines of the
// session ending, rarely enough that the lock it takes costs nothing.
const closingCheckLines = 8

// consume splits data into lines and handles each complete one, until
// the session starts closing.
func (r *reader) consume(data []byte) {
	max := r.f.cfg.MaxLine
	for n := 1; len(data) > 0; n++ {
		if n%closingCheckLines == 0 && r.closing() {
			return
		}
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.keepPartial(data, max)
			return
		}
		chunk := data[:i]
		data = data[i+1:]
		if r.tooLong {
			r.tooLong = false
			continue
		}
		l := chunk
		if len(r.partial) > 0 {
			r.partial = append(r.partial, chunk...)
			l = r.partial
		}
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if len(l) > max {
			r.lineTooLong()
		} else {
			r.handle(l)
		}
		r.partial = nil
	}
}

// keepPartial carries an incomplete line, or starts discarding it once it
// is over the limit.
func (r *reader) keepPartial(data []byte, max int) {
	if r.tooLong {
		return
	}
	// +1 allows a trailing '\r' that will be stripped.
	if len(r.partial)+len(data) > max+1 {
		r.partial = nil
		r.tooLong = true
		r.lineTooLong()
		return
	}
	r.partial = append(r.partial, data...)
}

func (r *reader) lineTooLong() {
	r.s.Refuse(0, &session.Error{Code: session.CodeBadRequest, Text: "line too long (max " + strconv.Itoa(r.f.cfg.MaxLine) + " bytes)"})
}

// handle parses one line and runs it.
func (r *reader) handle(l []byte) {
	cmd, err := line.ParseCommand(l)
	if err != nil {
		if errors.Is(err, line.ErrEmpty) {
			return
		}
		r.s.Refuse(0, &session.Error{Code: session.CodeBadRequest, Text: err.Error()})
		return
	}
	req := session.Request{Op: sessionOp(cmd.Op), Arg: r.intern(cmd.Arg), Arg2: string(cmd.Arg2), Text: string(cmd.Text), Since: string(cmd.Since)}
	if cmd.Op == line.OpHistory {
		req.Arg2, req.Text = "", req.Arg2 // /history TOPIC [N]: N is the count
	}
	r.s.Do(req)
}

// intern returns b as a string, reusing the previous argument's string when
// it is the same: a publisher usually sends to the same topic over and over,
// and this saves an allocation per message.
func (r *reader) intern(b []byte) string {
	if string(b) != r.lastArg {
		r.lastArg = string(b)
	}
	return r.lastArg
}
