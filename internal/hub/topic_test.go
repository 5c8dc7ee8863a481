package hub_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

func TestValidateTopic(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", hub.MaxTopicLen)
	tests := []struct {
		in string
		ok bool
	}{
		{"lobby", true},
		{"alerts.disk", true},
		{"a.b.c.d", true},
		{"A-Z_09.x", true},
		{long, true},
		{long + "a", false},
		{"", false},
		{".", false},
		{"a.", false},
		{".a", false},
		{"a..b", false},
		{"a.*", false},
		{"*", false},
		{">", false},
		{"a.>", false},
		{"a b", false},
		{"a/b", false},
		{"é", false},
		{"a\x00", false},
		{"a.\x1b", false},
	}
	for _, tt := range tests {
		err := hub.ValidateTopic(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTopic(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err != nil && !errors.Is(err, hub.ErrBadTopic) {
			t.Errorf("ValidateTopic(%q) = %v, want ErrBadTopic", tt.in, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\x00\x1b") {
			t.Errorf("ValidateTopic(%q) error echoes control characters: %q", tt.in, err)
		}
	}
}

func TestValidatePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		ok      bool
		literal bool
	}{
		{"lobby", true, true},
		{"a.b", true, true},
		{"*", true, false},
		{">", true, false},
		{"a.*", true, false},
		{"*.b", true, false},
		{"a.*.c", true, false},
		{"a.>", true, false},
		{"*.>", true, false},
		{"*.*", true, false},
		{"", false, false},
		{"a.>.b", false, false},
		{">.a", false, false},
		{"a.**", false, false},
		{"a*", false, false},
		{"a>", false, false},
		{"a..b", false, false},
		{"a.", false, false},
		{".", false, false},
		{"a b", false, false},
		{strings.Repeat("*.", 127) + "*", true, false},
		{strings.Repeat("*.", 128) + "*", false, false},
	}
	for _, tt := range tests {
		err := hub.ValidatePattern(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ValidatePattern(%q) = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, hub.ErrBadPattern) {
			t.Errorf("ValidatePattern(%q) = %v, want ErrBadPattern", tt.in, err)
		}
		if tt.ok && hub.IsLiteral(tt.in) != tt.literal {
			t.Errorf("IsLiteral(%q) = %v, want %v", tt.in, !tt.literal, tt.literal)
		}
	}
}

func TestValidateNickAndGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{"alice", true},
		{"A_b-9", true},
		{strings.Repeat("x", hub.MaxNickLen), true},
		{strings.Repeat("x", hub.MaxNickLen+1), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"*", false},
		{"bob!", false},
		{"zoë", false},
	}
	for _, tt := range tests {
		if err := hub.ValidateNick(tt.in); (err == nil) != tt.ok || (err != nil && !errors.Is(err, hub.ErrBadNick)) {
			t.Errorf("ValidateNick(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if err := hub.ValidateGroup(tt.in); (err == nil) != tt.ok || (err != nil && !errors.Is(err, hub.ErrBadGroup)) {
			t.Errorf("ValidateGroup(%q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

// TestErrorsEchoNamesReadably checks how a bad name is quoted back: valid
// UTF-8 as it is, only invalid bytes and control characters replaced, and
// a long name cut at a character boundary.
func TestErrorsEchoNamesReadably(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, echo string }{
		{"élan", `"élan"`},
		{"zoë 世界", `"zoë 世界"`},
		{"a\xffb", `"a?b"`},
		{"esc\x1b[31m", `"esc?[31m"`},
		{"c1\u009b", `"c1?"`},
		{strings.Repeat("é", 30), `"` + strings.Repeat("é", 20) + `..."`},
		{"x" + strings.Repeat("é", 30), `"x` + strings.Repeat("é", 19) + `..."`},
	}
	for _, tt := range tests {
		err := hub.ValidateNick(tt.in)
		if err == nil {
			t.Fatalf("ValidateNick(%q) accepted a bad nick", tt.in)
		}
		msg := err.Error()
		if !strings.Contains(msg, "bad nick "+tt.echo+":") {
			t.Errorf("ValidateNick(%q) = %q, want it to echo %s", tt.in, msg, tt.echo)
		}
		if !utf8.ValidString(msg) {
			t.Errorf("ValidateNick(%q) = %q: not valid UTF-8", tt.in, msg)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, topic string
		want           bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{"a", "a.b", false},
		{"a.b", "a", false},
		{"a.b", "a.b", true},
		{"a.b", "a.bc", false},
		{"a.b", "ab.b", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"a.*", "a", false},
		{"a.*", "a.b", true},
		{"a.*", "a.b.c", false},
		{"a.*", "b.c", false},
		{"*.b", "a.b", true},
		{"*.b", "a.c", false},
		{"a.*.c", "a.x.c", true},
		{"a.*.c", "a.x.d", false},
		{"a.*.c", "a.c", false},
		{">", "a", true},
		{">", "a.b.c", true},
		{"a.>", "a", false},
		{"a.>", "a.b", true},
		{"a.>", "a.b.c", true},
		{"a.>", "b.c", false},
		{"a.>", "ab.c", false},
		{"*.>", "a", false},
		{"*.>", "a.b", true},
		{"*.*", "a.b", true},
		{"*.*", "a.b.c", false},
		{"alerts.*", "alerts.disk", true},
		{"metrics.>", "metrics.cpu.0", true},
	}
	for _, tt := range tests {
		if got := hub.Match(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
		}
		if got := refMatch(tt.pattern, tt.topic); got != tt.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v (the reference is wrong)", tt.pattern, tt.topic, got, tt.want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = hub.Match("a.*.c.>", "a.b.c.d.e") }); n != 0 {
		t.Errorf("Match allocates %v times per call, want 0", n)
	}
}

// refMatch is the obvious token-by-token matcher the fuzz targets compare
// hub.Match with.
func refMatch(pattern, topic string) bool {
	p := strings.Split(pattern, ".")
	tt := strings.Split(topic, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(tt) > i
		}
		if i >= len(tt) {
			return false
		}
		if tok != "*" && tok != tt[i] {
			return false
		}
	}
	return len(p) == len(tt)
}

// refValid is an independent statement of the pattern (wild) and topic rules.
func refValid(s string, wild bool) bool {
	if s == "" || len(s) > hub.MaxTopicLen {
		return false
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		switch {
		case wild && tok == "*":
		case wild && tok == ">":
			if i != len(toks)-1 {
				return false
			}
		case tok == "":
			return false
		default:
			for _, c := range []byte(tok) {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
					return false
				}
			}
		}
	}
	return true
}

// derivedTopics builds concrete topics related to a valid pattern: the
// pattern with wildcards filled in several ways, plus near misses (a token
// dropped or added, one token changed).
func derivedTopics(p string) []string {
	toks := strings.Split(p, ".")
	fill := func(wordFor func(i int) string, extra []string) string {
		out := make([]string, 0, len(toks)+len(extra))
		for i, tok := range toks {
			switch tok {
			case "*":
				out = append(out, wordFor(i))
			case ">":
				out = append(out, wordFor(i))
				out = append(out, extra...)
			default:
				out = append(out, tok)
			}
		}
		return strings.Join(out, ".")
	}
	same := func(int) string { return "x" }
	numbered := func(i int) string { return "w" + string(rune('0'+i%10)) }
	var ts []string
	ts = append(ts, fill(same, nil), fill(numbered, []string{"y", "z"}), fill(same, []string{"q"}))
	lit := fill(same, nil)
	ts = append(ts, lit+".tail")
	if i := strings.LastIndexByte(lit, '.'); i > 0 {
		ts = append(ts, lit[:i])
	}
	// Change the first token.
	first, rest, _ := strings.Cut(lit, ".")
	if rest != "" {
		ts = append(ts, first+"z."+rest)
	} else {
		ts = append(ts, first+"z")
	}
	ts = append(ts, "x", "x.x", "a.b.c")
	var valid []string
	for _, t := range ts {
		if hub.ValidateTopic(t) == nil {
			valid = append(valid, t)
		}
	}
	return valid
}

func FuzzPattern(f *testing.F) {
	for _, s := range []string{"a", "a.b", "*", ">", "a.*", "a.>", "*.b.>", "a.*.c", "a..b", "a.>.b", "", ".", "**", "a b", "\xff", "a.*.*.*.>", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := hub.ValidatePattern(p)
		if (err == nil) != refValid(p, true) {
			t.Fatalf("ValidatePattern(%q) = %v, reference says valid=%v", p, err, refValid(p, true))
		}
		if err != nil {
			if !errors.Is(err, hub.ErrBadPattern) {
				t.Fatalf("ValidatePattern(%q) = %v, want ErrBadPattern", p, err)
			}
			return
		}
		if hub.IsLiteral(p) != (hub.ValidateTopic(p) == nil) {
			t.Fatalf("IsLiteral(%q) = %v disagrees with ValidateTopic", p, hub.IsLiteral(p))
		}
		if hub.IsLiteral(p) && !hub.Match(p, p) {
			t.Fatalf("literal %q does not match itself", p)
		}
		for _, topic := range derivedTopics(p) {
			if got, want := hub.Match(p, topic), refMatch(p, topic); got != want {
				t.Fatalf("Match(%q, %q) = %v, reference %v", p, topic, got, want)
			}
		}
	})
}

func FuzzTopic(f *testing.F) {
	for _, s := range []string{"lobby", "alerts.disk", "a.b.c", "", ".", "a.", "a.*", ">", "a b", "\x1b[2J", "é", strings.Repeat("x", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		err := hub.ValidateTopic(topic)
		if (err == nil) != refValid(topic, false) {
			t.Fatalf("ValidateTopic(%q) = %v, reference says valid=%v", topic, err, refValid(topic, false))
		}
		if err != nil {
			if !errors.Is(err, hub.ErrBadTopic) {
				t.Fatalf("ValidateTopic(%q) = %v, want ErrBadTopic", topic, err)
			}
			return
		}
		// A valid topic is a valid literal pattern matching itself, and
		// every pattern built from it by wildcarding agrees with the
		// reference matcher.
		if hub.ValidatePattern(topic) != nil || !hub.IsLiteral(topic) || !hub.Match(topic, topic) {
			t.Fatalf("topic %q is not a literal pattern matching itself", topic)
		}
		toks := strings.Split(topic, ".")
		var patterns []string
		for i := range toks {
			star := append([]string(nil), toks...)
			star[i] = "*"
			patterns = append(patterns, strings.Join(star, "."))
			patterns = append(patterns, strings.Join(append(append([]string(nil), toks[:i]...), ">"), "."))
		}
		patterns = append(patterns, ">", "*", topic+".>", "*."+topic)
		for _, p := range patterns {
			if hub.ValidatePattern(p) != nil {
				continue
			}
			if got, want := hub.Match(p, topic), refMatch(p, topic); got != want {
				t.Fatalf("Match(%q, %q) = %v, reference %v", p, topic, got, want)
			}
		}
	})
}
