package webfront

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

func TestDecodeFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    session.Request
		wantErr string // substring; "" means success
		errOp   session.Op
	}{
		{"nick", `{"op":"nick","nick":"ann"}`, session.Request{Op: session.OpNick, Arg: "ann"}, "", 0},
		{"join", `{"op":"join","room":"lobby"}`, session.Request{Op: session.OpJoin, Arg: "lobby"}, "", 0},
		{"part without room", `{"op":"part"}`, session.Request{Op: session.OpPart}, "", 0},
		{"who", `{"op":"who","room":"lobby"}`, session.Request{Op: session.OpWho, Arg: "lobby"}, "", 0},
		{"rooms", `{"op":"rooms"}`, session.Request{Op: session.OpRooms}, "", 0},
		{"say", `{"op":"say","text":"hi"}`, session.Request{Op: session.OpSay, Text: "hi"}, "", 0},
		{"pub", `{"op":"pub","topic":"a.b","text":"hi there"}`, session.Request{Op: session.OpPub, Arg: "a.b", Text: "hi there"}, "", 0},
		{"msg", `{"op":"msg","to":"bob","text":"psst"}`, session.Request{Op: session.OpMsg, Arg: "bob", Text: "psst"}, "", 0},
		{"sub", `{"op":"sub","topic":"a.>"}`, session.Request{Op: session.OpSub, Arg: "a.>"}, "", 0},
		{"sub group", `{"op":"sub","topic":"jobs.*","group":"w"}`, session.Request{Op: session.OpSub, Arg: "jobs.*", Arg2: "w"}, "", 0},
		{"unsub", `{"op":"unsub","topic":"a.>"}`, session.Request{Op: session.OpUnsub, Arg: "a.>"}, "", 0},
		{"ping", `{"op":"ping","text":"42"}`, session.Request{Op: session.OpPing, Text: "42"}, "", 0},
		{"quit", `{"op":"quit"}`, session.Request{Op: session.OpQuit}, "", 0},
		{"unknown fields ignored", `{"op":"rooms","x":1}`, session.Request{Op: session.OpRooms}, "", 0},
		{"not json", `hello`, session.Request{}, "not valid JSON", 0},
		{"array", `[1,2]`, session.Request{}, "JSON object", 0},
		{"two objects", `{"op":"rooms"}{"op":"rooms"}`, session.Request{}, "one JSON object per frame", 0},
		{"no op", `{"nick":"x"}`, session.Request{}, `missing "op"`, 0},
		{"unknown op", `{"op":"dance"}`, session.Request{}, `unknown op "dance"`, 0},
		{"number field", `{"op":"pub","topic":"a","text":5}`, session.Request{}, `field "text" must be a string`, 0},
		{"join without room", `{"op":"join"}`, session.Request{}, `join needs "room"`, session.OpJoin},
		{"pub without text", `{"op":"pub","topic":"a"}`, session.Request{}, `pub needs "text"`, session.OpPub},
		{"pub without topic", `{"op":"pub","text":"x"}`, session.Request{}, `pub needs "topic"`, session.OpPub},
		{"msg without to", `{"op":"msg","text":"x"}`, session.Request{}, `msg needs "to"`, session.OpMsg},
		{"sub without topic", `{"op":"sub"}`, session.Request{}, `sub needs "topic"`, session.OpSub},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeFrame([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeFrame(%s) error %v", tc.in, err)
				}
				if got != tc.want {
					t.Fatalf("DecodeFrame(%s) = %+v, want %+v", tc.in, got, tc.want)
				}
				return
			}
			fe, ok := err.(*FrameError)
			if !ok {
				t.Fatalf("DecodeFrame(%s) error %v (%T), want *FrameError", tc.in, err, err)
			}
			if !strings.Contains(fe.Msg, tc.wantErr) || fe.Op != tc.errOp {
				t.Fatalf("DecodeFrame(%s) error %q op %v, want %q op %v", tc.in, fe.Msg, fe.Op, tc.wantErr, tc.errOp)
			}
		})
	}
}

// FuzzDecodeFrame checks that no frame crashes the decoder and that every
// accepted frame carries what its op needs.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"op":"nick","nick":"ann"}`, `{"op":"join","room":"lobby"}`, `{"op":"pub","topic":"a.b","text":"hi"}`,
		`{"op":"sub","topic":"a.>","group":"g"}`, `{"op":"msg","to":"bob","text":"x"}`, `{"op":"ping"}`,
		`{"op":"dance"}`, `{}`, `[]`, `null`, `{"op":1}`, `{"op":"pub","text":"\u0000\u001b[31m"}`, "{\"op\":\"say\",\"text\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeFrame(b)
		if err != nil {
			if _, ok := err.(*FrameError); !ok {
				t.Fatalf("error %T, want *FrameError", err)
			}
			if r != (session.Request{}) {
				t.Fatalf("error with non-zero request %+v", r)
			}
			return
		}
		switch r.Op {
		case session.OpNick, session.OpJoin, session.OpSub, session.OpUnsub:
			if r.Arg == "" {
				t.Fatalf("%v accepted without its argument", r.Op)
			}
		case session.OpPub, session.OpMsg:
			if r.Arg == "" || r.Text == "" {
				t.Fatalf("%v accepted without argument or text", r.Op)
			}
		case session.OpSay:
			if r.Text == "" {
				t.Fatal("say accepted without text")
			}
		case session.OpPart, session.OpWho, session.OpRooms, session.OpPing, session.OpHelp, session.OpQuit:
		default:
			t.Fatalf("unexpected op %v", r.Op)
		}
	})
}

