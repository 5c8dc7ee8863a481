package bench

import (
	"bufio"
	"fmt"
	"net"
	"strings"
)

// natsConnect is sent after the server's INFO: no +OK acks, no pedantic
// checks, so the server answers only PING and errors.
const natsConnect = "CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"switchboard-bench\"}\r\n"

// natsProtocol speaks the NATS client protocol: SUB on subscribers, PUB on
// publishers, PING/PONG as the barrier.
type natsProtocol struct{}

func (natsProtocol) name() string { return "nats" }

// connect reads INFO and sends CONNECT followed by extra.
func (natsProtocol) connect(c net.Conn, nr *natsReader, extra string) error {
	op, err := nr.next()
	if err != nil {
		return fmt.Errorf("read INFO: %w", err)
	}
	if op.kind != natsInfo {
		return fmt.Errorf("%w: expected INFO first", errNATSProtocol)
	}
	if _, err := c.Write([]byte(natsConnect + extra)); err != nil {
		return fmt.Errorf("send CONNECT: %w", err)
	}
	return nil
}

func (np natsProtocol) subscribe(c net.Conn, br *bufio.Reader, topic string) (subscriber, error) {
	nr := newNATSReader(br)
	if err := np.connect(c, nr, "SUB "+topic+" 1\r\nPING\r\n"); err != nil {
		return nil, err
	}
	for {
		op, err := nr.next()
		if err != nil {
			return nil, fmt.Errorf("read SUB barrier: %w", err)
		}
		switch op.kind {
		case natsPong:
			return &natsSubscriber{c: c, nr: nr}, nil
		case natsErr:
			return nil, fmt.Errorf("subscribe %s: server said %q", topic, op.text)
		case natsPing:
			if _, err := c.Write([]byte("PONG\r\n")); err != nil {
				return nil, fmt.Errorf("answer PING: %w", err)
			}
		}
	}
}

// natsSubscriber reads MSG operations and answers server PINGs; after the
// handshake it is the only writer on its connection.
type natsSubscriber struct {
	c  net.Conn
	nr *natsReader
}

func (s *natsSubscriber) next() ([]byte, error) {
	for {
		op, err := s.nr.next()
		if err != nil {
			return nil, err
		}
		switch op.kind {
		case natsMsg:
			return op.payload, nil
		case natsPing:
			if _, err := s.c.Write([]byte("PONG\r\n")); err != nil {
				return nil, fmt.Errorf("answer PING: %w", err)
			}
		case natsErr:
			if strings.Contains(strings.ToLower(string(op.text)), "slow consumer") {
				return nil, errSlowConsumer
			}
			return nil, fmt.Errorf("server error: %s", op.text)
		}
	}
}

func (np natsProtocol) publisher(c net.Conn, br *bufio.Reader) (*publisher, error) {
	nr := newNATSReader(br)
	if err := np.connect(c, nr, ""); err != nil {
		return nil, err
	}
	codec := pubCodec{
		appendPub: func(dst []byte, topic string, payload []byte) []byte {
			dst = append(dst, "PUB "...)
			dst = append(dst, topic...)
			dst = append(dst, ' ')
			dst = appendInt(dst, len(payload))
			dst = append(dst, '\r', '\n')
			dst = append(dst, payload...)
			return append(dst, '\r', '\n')
		},
		ping: []byte("PING\r\n"),
		readReply: func() (replyKind, []byte, error) {
			op, err := nr.next()
			if err != nil {
				return 0, nil, err
			}
			switch op.kind {
			case natsPong:
				return replyPong, nil, nil
			case natsPing:
				return replyPing, nil, nil
			case natsErr:
				return replyError, op.text, nil
			}
			return replyIgnore, nil, nil
		},
	}
	return newPublisher(c, codec, []byte("PONG\r\n")), nil
}
