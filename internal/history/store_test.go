package history_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable test clock.
type clock struct{ t int64 }

func (c *clock) now() int64 { return c.t }

// record publishes n messages on topic at the clock's time, advancing it
// by step after each.
func record(t *testing.T, st *history.Store, c *clock, topic string, n int, step time.Duration) []*hub.Message {
	t.Helper()
	var out []*hub.Message
	for i := 0; i < n; i++ {
		m := &hub.Message{Kind: hub.KindMessage, Topic: topic, From: "a", Text: fmt.Sprintf("m%d", i), Time: c.t}
		if !st.Record(m, false) {
			t.Fatalf("topic %s keeps no history", topic)
		}
		out = append(out, m)
		c.t += int64(step)
	}
	return out
}

func seqs(ms []*hub.Message) []uint64 {
	out := make([]uint64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func TestRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      history.Config
		n        int
		step     time.Duration
		wantKept int
		wantFrom uint64 // first seq kept
	}{
		{"count", history.Config{Keep: 10}, 25, time.Millisecond, 10, 16},
		{"age", history.Config{Keep: 100, MaxAge: time.Minute}, 30, 10 * time.Second, 7, 24},
		{"bytes", history.Config{Keep: 1000, MaxBytes: 20 * (history.Size(&hub.Message{Topic: "t", From: "a", Text: "m10"}))}, 50, time.Millisecond, 19, 32},
		{"rule", history.Config{Keep: 100, Rules: []history.Rule{{Pattern: "t", Keep: 3}}}, 10, time.Millisecond, 3, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{t: int64(time.Hour)}
			tt.cfg.Now = c.now
			st := history.New(tt.cfg)
			record(t, st, c, "t", tt.n, tt.step)
			c.t -= int64(tt.step)
			res := st.Read([]string{"t"}, history.Since{Kind: history.SinceAll}, 0)
			if len(res.Msgs) != tt.wantKept || res.Msgs[0].Seq != tt.wantFrom {
				t.Fatalf("kept %v, want %d from %d", seqs(res.Msgs), tt.wantKept, tt.wantFrom)
			}
			stats := st.Stats()
			if got := stats.Trimmed + stats.Evicted; got != uint64(tt.n-tt.wantKept) {
				t.Errorf("trimmed+evicted = %d, want %d", got, tt.n-tt.wantKept)
			}
			if tt.name == "bytes" && stats.Evicted == 0 {
				t.Errorf("byte cap evicted nothing: %+v", stats)
			}
			if stats.Bytes > st.Stats().Bytes || (tt.cfg.MaxBytes > 0 && stats.Bytes > tt.cfg.MaxBytes) {
				t.Errorf("bytes %d over the cap %d", stats.Bytes, tt.cfg.MaxBytes)
			}
		})
	}
}

func TestByteCapEvictsOldestOfAnyTopic(t *testing.T) {
	t.Parallel()
	c := &clock{t: 1}
	one := history.Size(&hub.Message{Topic: "a", From: "a", Text: "m0"})
	st := history.New(history.Config{Keep: 100, MaxBytes: 12 * one, Now: c.now})
	record(t, st, c, "a", 5, time.Millisecond)
	record(t, st, c, "b", 10, time.Millisecond)
	a := st.Read([]string{"a"}, history.Since{Kind: history.SinceAll}, 0)
	b := st.Read([]string{"b"}, history.Since{Kind: history.SinceAll}, 0)
	if len(b.Msgs) != 10 || len(a.Msgs) >= 5 {
		t.Fatalf("a kept %v, b kept %v: want a's oldest evicted first", seqs(a.Msgs), seqs(b.Msgs))
	}
}

func TestKeepNoneLeavesNumberingToTheHub(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Keep: 10, Rules: []history.Rule{{Pattern: "metrics.>", Keep: 0}}})
	m := &hub.Message{Topic: "metrics.cpu", Text: "x"}
	if st.Record(m, false) || m.Seq != 0 || m.Epoch != 0 {
		t.Fatalf("metrics.cpu recorded: %+v", m)
	}
	if !st.Keeps("alerts") || st.Keeps("metrics.cpu") {
		t.Fatal("Keeps disagrees with the rules")
	}
	// From a node that keeps it: its number stays, its epoch and journal
	// place (the other node's) go.
	r := &hub.Message{Topic: "metrics.cpu", Text: "x", Seq: 7, Epoch: 9, Journal: 70}
	if st.Record(r, true) || r.Seq != 7 || r.Epoch != 0 || r.Journal != 0 {
		t.Fatalf("remote metrics.cpu: %+v", r)
	}
}

