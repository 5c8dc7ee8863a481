package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func natsString(op natsOp) string {
	switch op.kind {
	case natsMsg:
		return fmt.Sprintf("MSG %s %s %q %q", op.subject, op.sid, op.reply, op.payload)
	case natsInfo:
		return fmt.Sprintf("INFO %s", op.text)
	case natsErr:
		return fmt.Sprintf("ERR %s", op.text)
	case natsPing:
		return "PING"
	case natsPong:
		return "PONG"
	case natsOK:
		return "OK"
	}
	return "?"
}

func readAllNATS(r io.Reader, bufSize int) ([]string, error) {
	nr := newNATSReader(bufio.NewReaderSize(r, bufSize))
	var out []string
	for {
		op, err := nr.next()
		if err != nil {
			return out, err
		}
		out = append(out, natsString(op))
	}
}

func TestNATSReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{"handshake", "INFO {\"server_id\":\"x\"}\r\nPONG\r\n", []string{`INFO {"server_id":"x"}`, "PONG"}, io.EOF},
		{"msg", "MSG bench.f 1 5\r\nhello\r\n", []string{`MSG bench.f 1 "" "hello"`}, io.EOF},
		{"msg with reply", "MSG a 2 _INBOX.x 3\r\nabc\r\n", []string{`MSG a 2 "_INBOX.x" "abc"`}, io.EOF},
		{"msg with crlf payload and tabs", "msg\ta\t1\t4\r\n\r\n\r\n\r\n", []string{`MSG a 1 "" "\r\n\r\n"`}, io.EOF},
		{"empty payload", "MSG a 1 0\r\n\r\nPING\r\n+OK\r\n", []string{`MSG a 1 "" ""`, "PING", "OK"}, io.EOF},
		{"error", "-ERR 'Slow Consumer Detected'\r\n", []string{"ERR Slow Consumer Detected"}, io.EOF},
		{"bare LF", "PING\nPONG\n", []string{"PING", "PONG"}, io.EOF},
		{"truncated payload", "MSG a 1 10\r\nabc", nil, io.ErrUnexpectedEOF},
		{"truncated line", "PIN", nil, io.ErrUnexpectedEOF},
		{"bad size", "MSG a 1 x\r\n", nil, errNATSProtocol},
		{"too few args", "MSG a 1\r\n", nil, errNATSProtocol},
		{"too many args", "MSG a 1 b c 2\r\n", nil, errNATSProtocol},
		{"payload without CRLF", "MSG a 1 2\r\nabcd\r\n", nil, errNATSProtocol},
		{"unknown op", "HELLO\r\n", nil, errNATSProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAllNATS(r, 16)
				if !errors.Is(err, tt.err) {
					t.Errorf("error = %v, want %v", err, tt.err)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func FuzzNATSReader(f *testing.F) {
	for _, s := range []string{
		"INFO {\"server_id\":\"x\"}\r\nPONG\r\n",
		"MSG bench.f 1 5\r\nhello\r\nMSG a 2 _INBOX.x 3\r\nabc\r\n",
		"PING\r\n+OK\r\n-ERR 'Slow Consumer Detected'\r\n",
		"MSG a 1 10\r\nabc", "MSG a 1 -1\r\n", "msg a b c d e\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := readAllNATS(bytes.NewReader(in), 4096)
		split, err2 := readAllNATS(iotest.OneByteReader(bytes.NewReader(in)), 16)
		if strings.Join(whole, "|") != strings.Join(split, "|") {
			t.Fatalf("split reads disagree:\n%q\n%q", whole, split)
		}
		if (err1 == io.EOF) != (err2 == io.EOF) {
			t.Fatalf("split reads end differently: %v vs %v", err1, err2)
		}
	})
}

// nopConn is a net.Conn that accepts writes and reads nothing.
type nopConn struct{}

func (nopConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (nopConn) Write(p []byte) (int, error)      { return len(p), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (nopConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// TestNATSPublisherAnswersPing checks the publisher's reader answers a
// server keep-alive and signals pongs, over an in-memory pipe.
func TestNATSPublisherAnswersPing(t *testing.T) {
	t.Parallel()
	client, server := net.Pipe()
	defer server.Close()
	errc := make(chan error, 1)
	go func() {
		br := bufio.NewReader(server)
		_, err := server.Write([]byte("INFO {}\r\n"))
		if err == nil {
			var l string
			l, err = br.ReadString('\n')
			if err == nil && !strings.HasPrefix(l, "CONNECT ") {
				err = fmt.Errorf("first line %q", l)
			}
		}
		if err == nil {
			_, err = server.Write([]byte("PING\r\n"))
		}
		// The keep-alive answer and the barrier may come in either order.
		var got []string
		for range 2 {
			if err == nil {
				var l string
				l, err = br.ReadString('\n')
				got = append(got, l)
			}
		}
		if err == nil && !(len(got) == 2 && got[0] != got[1] &&
			(got[0] == "PONG\r\n" || got[0] == "PING\r\n") && (got[1] == "PONG\r\n" || got[1] == "PING\r\n")) {
			err = fmt.Errorf("want a PONG and a PING, got %q", got)
		}
		if err == nil {
			_, err = server.Write([]byte("PONG\r\n"))
		}
		errc <- err
	}()
	p, err := natsProtocol{}.publisher(client, bufio.NewReader(client))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	ctx, cancel := contextWithTimeout(5 * time.Second)
	defer cancel()
	if err := p.sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