func TestEncodeFrames(t *testing.T) {
	t.Parallel()
	three := 3
	tests := []struct {
		name string
		got  []byte
		want serverFrame
	}{
		{"msg", encodeMessage(&hub.Message{Kind: hub.KindMessage, Topic: "lobby", From: "ann", Text: "hi <b>", Seq: 7, Time: 2e9}),
			serverFrame{Op: "msg", Topic: "lobby", From: "ann", Text: "hi <b>", Seq: 7, TS: 2000}},
		{"private", encodeMessage(&hub.Message{Kind: hub.KindPrivate, From: "ann", To: "bob", Text: "psst", Time: 1e6}),
			serverFrame{Op: "private", From: "ann", To: "bob", Text: "psst", TS: 1}},
		{"join", encodeMessage(&hub.Message{Kind: hub.KindJoin, Topic: "lobby", From: "ann"}),
			serverFrame{Op: "event", Kind: "join", Room: "lobby", Nick: "ann", Text: "ann joined lobby"}},
		{"part", encodeMessage(&hub.Message{Kind: hub.KindPart, Topic: "lobby", From: "ann"}),
			serverFrame{Op: "event", Kind: "part", Room: "lobby", Nick: "ann", Text: "ann left lobby"}},
		{"nick", encodeMessage(&hub.Message{Kind: hub.KindNick, From: "ann", Text: "anna"}),
			serverFrame{Op: "event", Kind: "nick", Nick: "ann", New: "anna", Text: "ann is now known as anna"}},
		{"join reply", encodeReply(session.Reply{Op: session.OpJoin, Room: "lobby", Count: 3, Text: "joined lobby (3 here)"}),
			serverFrame{Op: "info", Re: "join", Room: "lobby", Count: &three, Text: "joined lobby (3 here)"}},
		// Listings carry their entries once, in members or rooms; the
		// text only counts them.
		{"who reply", encodeReply(session.Reply{Op: session.OpWho, Room: "x", Members: []string{"a", "b", "c"}, Count: 3, Text: "x: a, b, c (3)"}),
			serverFrame{Op: "info", Re: "who", Room: "x", Members: []string{"a", "b", "c"}, Count: &three, Text: "x: 3 here"}},
		{"who reply, cut", encodeReply(session.Reply{Op: session.OpWho, Room: "x", Members: []string{"a", "b"}, Count: 3, More: 1, Text: "x: a, b, … and 1 more (3)"}),
			serverFrame{Op: "info", Re: "who", Room: "x", Members: []string{"a", "b"}, Count: &three, More: 1, Text: "x: 3 here, first 2 listed"}},
		{"rooms reply, cut", encodeReply(session.Reply{Op: session.OpRooms, Rooms: []session.RoomCount{{Room: "a", Members: 2}}, Count: 3, More: 2, Text: "3 rooms: a (2), … and 2 more"}),
			serverFrame{Op: "info", Re: "rooms", Rooms: []session.RoomCount{{Room: "a", Members: 2}}, Count: &three, More: 2, Text: "3 rooms, first 1 listed"}},
		{"error reply", encodeReply(session.Reply{Op: session.OpPub, Error: true, Topic: "a..b", Text: "bad topic"}),
			serverFrame{Op: "error", Re: "pub", Topic: "a..b", Text: "bad topic"}},
		{"nick error", encodeReply(session.Reply{Op: session.OpNick, Error: true, Topic: "bob", Text: "nick bob is taken"}),
			serverFrame{Op: "error", Re: "nick", Nick: "bob", Text: "nick bob is taken"}},
		{"join error", encodeReply(session.Reply{Op: session.OpJoin, Error: true, Topic: "a..b", Text: "bad topic"}),
			serverFrame{Op: "error", Re: "join", Room: "a..b", Text: "bad topic"}},
		{"final notice", encodeReply(session.Reply{Text: "server shutting down", Final: session.ReasonShutdown}),
			serverFrame{Op: "info", Text: "server shutting down", Final: "shutdown"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got serverFrame
			if err := json.Unmarshal(tc.got, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", tc.got, err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(tc.want)
			if string(a) != string(b) {
				t.Fatalf("got  %s\nwant %s", a, b)
			}
		})
	}
}

func TestSSECodec(t *testing.T) {
	t.Parallel()
	m := &hub.Message{Kind: hub.KindMessage, Topic: "alerts.disk", From: "http", Text: "disk full", Seq: 1, Time: 1e6}
	fs, err := registerFormats(frames.NewFormats())
	if err != nil {
		t.Fatal(err)
	}
	sc := sseCodec{f: fs}
	got := string(sc.Message(m))
	want := "event: msg\ndata: {\"op\":\"msg\",\"topic\":\"alerts.disk\",\"from\":\"http\",\"text\":\"disk full\",\"seq\":1,\"ts\":1}\n\n"
	if got != want {
		t.Fatalf("SSE message\n got %q\nwant %q", got, want)
	}
	if got := string(sc.Reply(session.Reply{Op: session.OpSub, Text: "subscribed a.>"})); got != ": subscribed a.>\n\n" {
		t.Fatalf("SSE sub reply = %q", got)
	}
	if got := string(encodeReply(session.Reply{Op: session.OpSub, Topic: "a.>", Text: "subscribed a.>"})); !strings.Contains(got, `"topic":"a.>"`) {
		t.Fatalf("patterns must not be HTML-escaped: %s", got)
	}
	if got := string(sc.Reply(session.Reply{Text: "x\ny"})); got != ": x y\n\n" {
		t.Fatalf("SSE comment with newline = %q", got)
	}
	if got := string(sc.Reply(session.Reply{Error: true, Text: "slow consumer", Final: session.ReasonSlowConsumer})); !strings.HasPrefix(got, "event: error\ndata: {") {
		t.Fatalf("SSE final error = %q", got)
	}
}