func TestEpochs(t *testing.T) {
	t.Parallel()
	c := &clock{t: 1}
	st1 := history.New(history.Config{Keep: 10, Now: c.now})
	st2 := history.New(history.Config{Keep: 10, Now: c.now})
	m1 := record(t, st1, c, "t", 1, 0)[0]
	m2 := record(t, st2, c, "t", 1, 0)[0]
	if m1.Epoch == 0 || m1.Epoch == m2.Epoch || st1.Epoch() == st2.Epoch() {
		t.Fatalf("epochs %x %x (stores %x %x): want non-zero and new per store", m1.Epoch, m2.Epoch, st1.Epoch(), st2.Epoch())
	}
	// A position from the other store's epoch is stale: everything kept,
	// and the loss said.
	res := st2.Read([]string{"t"}, history.Since{Kind: history.SinceSeq, Seq: 1, Epoch: m1.Epoch}, 0)
	if len(res.Gaps) != 1 || !res.Gaps[0].Lost || len(res.Msgs) != 1 {
		t.Fatalf("read with another epoch: %+v", res)
	}
	res = st2.Read([]string{"t"}, history.Since{Kind: history.SinceSeq, Seq: 5}, 0)
	if len(res.Gaps) != 1 || !res.Gaps[0].Lost {
		t.Fatalf("a seq past the top must say the numbering restarted: %+v", res)
	}
}

func TestReadSince(t *testing.T) {
	t.Parallel()
	c := &clock{t: int64(time.Hour)}
	st := history.New(history.Config{Keep: 10, Now: c.now})
	record(t, st, c, "a.x", 15, time.Second) // keeps 6..15
	record(t, st, c, "a.y", 3, time.Second)  // keeps 1..3
	tests := []struct {
		name     string
		patterns []string
		since    history.Since
		limit    int
		want     string // topic#seq list
		gaps     string
	}{
		{"seq in ring", []string{"a.x"}, history.Since{Kind: history.SinceSeq, Seq: 12}, 0, "a.x#13 a.x#14 a.x#15", ""},
		{"seq at top", []string{"a.x"}, history.Since{Kind: history.SinceSeq, Seq: 15}, 0, "", ""},
		{"seq older than kept", []string{"a.x"}, history.Since{Kind: history.SinceSeq, Seq: 2}, 2, "a.x#14 a.x#15", "a.x:missed 11"},
		{"seq bigger than ring", []string{"a.x"}, history.Since{Kind: history.SinceSeq, Seq: 3}, 0, "a.x#6 a.x#7 a.x#8 a.x#9 a.x#10 a.x#11 a.x#12 a.x#13 a.x#14 a.x#15", "a.x:missed 2"},
		{"wildcard time", []string{"a.*"}, history.Since{Kind: history.SinceTime, Time: int64(time.Hour) + int64(14*time.Second)}, 0, "a.x#15 a.y#1 a.y#2 a.y#3", ""},
		{"last", []string{"a.*"}, history.Since{Kind: history.SinceLast, Last: 1}, 0, "a.x#15 a.y#3", ""},
		{"journal", []string{"a.>"}, history.Since{Kind: history.SinceJournal, Epoch: st.Epoch(), Journal: 14}, 0, "a.x#15 a.y#1 a.y#2 a.y#3", ""},
		{"journal older than kept", []string{"a.x"}, history.Since{Kind: history.SinceJournal, Epoch: st.Epoch(), Journal: 1}, 1, "a.x#15", "a.x:missed 9"},
		{"journal of another epoch", []string{"a.y"}, history.Since{Kind: history.SinceJournal, Epoch: st.Epoch() + 2, Journal: 1}, 0, "a.y#1 a.y#2 a.y#3", "a.y:lost"},
		{"unknown topic", []string{"nope"}, history.Since{Kind: history.SinceSeq, Seq: 4}, 0, "", "nope:lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := st.Read(tt.patterns, tt.since, tt.limit)
			var got []string
			for _, m := range res.Msgs {
				got = append(got, fmt.Sprintf("%s#%d", m.Topic, m.Seq))
			}
			var gaps []string
			for _, g := range res.Gaps {
				switch {
				case g.Lost:
					gaps = append(gaps, g.Topic+":lost")
				default:
					gaps = append(gaps, fmt.Sprintf("%s:missed %d", g.Topic, g.Missed))
				}
			}
			if strings.Join(got, " ") != tt.want || strings.Join(gaps, " ") != tt.gaps {
				t.Errorf("got %q gaps %q, want %q gaps %q", got, gaps, tt.want, tt.gaps)
			}
		})
	}
}

