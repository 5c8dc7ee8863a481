package line

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in               string
		op               Op
		arg, arg2, text  string
		wantUsage, empty bool
	}{
		{in: "hello world", op: OpSay, text: "hello world"},
		{in: "//not a command", op: OpSay, text: "/not a command"},
		{in: "/help", op: OpHelp},
		{in: "/HELP", op: OpHelp},
		{in: "/Nick alice", op: OpNick, arg: "alice"},
		{in: "/nick", wantUsage: true},
		{in: "/nick a b", wantUsage: true},
		{in: "/join lobby", op: OpJoin, arg: "lobby"},
		{in: "/part", op: OpPart},
		{in: "/part lobby", op: OpPart, arg: "lobby"},
		{in: "/rooms", op: OpRooms},
		{in: "/rooms x", wantUsage: true},
		{in: "/who", op: OpWho},
		{in: "/who  lobby ", op: OpWho, arg: "lobby"},
		{in: "/msg bob hi there", op: OpMsg, arg: "bob", text: "hi there"},
		{in: "/msg bob", wantUsage: true},
		{in: "/sub alerts.*", op: OpSub, arg: "alerts.*"},
		{in: "/sub jobs workers", op: OpSub, arg: "jobs", arg2: "workers"},
		{in: "/sub jobs workers extra", wantUsage: true},
		{in: "/sub", wantUsage: true},
		{in: "/unsub a.>", op: OpUnsub, arg: "a.>"},
		{in: "/pub a.b  two  spaces", op: OpPub, arg: "a.b", text: "two  spaces"},
		{in: "/pub a.b", wantUsage: true},
		{in: "/ping", op: OpPing},
		{in: "/ping 42", op: OpPing, text: "42"},
		{in: "/auth s3cret", op: OpAuth, text: "s3cret"},
		{in: "/AUTH  eyJ.a.b ", op: OpAuth, text: "eyJ.a.b"},
		{in: "/auth", wantUsage: true},
		{in: "/auth two words", wantUsage: true},
		{in: "/quit", op: OpQuit},
		{in: "/frobnicate", wantUsage: true},
		{in: "/", wantUsage: true},
		{in: "/ join t1", wantUsage: true},
		{in: "/\tjoin t1", wantUsage: true},
		{in: "/ hello", wantUsage: true},
		{in: "/ ", wantUsage: true},
		{in: " /join t1", op: OpSay, text: " /join t1"},
		{in: "", empty: true},
		{in: "   ", empty: true},
	}
	for _, tt := range tests {
		c, err := ParseCommand([]byte(tt.in))
		switch {
		case tt.empty:
			if !errors.Is(err, ErrEmpty) {
				t.Errorf("%q: err = %v, want ErrEmpty", tt.in, err)
			}
			continue
		case tt.wantUsage:
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("%q: err = %v, want UsageError", tt.in, err)
			}
			continue
		case err != nil:
			t.Errorf("%q: unexpected error %v", tt.in, err)
			continue
		}
		if c.Op != tt.op || string(c.Arg) != tt.arg || string(c.Arg2) != tt.arg2 || string(c.Text) != tt.text {
			t.Errorf("%q: got op=%v arg=%q arg2=%q text=%q", tt.in, c.Op, c.Arg, c.Arg2, c.Text)
		}
	}
}

func TestUsageMentionsHelp(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"/nope", "/nick", "/sub"} {
		_, err := ParseCommand([]byte(in))
		if err == nil || !contains(err.Error(), "/help") {
			t.Errorf("%q: error %v should point to /help", in, err)
		}
	}
}

