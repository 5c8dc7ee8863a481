package lineclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// maxServerLine bounds one line read from the server. A switchboard server
// sends lines of at most its --max-line plus a topic and a nick; anything
// longer is not a switchboard server.
const maxServerLine = 1 << 20

// conn is one line-protocol connection. Writes and reads may run on two
// goroutines, one each; the methods of each side are not safe for
// concurrent use among themselves.
type conn struct {
	c    net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	addr string
	nick string // the nick the banner gave
}

// dial connects to addr within timeout (or until ctx is done) and reads
// the banner. A server that is full answers "! server full" instead; that
// is an error.
func dial(ctx context.Context, addr string, timeout time.Duration) (*conn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (is the server running? --server or %s sets the address): %w", addr, EnvServer, err)
	}
	c := &conn{c: nc, r: bufio.NewReaderSize(nc, maxServerLine), w: bufio.NewWriterSize(nc, 64<<10), addr: addr}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	l, err := c.readLine()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: read the banner: %w", addr, err)
	}
	if l.Kind == line.KindError {
		nc.Close()
		return nil, fmt.Errorf("%s: the server refused the connection: %s", addr, l.Text)
	}
	if l.Kind != line.KindInfo {
		nc.Close()
		return nil, fmt.Errorf("%s: not a switchboard banner: %q", addr, clip(l.Text))
	}
	if _, rest, ok := strings.Cut(string(l.Text), "You are "); ok {
		c.nick, _, _ = strings.Cut(rest, ".")
	}
	_ = nc.SetReadDeadline(time.Time{})
	return c, nil
}

// send queues one command line; flush writes what is queued.
func (c *conn) send(cmd string) error {
	if _, err := c.w.WriteString(cmd); err != nil {
		return fmt.Errorf("send to %s: %w", c.addr, err)
	}
	if err := c.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("send to %s: %w", c.addr, err)
	}
	return nil
}

// flush writes the queued commands.
func (c *conn) flush() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("send to %s: %w", c.addr, err)
	}
	return nil
}

// errClosed reports that the server closed the connection.
var errClosed = errors.New("the server closed the connection")

// readLine reads and parses the next server line. The slices of the
// result alias the reader's buffer until the next call.
func (c *conn) readLine() (line.ServerLine, error) {
	b, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return line.ServerLine{}, fmt.Errorf("%s sent a line longer than %d bytes", c.addr, c.r.Size())
	case errors.Is(err, io.EOF) && len(b) == 0:
		return line.ServerLine{}, errClosed
	case err != nil:
		return line.ServerLine{}, err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	l, err := line.ParseServerLine(b)
	if err != nil {
		return line.ServerLine{}, fmt.Errorf("%s: %w: %q", c.addr, err, clip(b))
	}
	return l, nil
}

// close closes the connection.
func (c *conn) close() { _ = c.c.Close() }

// clip shortens and sanitizes server text quoted in an error.
func clip(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(line.Sanitize(nil, b[:max])) + "..."
	}
	return string(line.Sanitize(nil, b))
}