func TestRemoteDuplicateKeepsItsNumber(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Keep: 10})
	in := func() *hub.Message { return &hub.Message{Topic: "t", Text: "x", SenderNode: 7, Seq: 40, Epoch: 99} }
	a, b := in(), in()
	st.Record(a, true)
	st.Record(b, true)
	if a.Seq != 1 || b.Seq != 1 || b.Journal != a.Journal {
		t.Fatalf("copies numbered %d and %d", a.Seq, b.Seq)
	}
	if n := st.Stats().Messages; n != 1 {
		t.Fatalf("kept %d copies", n)
	}
}

func TestManyTopicsStayUnderTheCap(t *testing.T) {
	t.Parallel()
	const max = 256 << 10
	st := history.New(history.Config{Keep: 100, MaxBytes: max})
	for i := 0; i < 20000; i++ {
		st.Record(&hub.Message{Topic: fmt.Sprintf("flood.%d", i), Text: "x"}, false)
	}
	s := st.Stats()
	if s.Bytes > max || s.Forgotten == 0 {
		t.Fatalf("stats %+v: want under %d bytes with forgotten topics", s, max)
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := int64(2_000_000_000) * int64(time.Second)
	tests := []struct {
		in      string
		literal bool
		want    history.Since
		err     bool
	}{
		{"all", false, history.Since{Kind: history.SinceAll}, false},
		{"42", true, history.Since{Kind: history.SinceSeq, Seq: 42}, false},
		{"42@0000beef", true, history.Since{Kind: history.SinceSeq, Seq: 42, Epoch: 0xbeef}, false},
		{"42@0000beef", false, history.Since{}, true},
		{"42", false, history.Since{Kind: history.SinceTime, Time: 42 * int64(time.Second)}, false},
		{"1764660000", true, history.Since{Kind: history.SinceTime, Time: 1764660000 * int64(time.Second)}, false},
		{"10m", false, history.Since{Kind: history.SinceTime, Time: now - int64(10*time.Minute)}, false},
		{"0000beef-17", false, history.Since{Kind: history.SinceJournal, Epoch: 0xbeef, Journal: 17}, false},
		{"-5m", false, history.Since{}, true},
		{"", true, history.Since{}, true},
		{"yesterday", true, history.Since{}, true},
		{"00000000-1", true, history.Since{}, true},
		{"42@xyz", true, history.Since{}, true},
	}
	for _, tt := range tests {
		got, err := history.ParseSince(tt.in, tt.literal, now)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSince(%q, %v) = %+v, %v; want %+v, error %v", tt.in, tt.literal, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, history.ErrBadSince) {
			t.Errorf("ParseSince(%q): error %v does not wrap ErrBadSince", tt.in, err)
		}
	}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want history.Rule
		err  bool
	}{
		{"alerts.>=1000/24h", history.Rule{Pattern: "alerts.>", Keep: 1000, MaxAge: 24 * time.Hour}, false},
		{"metrics.>=0", history.Rule{Pattern: "metrics.>", Keep: 0}, false},
		{"a.b", history.Rule{}, true},
		{"a..b=1", history.Rule{}, true},
		{"a=x", history.Rule{}, true},
		{"a=1/soon", history.Rule{}, true},
		{"a=-1", history.Rule{}, true},
		{"prices.>=10/drop-oldest", history.Rule{Pattern: "prices.>", Keep: 10, Policy: history.PolicyDropOldest}, false},
		{"prices.>=0/1m/drop-oldest", history.Rule{Pattern: "prices.>", Keep: 0, MaxAge: time.Minute, Policy: history.PolicyDropOldest}, false},
		{"a=1/1m/disconnect", history.Rule{Pattern: "a", Keep: 1, MaxAge: time.Minute}, false},
		{"a=1/drop-oldest/1m", history.Rule{}, true},
		{"a=1/1m/1h", history.Rule{}, true},
		{"a=1/", history.Rule{}, true},
		{"a=1/1m/drop-newest", history.Rule{}, true},
		{"a=1/1m/drop-oldest/x", history.Rule{}, true},
	}
	for _, tt := range tests {
		got, err := history.ParseRule(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"all", "42", "42@0000beef", "10m", "1764660000", "0000beef-17", "", "-", "@", "1h-2", "99999999999999999999"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, literal bool) {
		got, err := history.ParseSince(s, literal, int64(time.Hour))
		if err != nil {
			if !errors.Is(err, history.ErrBadSince) || got != (history.Since{}) {
				t.Fatalf("ParseSince(%q): %+v, %v", s, got, err)
			}
			return
		}
		if got.Kind == history.SinceSeq && !literal {
			t.Fatalf("ParseSince(%q) gave a sequence for a pattern", s)
		}
		if got.Kind == history.SinceJournal {
			back, err := history.ParseSince(history.FormatID(got.Epoch, got.Journal), literal, 0)
			if err != nil || back != got {
				t.Fatalf("id %q does not round-trip: %+v, %v", s, back, err)
			}
		}
	})
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"alerts.>=1000/24h", "metrics.>=0", "a=1/1s", "=", "a=", "a=1/", "p.>=10/drop-oldest", "p=0/1m/drop-oldest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := history.ParseRule(s)
		if err != nil {
			if !errors.Is(err, history.ErrBadRule) {
				t.Fatalf("ParseRule(%q): %v", s, err)
			}
			return
		}
		if r.Validate() != nil || hub.ValidatePattern(r.Pattern) != nil || r.Keep < 0 || r.MaxAge < 0 {
			t.Fatalf("ParseRule(%q) = %+v", s, r)
		}
	})
}