// TestSpaceAfterSlash: "/ join t1" is refused, not taken as /join, and the
// error shows the right spelling.
func TestSpaceAfterSlash(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/ join t1":  "type /join, not / join",
		"/  PUB a b": "type /pub, not / pub",
		"/ hello":    "no space after '/'",
		"/ ":         "no space after '/'",
	} {
		_, err := ParseCommand([]byte(in))
		var ue *UsageError
		if !errors.As(err, &ue) || !contains(ue.Msg, want) {
			t.Errorf("%q: err = %v, want a usage error containing %q", in, err, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\tok", "tab\tok"},
		{"esc \x1b[31mred", "esc \uFFFD[31mred"},
		{"bell\a", "bell\uFFFD"},
		{"del\x7f", "del\uFFFD"},
		{"c1 \u009b2J", "c1 \uFFFD2J"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8"},
		{"héllo 世界 🎉", "héllo 世界 🎉"},
	}
	for _, tt := range tests {
		got := string(Sanitize(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if Clean([]byte(tt.in)) != (tt.in == tt.want) {
			t.Errorf("Clean(%q) = %v", tt.in, !(tt.in == tt.want))
		}
		if SanitizeString(tt.in) != tt.want {
			t.Errorf("SanitizeString(%q) = %q", tt.in, SanitizeString(tt.in))
		}
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"élan", 32, "élan"},
		{"bad\xffbyte", 32, "bad\uFFFDbyte"},
		{"esc\x1b", 32, "esc\uFFFD"},
		{"abcdef", 4, "abcd..."},
		{"abcé", 4, "abc..."}, // é would straddle the cut: it goes whole
		{"ééé", 5, "éé..."},
	}
	for _, tt := range tests {
		if got := Clip([]byte(tt.in), tt.max); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
	if _, err := ParseCommand([]byte("/é" + strings.Repeat("é", 40))); err == nil || strings.Contains(err.Error(), "\uFFFD") {
		t.Errorf("unknown command with a long accented name: err = %v, want it echoed without U+FFFD", err)
	}
}

func TestServerLineRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want ServerLine
	}{
		{string(AppendInfo(nil, "hello")), ServerLine{Kind: KindInfo, Text: []byte("hello")}},
		{string(AppendError(nil, "nope")), ServerLine{Kind: KindError, Text: []byte("nope")}},
		{string(AppendMessage(nil, "a.b", "alice", "hi: there")), ServerLine{Kind: KindMessage, Topic: []byte("a.b"), From: []byte("alice"), Text: []byte("hi: there")}},
		{string(AppendPrivate(nil, "bob", "psst")), ServerLine{Kind: KindPrivate, From: []byte("bob"), Text: []byte("psst")}},
	}
	for _, tt := range tests {
		l := []byte(tt.line)
		if l[len(l)-1] != '\n' {
			t.Fatalf("%q lacks a newline", tt.line)
		}
		got, err := ParseServerLine(l[:len(l)-1])
		if err != nil {
			t.Fatalf("%q: %v", tt.line, err)
		}
		if got.Kind != tt.want.Kind || string(got.Topic) != string(tt.want.Topic) || string(got.From) != string(tt.want.From) || string(got.Text) != string(tt.want.Text) {
			t.Errorf("%q: got %+v", tt.line, got)
		}
	}
	if n := MessageLen("a.b", "alice", "hi"); n != len(AppendMessage(nil, "a.b", "alice", "hi")) {
		t.Errorf("MessageLen = %d", n)
	}
	for _, bad := range []string{"", "hello", "[nope", "[t] nocolon", "(private) x"} {
		if _, err := ParseServerLine([]byte(bad)); !errors.Is(err, ErrBadServerLine) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestParseCommandAllocs(t *testing.T) {
	in := []byte("/pub metrics.cpu 42 percent")
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCommand(in) }); n != 0 {
		t.Errorf("ParseCommand allocates %v times per call, want 0", n)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"hello", "/nick bob", "/sub a.* g", "/pub a b c", "//x", "/", "/msg", "\x1b[2J", "/PiNg 1", "\xff\xfe", "/join \t lobby", "/ join t1", "/ ", "/\tJOIN", "/sub a.b since=42", "/sub a.* g since=10m", "/sub a since=", "/history a 5", "/ids on", "/join lobby since=3", "/join a since=", "/auth tok", "/auth a b", "/auth"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCommand(in)
		if err != nil {
			var ue *UsageError
			if !errors.Is(err, ErrEmpty) && !errors.As(err, &ue) {
				t.Fatalf("unexpected error type %T", err)
			}
			if ue != nil && !utf8.ValidString(ue.Msg) {
				t.Fatalf("usage error is not valid UTF-8: %q", ue.Msg)
			}
			return
		}
		if c.Op == 0 {
			t.Fatal("zero Op on success")
		}
		clean := Sanitize(nil, c.Text)
		if !Clean(clean) {
			t.Fatalf("Sanitize output not clean: %q", clean)
		}
	})
}

func FuzzParseServerLine(f *testing.F) {
	for _, s := range []string{"* hi", "! no", "[a] b: c", "(private) a: b", "[", "(private) ", "[a#42] b: c", "[a#] b: c", "[#1] b: c", "[a#18446744073709551616] b: c", "[a#01] b: c"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		l, err := ParseServerLine(in)
		if err == nil && l.Kind == KindMessage {
			back := AppendMessage(nil, string(l.Topic), string(l.From), string(l.Text))
			if l.HasSeq {
				back = AppendMessageID(nil, string(l.Topic), l.Seq, string(l.From), string(l.Text))
			}
			if string(back[:len(back)-1]) != string(in) {
				t.Fatalf("round trip %q -> %q", in, back)
			}
		}
	})
}

