package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// respString renders a reader's flattened value list for comparison:
// kind, number and text of each element.
func respString(rr *respReader, vals []respValue) string {
	var b strings.Builder
	for _, v := range vals {
		switch v.kind {
		case '+', '-':
			fmt.Fprintf(&b, "%c%q ", v.kind, rr.text(v))
		case '$':
			if v.num < 0 {
				b.WriteString("$nil ")
			} else {
				fmt.Fprintf(&b, "$%q ", rr.text(v))
			}
		default:
			fmt.Fprintf(&b, "%c%d ", v.kind, v.num)
		}
	}
	return strings.TrimSpace(b.String())
}

// readAllRESP reads values until an error, returning their renderings and
// the final error.
func readAllRESP(r io.Reader, bufSize int) ([]string, error) {
	rr := newRESPReader(bufio.NewReaderSize(r, bufSize))
	var out []string
	for {
		v, err := rr.next()
		if err != nil {
			return out, err
		}
		out = append(out, respString(rr, v))
	}
}

func TestRESPReader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
		err  error // final error; io.EOF for a clean end
	}{
		{"message", "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$3\r\nhi!\r\n", []string{`*3 $"message" $"bench" $"hi!"`}, io.EOF},
		{"subscribe reply", "*3\r\n$9\r\nsubscribe\r\n$1\r\nt\r\n:1\r\n", []string{`*3 $"subscribe" $"t" :1`}, io.EOF},
		{"simple and int", "+PONG\r\n:42\r\n:-7\r\n-ERR bad\r\n", []string{`+"PONG"`, ":42", ":-7", `-"ERR bad"`}, io.EOF},
		{"null and empty", "$-1\r\n$0\r\n\r\n*0\r\n*-1\r\n", []string{"$nil", `$""`, "*0", "*-1"}, io.EOF},
		{"binary payload", "$4\r\na\r\nb\r\n", []string{`$"a\r\nb"`}, io.EOF},
		{"nested", "*2\r\n*1\r\n:1\r\n$1\r\nx\r\n", []string{`*2 *1 :1 $"x"`}, io.EOF},
		{"truncated bulk", "$5\r\nab", nil, io.ErrUnexpectedEOF},
		{"truncated array", "*2\r\n:1\r\n", nil, io.ErrUnexpectedEOF},
		{"bad type", "?x\r\n", nil, errRESPProtocol},
		{"bad int", ":1x\r\n", nil, errRESPProtocol},
		{"missing CRLF after bulk", "$1\r\nab\r\n", nil, errRESPProtocol},
		{"huge bulk", "$999999999999\r\n", nil, errRESPProtocol},
		{"huge array", "*99999999\r\n", nil, errRESPProtocol},
		{"simple without CR", "+OK\n", nil, errRESPProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Whole input, then one byte per read with the smallest
			// buffer, so every value is split across reads.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAllRESP(r, 16)
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

func TestRESPCommand(t *testing.T) {
	t.Parallel()
	got := string(appendRESPCommand(nil, []byte("SUBSCRIBE"), []byte("t.1")))
	if want := "*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\nt.1\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	pub := redisProtocol{}
	p, err := pub.publisher(nopConn{}, bufio.NewReader(strings.NewReader("")))
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	vals, err := readAllRESP(bytes.NewReader(p.codec.appendPub(nil, "t", []byte("x y"))), 64)
	if !errors.Is(err, io.EOF) || len(vals) != 1 || vals[0] != `*3 $"PUBLISH" $"t" $"x y"` {
		t.Errorf("PUBLISH encodes as %q (%v)", vals, err)
	}
}

func FuzzRESPReader(f *testing.F) {
	for _, s := range []string{
		"*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$3\r\nhi!\r\n",
		"+PONG\r\n:42\r\n-ERR x\r\n$-1\r\n*-1\r\n",
		"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n",
		"$5\r\nab", ":-\r\n", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := readAllRESP(bytes.NewReader(in), 4096)
		split, err2 := readAllRESP(iotest.OneByteReader(bytes.NewReader(in)), 16)
		if strings.Join(whole, "|") != strings.Join(split, "|") {
			t.Fatalf("split reads disagree:\n%q\n%q", whole, split)
		}
		if (err1 == io.EOF) != (err2 == io.EOF) {
			t.Fatalf("split reads end differently: %v vs %v", err1, err2)
		}
		// Whatever parses must survive re-encoding in canonical form
		// ("-0" and "007" are accepted but not canonical).
		if err1 == io.EOF {
			var buf bytes.Buffer
			rr := newRESPReader(bufio.NewReader(bytes.NewReader(in)))
			for {
				v, err := rr.next()
				if err != nil {
					break
				}
				encodeRESP(&buf, rr, v)
			}
			again, err := readAllRESP(bytes.NewReader(buf.Bytes()), 4096)
			if err != io.EOF || strings.Join(again, "|") != strings.Join(whole, "|") {
				t.Fatalf("re-encoding %q as %q parses as %q (%v), want %q", in, buf.Bytes(), again, err, whole)
			}
		}
	})
}

// encodeRESP re-encodes a flattened value list in canonical form.
func encodeRESP(b *bytes.Buffer, rr *respReader, vals []respValue) {
	for _, v := range vals {
		switch v.kind {
		case '+', '-':
			fmt.Fprintf(b, "%c%s\r\n", v.kind, rr.text(v))
		case ':', '*':
			fmt.Fprintf(b, "%c%d\r\n", v.kind, v.num)
		case '$':
			if v.num < 0 {
				fmt.Fprintf(b, "$%d\r\n", v.num)
			} else {
				fmt.Fprintf(b, "$%d\r\n%s\r\n", v.num, rr.text(v))
			}
		}
	}
}