// TestHubNumbering: the hub's topic cache forgets idle topics, but a
// topic that keeps history is numbered by the store, so its sequence runs
// on through a flood of other topics; the flood's topics (kept none by a
// rule) are numbered by the hub.
func TestHubNumbering(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Keep: 10, Rules: []history.Rule{{Pattern: "flood.>", Keep: 0}}})
	h := hub.New(hub.Config{History: st})
	pub := func(topic string) *hub.Message {
		m := &hub.Message{Topic: topic, From: "x", Text: "t"}
		h.Publish(m)
		return m
	}
	first := pub("kept")
	for i := 0; i < hub.DefaultMaxCachedTopics+100; i++ {
		if m := pub(fmt.Sprintf("flood.%d", i)); m.Seq != 1 || m.Epoch != 0 {
			t.Fatalf("flood topic numbered %d epoch %x", m.Seq, m.Epoch)
		}
	}
	second := pub("kept")
	if first.Seq != 1 || second.Seq != 2 || second.Epoch != first.Epoch || first.Epoch == 0 {
		t.Fatalf("kept topic numbered %d then %d (epochs %x %x)", first.Seq, second.Seq, first.Epoch, second.Epoch)
	}
	if first.Journal == 0 || second.Journal <= first.Journal {
		t.Fatalf("journal %d then %d", first.Journal, second.Journal)
	}
	pm := &hub.Message{Kind: hub.KindPrivate, To: "x", Text: "secret"}
	h.DeliverRemote(pm, "")
	if n := st.Stats().Messages; n != 2 {
		t.Fatalf("store keeps %d messages, want the 2 on kept (no private ones)", n)
	}
}

// TestRestore: messages a durable store gives back keep their numbering
// and epoch; what is missing before the first one is a gap, one out of
// order or of another epoch is skipped, and the journal goes on from the
// highest place restored.
func TestRestore(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Keep: 3})
	const ep = 0x1234abcd
	for _, m := range []*hub.Message{
		{Topic: "t", Text: "a", Seq: 4, Epoch: ep, Journal: 10, Time: time.Now().UnixNano()},
		{Topic: "t", Text: "b", Seq: 5, Epoch: ep, Journal: 11, Time: time.Now().UnixNano()},
		{Topic: "t", Text: "old", Seq: 5, Epoch: ep, Journal: 12, Time: time.Now().UnixNano()},  // not after 5
		{Topic: "t", Text: "other", Seq: 6, Epoch: 7, Journal: 13, Time: time.Now().UnixNano()}, // another epoch
	} {
		st.Restore(m)
	}
	st.RestoreJournal(0x55, 13)
	res := st.Read([]string{"t"}, history.Since{Kind: history.SinceSeq, Seq: 1, Epoch: ep}, 0)
	if len(res.Msgs) != 2 || res.Msgs[0].Text != "a" || res.Msgs[1].Text != "b" {
		t.Fatalf("restored %+v", res.Msgs)
	}
	if len(res.Gaps) != 1 || res.Gaps[0].Missed != 2 || res.Gaps[0].Lost {
		t.Fatalf("gaps %+v, want 2 missed (2 and 3)", res.Gaps)
	}
	m := &hub.Message{Kind: hub.KindMessage, Topic: "t", Text: "c", Time: time.Now().UnixNano()}
	st.Record(m, false)
	if m.Seq != 6 || m.Epoch != ep || m.Journal != 14 || st.Epoch() != 0x55 {
		t.Fatalf("next message numbered %d@%x journal %d, store epoch %x", m.Seq, m.Epoch, m.Journal, st.Epoch())
	}
}