// TestCleanAgreesWithSanitize checks the fast printable-ASCII path against
// the byte-by-byte definition at every position and length.
func TestCleanAgreesWithSanitize(t *testing.T) {
	t.Parallel()
	specials := []byte{0x00, '\t', 0x1b, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xc3, 0xe2}
	for n := 0; n <= 20; n++ {
		for pos := 0; pos < n; pos++ {
			for _, c := range specials {
				b := []byte("abcdefghijklmnopqrstuvwxyz")[:n]
				b[pos] = c
				want := string(Sanitize(nil, b)) == string(b)
				if got := Clean(b); got != want {
					t.Errorf("Clean(%q) = %v, want %v", b, got, want)
				}
				if got := SanitizeString(string(b)) == string(b); got != want {
					t.Errorf("SanitizeString(%q) unchanged = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func BenchmarkClean(b *testing.B) {
	msg := []byte("42 1732790000000000000 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		if !Clean(msg) {
			b.Fatal("not clean")
		}
	}
}

// BenchmarkParseCommand parses the line a benchmark publisher sends.
func BenchmarkParseCommand(b *testing.B) {
	l := []byte("/pub bench.topic 42 1732790000000000000 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
	for i := 0; i < b.N; i++ {
		c, err := ParseCommand(l)
		if err != nil || c.Op != OpPub {
			b.Fatal(c, err)
		}
	}
}

func TestParseSubSince(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, arg, group, since string
		err                   bool
	}{
		{"/sub a.b since=42", "a.b", "", "42", false},
		{"/sub a.* workers since=10m", "a.*", "workers", "10m", false},
		{"/sub a.b workers", "a.b", "workers", "", false},
		{"/sub a.b since=", "", "", "", true},
		{"/sub since=4", "", "", "", true},
		{"/sub a since=1 g", "", "", "", true},
		{"/sub a g since=1 x", "", "", "", true},
		{"/join lobby since=42", "lobby", "", "42", false},
		{"/join lobby since=9f3a1c07-17", "lobby", "", "9f3a1c07-17", false},
		{"/join lobby", "lobby", "", "", false},
		{"/join lobby since=", "", "", "", true},
		{"/join since=4", "", "", "", true},
		{"/join lobby other", "", "", "", true},
		{"/join lobby since=1 x", "", "", "", true},
	}
	for _, tt := range tests {
		c, err := ParseCommand([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("%q: err %v", tt.in, err)
			continue
		}
		if err == nil && (string(c.Arg) != tt.arg || string(c.Arg2) != tt.group || string(c.Since) != tt.since) {
			t.Errorf("%q: arg %q group %q since %q", tt.in, c.Arg, c.Arg2, c.Since)
		}
	}
	l, err := ParseServerLine([]byte("[a.b#42] bob: hi"))
	if err != nil || string(l.Topic) != "a.b" || l.Seq != 42 || !l.HasSeq {
		t.Errorf("id line parsed as %+v, %v", l, err)
	}
	if got := string(AppendMessageID(nil, "a.b", 42, "bob", "hi")); got != "[a.b#42] bob: hi\n" {
		t.Errorf("AppendMessageID = %q", got)
	}
}
