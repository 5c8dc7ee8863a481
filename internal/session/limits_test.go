package session_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// exchange runs reqs on s, then a ping barrier, and returns the frames the
// requests produced (the barrier's pong left out) and the code of the
// last refusal.
func exchange(t *testing.T, s *session.Session, tr *fakeTransport, reqs ...session.Request) ([]string, session.Code) {
	t.Helper()
	before := len(tr.frames())
	var code session.Code
	for _, r := range reqs {
		if e := s.Do(r); e != nil {
			code = e.Code
		}
	}
	token := fmt.Sprint("barrier", before)
	s.Do(session.Request{Op: session.OpPing, Text: token})
	var got []string
	testkit.Eventually(t, "the barrier", func() bool {
		if r := s.Reason(); r != session.ReasonNone {
			t.Fatalf("the session ended (%v) before the barrier", r)
		}
		f := tr.frames()
		if len(f) > 0 && f[len(f)-1] == "* pong "+token+"\n" {
			got = f[before : len(f)-1]
			return true
		}
		return false
	})
	return got, code
}

// TestCaps: subscriptions and rooms are capped per session, rooms
// counting as subscriptions; a refusal has CodeTooMany and names the cap;
// a rejoin at the cap is not refused; a freed place can be taken again.
func TestCaps(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{MaxSubs: 4, MaxRooms: 2})
	sub := func(p string) session.Request { return session.Request{Op: session.OpSub, Arg: p} }
	join := func(r string) session.Request { return session.Request{Op: session.OpJoin, Arg: r} }
	steps := []struct {
		req  session.Request
		want string
		code session.Code
	}{
		{sub("a"), "* subscribed a\n", 0},
		{join("r1"), "* joined r1 (1 here)\n", 0},
		{join("r2"), "* joined r2 (1 here)\n", 0},
		{join("r3"), "! too many rooms (max 2)\n", session.CodeTooMany},
		{join("r1"), "* now talking in r1 (1 here)\n", 0},
		{sub("b"), "* subscribed b\n", 0},
		{sub("c"), "! too many subscriptions (max 4)\n", session.CodeTooMany},
		{session.Request{Op: session.OpSub, Arg: "c", Arg2: "g"}, "! too many subscriptions (max 4)\n", session.CodeTooMany},
		{session.Request{Op: session.OpUnsub, Arg: "a"}, "* unsubscribed a\n", 0},
		{sub("c"), "* subscribed c\n", 0},
		{session.Request{Op: session.OpPart, Arg: "r2"}, "* left r2; now talking in r1\n", 0},
		{join("r3"), "* joined r3 (1 here)\n", 0},
		{join("r4"), "! too many rooms (max 2)\n", session.CodeTooMany},
	}
	for _, st := range steps {
		got, code := exchange(t, s, tr, st.req)
		if len(got) != 1 || got[0] != st.want || code != st.code {
			t.Errorf("%v %q: got %q (code %v), want %q (code %v)", st.req.Op, st.req.Arg, got, code, st.want, st.code)
		}
	}
}

// TestCapsDefaultAndOff: the default cap is DefaultMaxSubs; a negative
// one is no cap.
func TestCapsDefaultAndOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max, n  int
		refused bool
	}{
		{0, session.DefaultMaxSubs + 1, true},
		{-1, session.DefaultMaxSubs + 1, false},
	} {
		e := newEnv(session.Limits{})
		s, tr := e.open(t, session.Config{MaxSubs: tc.max, MaxPending: 1 << 24})
		reqs := make([]session.Request, tc.n)
		for i := range reqs {
			reqs[i] = session.Request{Op: session.OpSub, Arg: fmt.Sprint("t", i)}
		}
		got, _ := exchange(t, s, tr, reqs...)
		last := got[len(got)-1]
		want := fmt.Sprintf("* subscribed t%d\n", tc.n-1)
		if tc.refused {
			want = fmt.Sprintf("! too many subscriptions (max %d)\n", session.DefaultMaxSubs)
		}
		if len(got) != tc.n || last != want {
			t.Errorf("MaxSubs %d: %d subscribes gave %d frames ending %q, want %q", tc.max, tc.n, len(got), last, want)
		}
	}
}

