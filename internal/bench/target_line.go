package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"

	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// lineMaxLine bounds one server line read by the bench client.
const lineMaxLine = 1 << 20

// lineProtocol is switchboard's own line protocol on TCP, parsed with the
// project's codec (internal/wire/line) so bench exercises the same
// definitions the server uses.
type lineProtocol struct{}

func (lineProtocol) name() string { return "switchboard" }

// welcome reads lines until the server's banner.
func (lineProtocol) welcome(lr *lineReader) error {
	for {
		l, err := lr.readLine()
		if err != nil {
			return fmt.Errorf("read banner: %w", err)
		}
		sl, err := line.ParseServerLine(l)
		if err != nil {
			continue
		}
		if sl.Kind == line.KindError {
			return fmt.Errorf("server refused connection: %s", sl.Text)
		}
		if sl.Kind == line.KindInfo && bytes.HasPrefix(sl.Text, []byte("Welcome")) {
			return nil
		}
	}
}

func (lp lineProtocol) subscribe(c net.Conn, br *bufio.Reader, topic string) (subscriber, error) {
	lr := &lineReader{br: br, max: lineMaxLine}
	if err := lp.welcome(lr); err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte("/sub " + topic + "\n")); err != nil {
		return nil, fmt.Errorf("send /sub: %w", err)
	}
	want := []byte("subscribed " + topic)
	for {
		l, err := lr.readLine()
		if err != nil {
			return nil, fmt.Errorf("read /sub reply: %w", err)
		}
		sl, err := line.ParseServerLine(l)
		if err != nil {
			continue
		}
		if sl.Kind == line.KindError {
			return nil, fmt.Errorf("subscribe %s: server said %q", topic, sl.Text)
		}
		if sl.Kind == line.KindInfo && bytes.HasPrefix(sl.Text, want) {
			return &lineSubscriber{lr: lr}, nil
		}
	}
}

// lineSubscriber reads "[topic] sender: text" lines.
type lineSubscriber struct {
	lr *lineReader
}

func (s *lineSubscriber) next() ([]byte, error) {
	for {
		l, err := s.lr.readLine()
		if err != nil {
			return nil, err
		}
		sl, err := line.ParseServerLine(l)
		if err != nil {
			return nil, fmt.Errorf("parse server line %q: %w", clipBytes(l), err)
		}
		switch sl.Kind {
		case line.KindMessage:
			return sl.Text, nil
		case line.KindError:
			if bytes.Contains(sl.Text, []byte("slow consumer")) {
				return nil, errSlowConsumer
			}
			return nil, fmt.Errorf("server error: %s", sl.Text)
		}
		// Info lines (room events, pongs) carry no payload.
	}
}

func (lp lineProtocol) publisher(c net.Conn, br *bufio.Reader) (*publisher, error) {
	lr := &lineReader{br: br, max: lineMaxLine}
	if err := lp.welcome(lr); err != nil {
		return nil, err
	}
	codec := pubCodec{
		appendPub: func(dst []byte, topic string, payload []byte) []byte {
			dst = append(dst, "/pub "...)
			dst = append(dst, topic...)
			dst = append(dst, ' ')
			dst = append(dst, payload...)
			return append(dst, '\n')
		},
		ping: []byte("/ping\n"),
		readReply: func() (replyKind, []byte, error) {
			l, err := lr.readLine()
			if err != nil {
				return 0, nil, err
			}
			sl, err := line.ParseServerLine(l)
			switch {
			case err != nil:
				return replyIgnore, nil, nil
			case sl.Kind == line.KindError:
				return replyError, sl.Text, nil
			case sl.Kind == line.KindInfo && bytes.HasPrefix(sl.Text, []byte("pong")):
				return replyPong, nil, nil
			}
			return replyIgnore, nil, nil
		},
	}
	return newPublisher(c, codec, nil), nil
}
