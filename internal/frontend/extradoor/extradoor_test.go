// Package extradoor_test proves the seams of the session layer: a door
// written here, outside hub and session, with a wire format of its own
// (JSON lines), joins the same topics and rooms as the TCP door. Nothing in
// hub or session knows about it; it registers its format with the
// registry's Formats table and maps its syntax onto session operations.
package extradoor_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// jsonlDoor is the whole door: a listener, one reader goroutine per
// connection, a codec and a transport.
type jsonlDoor struct {
	reg   *session.Registry
	ln    net.Listener
	codec jsonlCodec
	wg    sync.WaitGroup
}

func listenJSONL(t *testing.T, reg *session.Registry) *jsonlDoor {
	t.Helper()
	f, err := reg.Formats().Register("jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &jsonlDoor{reg: reg, ln: ln, codec: jsonlCodec{f}}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() { _ = ln.Close(); d.wg.Wait() })
	return d
}

func (d *jsonlDoor) serve() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.wg.Add(1)
		go d.serveConn(c)
	}
}

// serveConn maps each line {"op":…,"arg":…,"arg2":…,"text":…} onto a
// session request.
func (d *jsonlDoor) serveConn(c net.Conn) {
	defer d.wg.Done()
	s := session.New(d.reg, session.Config{Door: "jsonl", RemoteAddr: c.RemoteAddr().String()}, &connTransport{c: c}, d.codec)
	reason := session.ReasonClientGone
	defer s.EndServing(&reason)
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var in struct{ Op, Arg, Arg2, Text string }
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			s.Refuse(0, &session.Error{Code: session.CodeBadRequest, Text: "bad JSON"})
			continue
		}
		op, ok := session.OpByName(in.Op)
		if !ok {
			s.Refuse(0, &session.Error{Code: session.CodeUnknownOp, Text: "unknown op " + in.Op})
			continue
		}
		s.BeginBatch()
		s.Do(session.Request{Op: op, Arg: in.Arg, Arg2: in.Arg2, Text: in.Text})
		s.EndBatch()
	}
}

// connTransport is session.Transport over a net.Conn.
type connTransport struct{ c net.Conn }

func (t *connTransport) WriteBatch(fr [][]byte) error {
	b := net.Buffers(fr)
	_, err := b.WriteTo(t.c)
	return err
}
func (t *connTransport) SetWriteDeadline(d time.Time) error { return t.c.SetWriteDeadline(d) }
func (t *connTransport) Close(session.CloseReason) error    { return t.c.Close() }

// jsonlCodec writes one JSON object per line.
type jsonlCodec struct{ f *frames.Format }

func (c jsonlCodec) Format() *frames.Format { return c.f }
func (jsonlCodec) Message(m *hub.Message) []byte {
	return jsonLine(map[string]any{"kind": m.Kind.String(), "topic": m.Topic, "from": m.From, "text": m.Text, "seq": m.Seq})
}
func (jsonlCodec) Reply(r session.Reply) []byte {
	out := map[string]any{"re": r.Op.String(), "text": r.Text}
	if r.Error {
		out["error"] = r.Code.String()
	}
	if len(r.Commands) > 0 {
		var ops []string
		for _, c := range r.Commands {
			ops = append(ops, c.Op.String())
		}
		out["commands"] = ops
	}
	return jsonLine(out)
}

func jsonLine(v any) []byte {
	b, _ := json.Marshal(v)
	return append(b, '\n')
}

// client is a line-oriented test client for either door.
type client struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, rd: bufio.NewReader(c)}
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, line+"\n"); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads lines until one contains want.
func (c *client) expect(want string) string {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := c.rd.ReadString('\n')
		if err != nil {
			c.t.Fatalf("waiting for %q: %v", want, err)
		}
		if strings.Contains(l, want) {
			return l
		}
	}
}

func TestExtraDoorMeetsTCPDoor(t *testing.T) {
	h := hub.New(hub.Config{})
	reg := session.NewRegistry(h, session.Limits{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tcp, err := tcpfront.Listen(tcpfront.Config{Addr: "127.0.0.1:0", Logger: quiet}, reg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- tcp.Serve() }()
	t.Cleanup(func() {
		_ = tcp.Close()
		<-done
		tcp.Wait()
	})
	jd := listenJSONL(t, reg)

	j := dial(t, jd.ln.Addr().String())
	j.send(`{"op":"sub","arg":"news.*"}`)
	j.expect(`"text":"subscribed news.*"`)
	j.send(`{"op":"join","arg":"lobby"}`)
	j.expect(`joined lobby`)

	l := dial(t, tcp.Addr().String())
	l.expect("Welcome")
	l.send("/join lobby")
	l.expect("* joined lobby (2 here)")
	j.expect(`"kind":"join"`)

	// Line → JSON lines: a publication and a room message, encoded by the
	// new door's own codec.
	l.send("/pub news.today hello from nc")
	j.expect(`{"from":`)
	l.send("hi room")
	got := j.expect(`"topic":"lobby"`)
	if !strings.Contains(got, `"text":"hi room"`) || !strings.Contains(got, `"kind":"msg"`) {
		t.Errorf("room message %q", got)
	}
	// JSON lines → line.
	j.send(`{"op":"say","text":"hello nc"}`)
	if got := l.expect("[lobby] "); !strings.HasSuffix(got, ": hello nc\n") {
		t.Errorf("line client got %q", got)
	}
	// Help and refusals are the session's, in the new door's own form.
	j.send(`{"op":"help"}`)
	if h := j.expect(`"commands"`); !strings.Contains(h, `"quit"`) {
		t.Errorf("help %q", h)
	}
	j.send(`{"op":"pub","arg":"a.*","text":"x"}`)
	j.expect(`"error":"bad_name"`)
}
