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
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// transport adapts a TCP connection to session.Transport.
type transport struct {
	c *net.TCPConn
}

// WriteBatch writes all frames with writev.
func (t transport) WriteBatch(frames [][]byte) error {
	bufs := net.Buffers(frames)
	_, err := bufs.WriteTo(t.c)
	return err
}

func (t transport) SetWriteDeadline(d time.Time) error { return t.c.SetWriteDeadline(d) }

func (t transport) Close() error { return t.c.Close() }

// serveConn is the connection's own goroutine. It only waits: for the
// socket to become readable, and for workers to run the connection's code
// (setup, reading and handling, clean-up), so its stack stays minimal while
// the connection is idle. A panic ends only this connection.
func (f *Front) serveConn(c *net.TCPConn) {
	defer f.conns.Done()
	var r *reader
	defer func() {
		p := recover()
		if p == nil {
			return
		}
		stack := string(debug.Stack())
		if r == nil {
			f.log.Error("panic setting up connection", "panic", fmt.Sprint(p), "stack", stack)
			_ = c.Close()
			return
		}
		f.workers.run(func() {
			r.s.Logger().Error("panic serving connection", "panic", fmt.Sprint(p), "stack", stack)
			r.s.Abort(session.ReasonInternal)
			r.finish(session.ReasonInternal)
		})
	}()
	f.workers.run(func() { r = f.open(c) })
	if r == nil {
		return
	}
	err := r.wait()
	f.workers.run(func() { r.close(err) })
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
	if f.cfg.KeepAlive > 0 {
		_ = c.SetKeepAlive(true)
		_ = c.SetKeepAlivePeriod(f.cfg.KeepAlive)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		ticket.Release()
		_ = c.Close()
		return nil
	}
	scfg := f.cfg.Session
	scfg.RemoteAddr = remote
	s := session.New(f.reg, scfg, transport{c}, Codec{})
	s.Info(f.cfg.Banner + " You are " + s.Nick() + ". Type /help for commands.")
	if f.cfg.IdleTimeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(f.cfg.IdleTimeout))
	}
	return &reader{f: f, s: s, c: c, rc: rc, ticket: ticket}
}

// close ends the connection after its reader stopped with err.
func (r *reader) close(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		r.s.CloseGracefully(session.ReasonIdle)
		// Let the notice go out; the writer closes the connection.
		r.drainUntilClosed()
		r.finish(session.ReasonIdle)
		return
	}
	r.finish(session.ReasonClientGone)
}

// finish ends the session and gives back the connection's place.
func (r *reader) finish(reason session.CloseReason) {
	r.s.Finish(reason)
	r.ticket.Release()
}

// reader turns the bytes of one connection into session requests.
type reader struct {
	f       *Front
	s       *session.Session
	c       *net.TCPConn
	rc      syscall.RawConn
	ticket  *session.Ticket
	partial []byte // an incomplete line carried to the next read
	tooLong bool   // discarding the rest of an over-long line
}

// wait runs for the connection's whole life: the poller wakes it when the
// socket is readable, and a worker then reads and handles everything
// available. It returns the error that ended the connection.
func (r *reader) wait() error {
	var rerr error
	err := r.rc.Read(func(fd uintptr) bool {
		again := false
		r.f.workers.run(func() { again, rerr = r.drain(int(fd)) })
		return !again
	})
	if err != nil {
		return err
	}
	return rerr
}

// drain reads and handles until the socket has nothing more (again=true)
// or the connection ended (err, io.EOF at end of stream). It borrows a read
// buffer from the pool only while bytes are there.
func (r *reader) drain(fd int) (again bool, err error) {
	for {
		bp := r.f.pool.Get().(*[]byte)
		n, rerr := syscall.Read(fd, *bp)
		for rerr == syscall.EINTR {
			n, rerr = syscall.Read(fd, *bp)
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
		r.consume((*bp)[:n])
		r.f.pool.Put(bp)
		if r.f.cfg.IdleTimeout > 0 {
			_ = r.c.SetReadDeadline(time.Now().Add(r.f.cfg.IdleTimeout))
		}
	}
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

// consume splits data into lines and handles each complete one.
func (r *reader) consume(data []byte) {
	max := r.f.cfg.MaxLine
	for len(data) > 0 {
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
	r.s.Error("line too long (max " + strconv.Itoa(r.f.cfg.MaxLine) + " bytes)")
}

// handle parses one line and runs it.
func (r *reader) handle(l []byte) {
	cmd, err := line.ParseCommand(l)
	if err != nil {
		if errors.Is(err, line.ErrEmpty) {
			return
		}
		r.s.Error(err.Error())
		return
	}
	r.s.Do(session.Request{Op: cmd.Op, Arg: string(cmd.Arg), Arg2: string(cmd.Arg2), Text: string(cmd.Text)})
}
