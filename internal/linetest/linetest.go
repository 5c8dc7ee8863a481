// Package linetest is a line-protocol client for tests: dial a switchboard
// TCP door, send commands, and expect lines, failing the test on anything
// unexpected. It is shared by the tests of every package that drives the
// TCP door (the door itself, the server, the cluster) so that they read
// lines the same way; it is not for production code.
package linetest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// Timeout bounds every read and write: the test kit's one bound
// (testkit.Timeout). It only catches hangs and is never a measurement.
const Timeout = testkit.Timeout

// BannerPrefix is the start of the default banner, up to the nick.
const BannerPrefix = "* " + tcpfront.DefaultBanner + " You are "

// Client is one test connection. It is used from one goroutine.
type Client struct {
	T    testing.TB
	Conn net.Conn
	R    *bufio.Reader
	Nick string // the client's nick, as far as the test knows
	seq  int
}

// DialRaw connects without reading anything; the connection is closed
// when the test ends.
func DialRaw(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Client{T: t, Conn: c, R: bufio.NewReader(c)}
}

// Dial connects and reads the banner, learning the guest nick.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	c := DialRaw(t, addr)
	c.ReadBanner()
	return c
}

// DialTLS connects to a TLS listener of the line protocol with conf and
// completes the handshake, reading nothing; it returns the dial's or the
// handshake's error. The connection is closed when the test ends.
func DialTLS(t testing.TB, addr string, conf *tls.Config) (*Client, error) {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: Timeout}, Config: conf}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return &Client{T: t, Conn: c, R: bufio.NewReader(c)}, nil
}

// ReadBanner reads the banner line and learns the nick from it.
func (c *Client) ReadBanner() {
	c.T.Helper()
	banner := c.Expect(BannerPrefix)
	c.Nick = strings.TrimSuffix(strings.TrimPrefix(banner, BannerPrefix), ". Type /help for commands.")
}

// DialNick connects and takes nick.
func DialNick(t testing.TB, addr, nick string) *Client {
	t.Helper()
	c := Dial(t, addr)
	c.Send("/nick " + nick)
	c.ExpectLine("* you are now " + nick)
	c.Nick = nick
	return c
}

// Send writes each line followed by "\n".
func (c *Client) Send(lines ...string) {
	c.T.Helper()
	c.Write(strings.Join(lines, "\n") + "\n")
}

// Write writes raw bytes.
func (c *Client) Write(s string) {
	c.T.Helper()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(Timeout))
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatalf("%s: write: %v", c.Nick, err)
	}
}

// ReadLine returns the next line without its "\n". Every server line must
// be one of the protocol's four kinds and clean text (valid UTF-8 without
// control characters); anything else fails the test.
func (c *Client) ReadLine() (string, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(Timeout))
	l, err := c.R.ReadString('\n')
	if err != nil {
		if l != "" {
			return l, fmt.Errorf("partial line %q: %w", l, err)
		}
		return "", err
	}
	l = strings.TrimSuffix(l, "\n")
	if !line.Clean([]byte(l)) {
		c.T.Errorf("%s: server sent a line with control characters or bad UTF-8: %q", c.Nick, l)
	}
	if _, perr := line.ParseServerLine([]byte(l)); perr != nil {
		c.T.Errorf("%s: not a server line: %q", c.Nick, l)
	}
	return l, nil
}

// Next returns the next line or fails the test.
func (c *Client) Next() string {
	c.T.Helper()
	l, err := c.ReadLine()
	if err != nil {
		c.T.Fatalf("%s: read: %v", c.Nick, err)
	}
	return l
}

// Expect reads the next line and checks that it starts with prefix.
func (c *Client) Expect(prefix string) string {
	c.T.Helper()
	l := c.Next()
	if !strings.HasPrefix(l, prefix) {
		c.T.Fatalf("%s: got %q, want a line starting with %q", c.Nick, l, prefix)
	}
	return l
}

// ExpectLine reads the next line and checks it exactly.
func (c *Client) ExpectLine(want string) {
	c.T.Helper()
	if l := c.Next(); l != want {
		c.T.Fatalf("%s: got %q, want %q", c.Nick, l, want)
	}
}

// Ping sends /ping with a fresh token and returns every line received
// before the matching pong: a barrier proving that everything sent before
// it was handled and everything queued before it was read.
func (c *Client) Ping() []string {
	c.T.Helper()
	c.seq++
	token := fmt.Sprintf("barrier-%d", c.seq)
	c.Send("/ping " + token)
	var got []string
	for i := 0; i < 1_000_000; i++ {
		l := c.Next()
		if l == "* pong "+token {
			return got
		}
		got = append(got, l)
	}
	c.T.Fatalf("%s: no pong", c.Nick)
	return nil
}

// Quiet checks that nothing arrived before a ping barrier.
func (c *Client) Quiet() {
	c.T.Helper()
	if got := c.Ping(); len(got) != 0 {
		c.T.Errorf("%s: unexpected lines %q", c.Nick, got)
	}
}

// ExpectEOF reads until the server closes the connection, returning the
// lines read meanwhile (bounded).
func (c *Client) ExpectEOF() []string {
	c.T.Helper()
	var got []string
	for i := 0; i < 100000; i++ {
		l, err := c.ReadLine()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.T.Fatalf("%s: connection still open; read so far %q", c.Nick, got)
			}
			return got
		}
		got = append(got, l)
	}
	c.T.Fatalf("%s: connection never closed", c.Nick)
	return nil
}