// TestCheckSubs is the up-front form of the cap, for doors that take a
// list at once.
func TestCheckSubs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  session.Config
		n    int
		want string
	}{
		{session.Config{}, session.DefaultMaxSubs, ""},
		{session.Config{}, session.DefaultMaxSubs + 1, fmt.Sprintf("too many subscriptions (max %d)", session.DefaultMaxSubs)},
		{session.Config{MaxSubs: 2}, 3, "too many subscriptions (max 2)"},
		{session.Config{MaxSubs: -1}, 1 << 20, ""},
	} {
		e := tc.cfg.CheckSubs(tc.n)
		got := ""
		if e != nil {
			got = e.Text
			if e.Code != session.CodeTooMany {
				t.Errorf("code %v", e.Code)
			}
		}
		if got != tc.want {
			t.Errorf("%+v CheckSubs(%d) = %q, want %q", tc.cfg, tc.n, got, tc.want)
		}
	}
}

// TestCommandBudget: every request but publishing ones and quit draws on
// the command budget; past it they are refused with CodeRateLimited and
// nothing else happens; publishing is not touched by it.
func TestCommandBudget(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{CommandRate: 0.001, CommandBurst: 4})
	got, _ := exchange(t, s, tr,
		session.Request{Op: session.OpRooms},
		session.Request{Op: session.OpSub, Arg: "a"},
		session.Request{Op: session.OpPub, Arg: "a", Text: "x"},
		session.Request{Op: session.OpWho, Arg: "r"},
	) // the barrier's ping is the fourth command
	want := []string{"* no rooms yet\n", "* subscribed a\n", "* r: nobody here\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("within the budget: %q, want %q", got, want)
	}
	for _, op := range []session.Op{session.OpRooms, session.OpWho, session.OpSub, session.OpJoin, session.OpNick, session.OpHelp, session.OpPing, session.OpUnsub, session.OpPart} {
		before := len(tr.frames())
		e := s.Do(session.Request{Op: op, Arg: "b"})
		if e == nil || e.Code != session.CodeRateLimited {
			t.Errorf("%v past the budget: refusal %v, want rate_limited", op, e)
		}
		testkit.Eventually(t, "the refusal", func() bool { return len(tr.frames()) > before })
		if f := tr.frames()[before]; f != "! rate limited: at most 0.001 commands a second\n" {
			t.Errorf("%v past the budget: %q", op, f)
		}
	}
	if subs := e.reg.Stats().RateLimited; subs != 9 {
		t.Errorf("RateLimited = %d, want 9", subs)
	}
	// Publishing is not a command.
	if e := s.Do(session.Request{Op: session.OpPub, Arg: "a", Text: "y"}); e != nil {
		t.Errorf("publish refused: %v", e)
	}
	if e := s.Do(session.Request{Op: session.OpQuit}); e != nil {
		t.Errorf("quit refused: %v", e)
	}
	<-s.Done()
}

// TestListingsAreBounded (issue 11, point 5): rooms and who show the first
// MaxList entries in name order and say how many more there are.
func TestListingsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{MaxList: 3})
	for _, n := range []string{"e", "b", "d", "a", "c"} {
		m, mtr := e.open(t, session.Config{})
		exchange(t, m, mtr, session.Request{Op: session.OpNick, Arg: "n" + n}, session.Request{Op: session.OpJoin, Arg: "room." + n}, session.Request{Op: session.OpJoin, Arg: "all"})
	}
	for _, tc := range []struct {
		req  session.Request
		want string
	}{
		{session.Request{Op: session.OpRooms}, "* 6 rooms: all (5), room.a (1), room.b (1), … and 3 more\n"},
		{session.Request{Op: session.OpWho, Arg: "all"}, "* all: na, nb, nc, … and 2 more (5)\n"},
		{session.Request{Op: session.OpWho, Arg: "room.c"}, "* room.c: nc (1)\n"},
	} {
		if got, _ := exchange(t, s, tr, tc.req); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%v: %q, want %q", tc.req.Op, got, tc.want)
		}
	}
}

