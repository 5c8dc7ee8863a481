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

// serveConn is the connection's goroutine: admit, greet, read until the
// connection ends, then clean up. A panic ends only this connection.
func (f *Front) serveConn(c *net.TCPConn) {
	defer f.conns.Done()
	remote := c.RemoteAddr().String()
	ticket, err := f.reg.Admit(remote)
	if err != nil {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(line.AppendError(nil, "server full"))
		_ = c.Close()
		return
	}
	defer ticket.Release()
	if f.cfg.KeepAlive > 0 {
		_ = c.SetKeepAlive(true)
		_ = c.SetKeepAlivePeriod(f.cfg.KeepAlive)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		_ = c.Close()
		return
	}
	scfg := f.cfg.Session
	scfg.RemoteAddr = remote
	s := session.New(f.reg, scfg, transport{c}, Codec{})
	reason := session.ReasonClientGone
	defer func() {
		if p := recover(); p != nil {
			s.Logger().Error("panic serving connection", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reason = session.ReasonInternal
			s.Abort(reason)
		}
		s.Finish(reason)
	}()
	s.Info(f.cfg.Banner + " You are " + s.Nick() + ". Type /help for commands.")
	r := reader{f: f, s: s, c: c, rc: rc}
	if r.run() == errIdle {
		reason = session.ReasonIdle
		s.CloseGracefully(reason)
		// Let the notice go out; the writer closes the connection.
		r.drainUntilClosed()
	}
}

var errIdle = errors.New("idle timeout")

// reader turns the bytes of one connection into session requests.
type reader struct {
	f       *Front
	s       *session.Session
	c       *net.TCPConn
	rc      syscall.RawConn
	partial []byte // an incomplete line carried to the next read
	tooLong bool   // discarding the rest of an over-long line
}

// run reads until the connection fails or closes.
func (r *reader) run() error {
	for {
		if r.f.cfg.IdleTimeout > 0 {
			_ = r.c.SetReadDeadline(time.Now().Add(r.f.cfg.IdleTimeout))
		}
		bp, n, err := r.read()
		if n > 0 {
			r.consume((*bp)[:n])
		}
		if bp != nil {
			r.f.pool.Put(bp)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errIdle
			}
			return err
		}
	}
}

// read waits until the socket is readable without holding a buffer, then
// reads into one borrowed from the pool. It returns io.EOF at end of
// stream.
func (r *reader) read() (*[]byte, int, error) {
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	err := r.rc.Read(func(fd uintptr) bool {
		bp = r.f.pool.Get().(*[]byte)
		for {
			n, rerr = syscall.Read(int(fd), *bp)
			if rerr != syscall.EINTR {
				break
			}
		}
		if rerr == syscall.EAGAIN {
			r.f.pool.Put(bp)
			bp = nil
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return bp, 0, err
	case rerr != nil:
		return bp, 0, rerr
	case n <= 0:
		return bp, 0, io.EOF
	}
	return bp, n, nil
}

// drainUntilClosed reads and discards input until the connection closes,
// so the writer can finish the final notice.
func (r *reader) drainUntilClosed() {
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [512]byte
	for {
		if _, err := r.c.Read(buf[:]); err != nil {
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
