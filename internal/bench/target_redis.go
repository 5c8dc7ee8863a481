package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
)

// redisProtocol speaks RESP2 pub/sub: SUBSCRIBE on subscriber connections,
// PUBLISH (whose integer replies are read and discarded) on publishers.
type redisProtocol struct{}

func (redisProtocol) name() string { return "redis" }

func (redisProtocol) subscribe(c net.Conn, br *bufio.Reader, topic string) (subscriber, error) {
	if _, err := c.Write(appendRESPCommand(nil, []byte("SUBSCRIBE"), []byte(topic))); err != nil {
		return nil, fmt.Errorf("send SUBSCRIBE: %w", err)
	}
	rr := newRESPReader(br)
	for {
		v, err := rr.next()
		if err != nil {
			return nil, fmt.Errorf("read SUBSCRIBE reply: %w", err)
		}
		if v[0].kind == '-' {
			return nil, fmt.Errorf("subscribe %s: server said %q", topic, rr.text(v[0]))
		}
		if isPush(rr, v, "subscribe") && bytes.Equal(rr.text(v[2]), []byte(topic)) {
			return &redisSubscriber{rr: rr}, nil
		}
	}
}

// isPush reports whether v is a pub/sub push array whose first element is
// the bulk string kind: ["message", channel, payload], ["subscribe",
// channel, count] and so on.
func isPush(rr *respReader, v []respValue, kind string) bool {
	return len(v) == 4 && v[0].kind == '*' && v[0].num == 3 &&
		v[1].kind == '$' && string(rr.text(v[1])) == kind && v[2].kind == '$'
}

// redisSubscriber reads ["message", channel, payload] pushes.
type redisSubscriber struct {
	rr *respReader
}

func (s *redisSubscriber) next() ([]byte, error) {
	for {
		v, err := s.rr.next()
		if err != nil {
			return nil, err
		}
		if isPush(s.rr, v, "message") && v[3].kind == '$' {
			return s.rr.text(v[3]), nil
		}
		if v[0].kind == '-' {
			return nil, fmt.Errorf("server error: %s", s.rr.text(v[0]))
		}
	}
}

func (redisProtocol) publisher(c net.Conn, br *bufio.Reader) (*publisher, error) {
	rr := newRESPReader(br)
	codec := pubCodec{
		appendPub: func(dst []byte, topic string, payload []byte) []byte {
			dst = append(dst, "*3\r\n$7\r\nPUBLISH\r\n$"...)
			dst = appendInt(dst, len(topic))
			dst = append(dst, '\r', '\n')
			dst = append(dst, topic...)
			dst = append(dst, '\r', '\n')
			return appendRESPBulk(dst, payload)
		},
		ping: []byte("*1\r\n$4\r\nPING\r\n"),
		readReply: func() (replyKind, []byte, error) {
			v, err := rr.next()
			if err != nil {
				return 0, nil, err
			}
			switch {
			case v[0].kind == '-':
				return replyError, rr.text(v[0]), nil
			case v[0].kind == '+' && string(rr.text(v[0])) == "PONG":
				return replyPong, nil, nil
			}
			return replyIgnore, nil, nil
		},
	}
	return newPublisher(c, codec, nil), nil
}
