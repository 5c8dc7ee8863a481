package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// natsMaxControl bounds a NATS control line (INFO can be a few KB) and
// natsMaxPayload a message payload.
const (
	natsMaxControl = 64 << 10
	natsMaxPayload = 64 << 20
)

// errNATSProtocol is wrapped by every NATS framing error.
var errNATSProtocol = errors.New("bench: nats protocol error")

// natsOpKind is the kind of one server operation.
type natsOpKind uint8

// The server operations bench understands.
const (
	natsInfo natsOpKind = iota + 1
	natsMsg
	natsPing
	natsPong
	natsOK
	natsErr
)

// natsOp is one parsed server operation. Its slices alias the reader's
// scratch buffer and are valid until the next call to next.
type natsOp struct {
	kind    natsOpKind
	subject []byte // natsMsg
	sid     []byte // natsMsg
	reply   []byte // natsMsg, may be empty
	payload []byte // natsMsg
	text    []byte // natsInfo JSON, natsErr message
}

// natsReader is a minimal streaming reader of the NATS client protocol as
// the server speaks it (INFO, MSG, PING, PONG, +OK, -ERR). It is not safe
// for concurrent use.
type natsReader struct {
	r       *bufio.Reader
	scratch []byte
}

func newNATSReader(r *bufio.Reader) *natsReader {
	return &natsReader{r: r, scratch: make([]byte, 0, 256)}
}

// next reads one server operation.
func (nr *natsReader) next() (natsOp, error) {
	l, err := nr.readLine()
	if err != nil {
		return natsOp{}, err
	}
	verb, rest := l, []byte(nil)
	if i := bytes.IndexAny(l, " \t"); i >= 0 {
		verb, rest = l[:i], bytes.TrimLeft(l[i+1:], " \t")
	}
	switch {
	case asciiEq(verb, "MSG"):
		return nr.readMsg(rest)
	case asciiEq(verb, "PING"):
		return natsOp{kind: natsPing}, nil
	case asciiEq(verb, "PONG"):
		return natsOp{kind: natsPong}, nil
	case asciiEq(verb, "+OK"):
		return natsOp{kind: natsOK}, nil
	case asciiEq(verb, "-ERR"):
		return natsOp{kind: natsErr, text: bytes.Trim(rest, "' ")}, nil
	case asciiEq(verb, "INFO"):
		return natsOp{kind: natsInfo, text: rest}, nil
	}
	return natsOp{}, fmt.Errorf("%w: unknown operation %q", errNATSProtocol, clipBytes(verb))
}

// readMsg parses "subject sid [reply] n" (args lies inside scratch) and
// reads the payload and its CRLF.
func (nr *natsReader) readMsg(args []byte) (natsOp, error) {
	// Field boundaries as offsets into scratch, so they survive the grow
	// below. args is a suffix of the control line held in scratch.
	base0 := len(nr.scratch) - len(args)
	var idx [4][2]int
	n := 0
	for i := 0; i < len(args); {
		if args[i] == ' ' || args[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(args) && args[j] != ' ' && args[j] != '\t' {
			j++
		}
		if n == len(idx) {
			return natsOp{}, fmt.Errorf("%w: too many MSG arguments", errNATSProtocol)
		}
		idx[n] = [2]int{base0 + i, base0 + j}
		n++
		i = j
	}
	if n != 3 && n != 4 {
		return natsOp{}, fmt.Errorf("%w: MSG with %d arguments", errNATSProtocol, n)
	}
	size := nr.scratch[idx[n-1][0]:idx[n-1][1]]
	sz, err := strconv.Atoi(string(size))
	if err != nil || sz < 0 || sz > natsMaxPayload {
		return natsOp{}, fmt.Errorf("%w: bad MSG size %q", errNATSProtocol, clipBytes(size))
	}
	base := len(nr.scratch)
	nr.scratch = grow(nr.scratch, sz+2)
	if _, err := io.ReadFull(nr.r, nr.scratch[base:]); err != nil {
		return natsOp{}, noEOF(err)
	}
	if nr.scratch[base+sz] != '\r' || nr.scratch[base+sz+1] != '\n' {
		return natsOp{}, fmt.Errorf("%w: payload not ended by CRLF", errNATSProtocol)
	}
	field := func(k int) []byte { return nr.scratch[idx[k][0]:idx[k][1]] }
	op := natsOp{kind: natsMsg, subject: field(0), sid: field(1), payload: nr.scratch[base : base+sz]}
	if n == 4 {
		op.reply = field(2)
	}
	return op, nil
}

// readLine reads one control line into scratch, without its line ending.
func (nr *natsReader) readLine() ([]byte, error) {
	nr.scratch = nr.scratch[:0]
	for {
		chunk, err := nr.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if len(nr.scratch)+len(chunk) > 0 {
				return nil, noEOF(err)
			}
			return nil, err
		}
		if len(nr.scratch)+len(chunk) > natsMaxControl {
			return nil, fmt.Errorf("%w: control line too long", errNATSProtocol)
		}
		nr.scratch = append(nr.scratch, chunk...)
		if err == nil {
			break
		}
	}
	l := nr.scratch[:len(nr.scratch)-1]
	l = bytes.TrimSuffix(l, []byte{'\r'})
	nr.scratch = l
	return l, nil
}

// asciiEq reports whether b equals the upper-case ASCII word s, ignoring case.
func asciiEq(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// clipBytes shortens untrusted bytes quoted in an error.
func clipBytes(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// appendInt appends the decimal form of n.
func appendInt(dst []byte, n int) []byte { return strconv.AppendInt(dst, int64(n), 10) }