// TestListingNeverCutsTheAsker (issue 11, point 5): whatever the hub
// holds, a listing's answer stays within an eighth of the asker's queue
// limit, so asking never makes a client a slow consumer.
func TestListingNeverCutsTheAsker(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	const maxPending = 4096
	s, tr := e.open(t, session.Config{MaxPending: maxPending, MaxList: -1})
	maker, mtr := e.open(t, session.Config{MaxRooms: -1, MaxSubs: -1, MaxPending: 1 << 20})
	long := strings.Repeat("x", 200)
	reqs := make([]session.Request, 100)
	for i := range reqs {
		reqs[i] = session.Request{Op: session.OpJoin, Arg: fmt.Sprintf("%s%03d", long, i)}
	}
	exchange(t, maker, mtr, reqs...) // 100 rooms, 20 KB of names
	got, _ := exchange(t, s, tr, session.Request{Op: session.OpRooms}, session.Request{Op: session.OpWho, Arg: long + "000"})
	if len(got) != 2 || s.Reason() != session.ReasonNone || e.reg.Stats().SlowConsumers != 0 {
		t.Fatalf("the asker: %d frames, reason %v, %d slow consumers", len(got), s.Reason(), e.reg.Stats().SlowConsumers)
	}
	if len(got[0]) > maxPending/8+64 || !strings.HasPrefix(got[0], "* 100 rooms: "+long+"000 (1), ") || !strings.HasSuffix(got[0], " more\n") {
		t.Errorf("rooms: %d bytes: %.80q…", len(got[0]), got[0])
	}
}

// TestListingCostsInProportion (point 4): a listing costs one command
// token plus one per 100 entries the hub looked at, so flooding the
// listing of a big hub runs out of budget sooner.
func TestListingCostsInProportion(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	maker, mtr := e.open(t, session.Config{MaxRooms: -1, MaxSubs: -1, CommandRate: -1, MaxPending: 1 << 24})
	reqs := make([]session.Request, 300)
	for i := range reqs {
		reqs[i] = session.Request{Op: session.OpJoin, Arg: fmt.Sprint("room", i)}
	}
	exchange(t, maker, mtr, reqs...)
	s, tr := e.open(t, session.Config{CommandRate: 0.001, CommandBurst: 10})
	// 10 tokens; each listing of 300 rooms takes 4: three are answered
	// (the third into debt), the fourth is refused.
	for i := range 4 {
		before := len(tr.frames())
		refused := s.Do(session.Request{Op: session.OpRooms}) != nil
		testkit.Eventually(t, "the answer", func() bool { return len(tr.frames()) > before })
		if want := i == 3; refused != want {
			t.Errorf("listing %d: refused %v, want %v (%.40q)", i, refused, want, tr.frames()[before])
		}
	}
}

// TestSoftPendingLimit (issue 11, point 10): a client whose queue stays
// over the soft limit for longer than the grace is cut as a slow
// consumer, though far under the hard limit; one that goes over and
// drains is not, however often it does.
func TestSoftPendingLimit(t *testing.T) {
	t.Parallel()
	const soft, grace = 200, 50 * time.Millisecond
	e := newEnv(session.Limits{})
	cfg := session.Config{MaxPending: 1 << 20, PendingSoft: soft, PendingSoftFor: grace}

	// Over and back under, again and again: never cut.
	s, tr := e.open(t, cfg)
	for range 5 {
		tr.block()
		for range 10 {
			s.Info(strings.Repeat("y", 40)) // 10 × 43 bytes: over the soft limit
		}
		time.Sleep(grace / 2)
		tr.unblock()
		testkit.Eventually(t, "the queue to drain", func() bool { return s.QueuedBytes() == 0 })
	}
	if r := s.Reason(); r != session.ReasonNone {
		t.Fatalf("a client that drains was cut: %v", r)
	}

	// Over and staying over: cut after the grace, with the notice.
	slow, str := e.open(t, cfg)
	str.block()
	start := time.Now()
	for i := 0; slow.Reason() == session.ReasonNone && i < 10000; i++ {
		slow.Info("x")
		time.Sleep(time.Millisecond)
	}
	if r := slow.Reason(); r != session.ReasonSlowConsumer || time.Since(start) < grace {
		t.Fatalf("after %v over the soft limit: reason %v, want slow_consumer after the grace", time.Since(start), r)
	}
	if e.reg.Stats().SlowConsumers != 1 {
		t.Errorf("SlowConsumers = %d, want 1", e.reg.Stats().SlowConsumers)
	}
	str.unblock()
	testkit.Eventually(t, "the notice", func() bool {
		f := str.frames()
		return len(f) > 0 && f[len(f)-1] == "! slow consumer, disconnecting\n"
	})
}
