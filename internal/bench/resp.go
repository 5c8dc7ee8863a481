package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// RESP2 limits: bench only ever sees small pub/sub frames, so anything much
// bigger is a protocol error rather than something to buffer.
const (
	respMaxBulk  = 64 << 20
	respMaxArray = 1 << 16
	respMaxDepth = 8
)

// errRESPProtocol is wrapped by every RESP framing error.
var errRESPProtocol = errors.New("bench: resp protocol error")

// respValue is one RESP2 value in a respReader's flattened, pre-order
// result. An array of n elements is followed by its n elements (each
// possibly an array itself).
type respValue struct {
	kind byte  // '+', '-', ':', '$' or '*'
	num  int64 // the integer of ':'; the length of '$' and '*' (-1 = null)
	// start and end locate the text of '+', '-' and '$' in the reader's
	// scratch buffer; use respReader.text.
	start, end int
}

// respReader is a minimal streaming RESP2 reader. It reuses its buffers:
// the values and texts returned by next are valid until the following call.
// It is not safe for concurrent use.
type respReader struct {
	r       *bufio.Reader
	vals    []respValue
	scratch []byte
}

func newRESPReader(r *bufio.Reader) *respReader {
	return &respReader{r: r, vals: make([]respValue, 0, 8), scratch: make([]byte, 0, 256)}
}

// text returns the bytes of a '+', '-' or '$' value.
func (rr *respReader) text(v respValue) []byte { return rr.scratch[v.start:v.end] }

// next reads one complete top-level value.
func (rr *respReader) next() ([]respValue, error) {
	rr.vals = rr.vals[:0]
	rr.scratch = rr.scratch[:0]
	if err := rr.readValue(0); err != nil {
		return nil, err
	}
	return rr.vals, nil
}

func (rr *respReader) readValue(depth int) error {
	if depth > respMaxDepth {
		return fmt.Errorf("%w: nesting deeper than %d", errRESPProtocol, respMaxDepth)
	}
	kind, err := rr.r.ReadByte()
	if err != nil {
		return err
	}
	switch kind {
	case '+', '-':
		start := len(rr.scratch)
		if err := rr.readLine(); err != nil {
			return err
		}
		rr.vals = append(rr.vals, respValue{kind: kind, start: start, end: len(rr.scratch)})
		return nil
	case ':', '$', '*':
	default:
		return fmt.Errorf("%w: unexpected type byte %q", errRESPProtocol, kind)
	}
	n, err := rr.readInt()
	if err != nil {
		return err
	}
	switch kind {
	case ':':
		rr.vals = append(rr.vals, respValue{kind: kind, num: n})
	case '$':
		if n < -1 || n > respMaxBulk {
			return fmt.Errorf("%w: bulk length %d", errRESPProtocol, n)
		}
		start := len(rr.scratch)
		if n >= 0 && rr.r.Buffered() >= int(n)+2 {
			// Fast path: the whole bulk and its CRLF are buffered.
			b, _ := rr.r.Peek(int(n) + 2)
			if b[n] != '\r' || b[n+1] != '\n' {
				return fmt.Errorf("%w: bulk string not ended by CRLF", errRESPProtocol)
			}
			rr.scratch = append(rr.scratch, b[:n]...)
			_, _ = rr.r.Discard(int(n) + 2)
			rr.vals = append(rr.vals, respValue{kind: kind, num: n, start: start, end: len(rr.scratch)})
			return nil
		}
		if n > 0 {
			rr.scratch = grow(rr.scratch, int(n))
			if _, err := io.ReadFull(rr.r, rr.scratch[start:]); err != nil {
				return noEOF(err)
			}
		}
		if n >= 0 {
			if err := rr.readCRLF(); err != nil {
				return err
			}
		}
		rr.vals = append(rr.vals, respValue{kind: kind, num: n, start: start, end: len(rr.scratch)})
	case '*':
		if n < -1 || n > respMaxArray {
			return fmt.Errorf("%w: array length %d", errRESPProtocol, n)
		}
		rr.vals = append(rr.vals, respValue{kind: kind, num: n})
		for i := int64(0); i < n; i++ {
			if err := rr.readValue(depth + 1); err != nil {
				return noEOF(err)
			}
		}
	}
	return nil
}

// readLine appends the rest of a simple line, without CRLF, to scratch.
func (rr *respReader) readLine() error {
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return noEOF(err)
		}
		if len(rr.scratch)+len(chunk) > respMaxBulk {
			return fmt.Errorf("%w: line too long", errRESPProtocol)
		}
		rr.scratch = append(rr.scratch, chunk...)
		if err == nil {
			break
		}
	}
	n := len(rr.scratch)
	if n < 2 || rr.scratch[n-2] != '\r' {
		return fmt.Errorf("%w: line not ended by CRLF", errRESPProtocol)
	}
	rr.scratch = rr.scratch[:n-2]
	return nil
}

// readInt reads a decimal integer ended by CRLF. It scans whole buffered
// chunks rather than single bytes: this is the hot path of every message.
func (rr *respReader) readInt() (int64, error) {
	var n int64
	neg, digits, cr := false, 0, false
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, noEOF(err)
		}
		for _, c := range chunk {
			switch {
			case cr:
				// Only the '\n' ending the chunk may follow '\r'.
				if c != '\n' {
					return 0, fmt.Errorf("%w: got %q, want '\\n'", errRESPProtocol, c)
				}
				if neg {
					n = -n
				}
				return n, nil
			case c == '-' && digits == 0 && !neg:
				neg = true
			case c >= '0' && c <= '9':
				if digits >= 18 {
					return 0, fmt.Errorf("%w: integer too long", errRESPProtocol)
				}
				n = n*10 + int64(c-'0')
				digits++
			case c == '\r' && digits > 0:
				cr = true
			default:
				return 0, fmt.Errorf("%w: bad integer byte %q", errRESPProtocol, c)
			}
		}
	}
}

func (rr *respReader) readCRLF() error {
	if err := rr.expect('\r'); err != nil {
		return err
	}
	return rr.expect('\n')
}

func (rr *respReader) expect(want byte) error {
	c, err := rr.r.ReadByte()
	if err != nil {
		return noEOF(err)
	}
	if c != want {
		return fmt.Errorf("%w: got %q, want %q", errRESPProtocol, c, want)
	}
	return nil
}

// grow extends b by n bytes, reallocating when needed.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// noEOF turns an EOF in the middle of a frame into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendRESPCommand appends a RESP array of bulk strings to dst.
func appendRESPCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = appendInt(dst, len(args))
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = appendRESPBulk(dst, a)
	}
	return dst
}

// appendRESPBulk appends one bulk string to dst.
func appendRESPBulk(dst, a []byte) []byte {
	dst = append(dst, '$')
	dst = appendInt(dst, len(a))
	dst = append(dst, '\r', '\n')
	dst = append(dst, a...)
	return append(dst, '\r', '\n')
}
