package session_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// newHistoryEnv is newEnv with a history store keeping keep per topic.
func newHistoryEnv(keep int) (*env, *history.Store) {
	st := history.New(history.Config{Keep: keep})
	h := hub.New(hub.Config{ReservedNicks: []string{"http"}, History: st})
	return &env{hub: h, reg: session.NewRegistry(h, session.Limits{})}, st
}

// messageTexts returns the texts of the message frames on topic, in order,
// and the other frames.
func messageTexts(frames []string, topic string) (texts, other []string) {
	for _, f := range frames {
		for _, l := range strings.Split(strings.TrimSuffix(f, "\n"), "\n") {
			sl, err := line.ParseServerLine([]byte(l))
			if err == nil && sl.Kind == line.KindMessage && string(sl.Topic) == topic {
				texts = append(texts, string(sl.Text))
			} else {
				other = append(other, l)
			}
		}
	}
	return texts, other
}

// TestResumeSeamExactlyOnce: a session resumes with since=K while a
// publisher keeps publishing; it must get K+1 … N exactly once and in
// order, whatever the replay and the live stream overlapped.
func TestResumeSeamExactlyOnce(t *testing.T) {
	t.Parallel()
	e, _ := newHistoryEnv(100000)
	for round := 0; round < 20; round++ {
		topic := fmt.Sprintf("seam.%d", round)
		const n = 1000 // a replay within history.MaxReplay
		k := 100 + round*37
		var wg sync.WaitGroup
		started := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= n; i++ {
				if i == k+50 {
					close(started)
				}
				if _, err := e.reg.Publish(session.Visitor{Door: "test", Nick: "pub"}, topic, strconv.Itoa(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		<-started
		s, tr := e.open(t, session.Config{})
		if err := s.Do(session.Request{Op: session.OpSub, Arg: topic, Since: strconv.Itoa(k)}); err != nil {
			t.Fatalf("resume refused: %v", err)
		}
		wg.Wait()
		testkit.Eventually(t, "the resumed session gets every message after since=", func() bool {
			got, _ := messageTexts(tr.frames(), topic)
			if len(got) < n-k {
				t.Logf("round %d since=%d: %d of %d; first %v last %v", round, k, len(got), n-k, got[:min(3, len(got))], got[max(0, len(got)-3):])
			}
			return len(got) >= n-k
		})
		got, other := messageTexts(tr.frames(), topic)
		for i, text := range got {
			if want := strconv.Itoa(k + 1 + i); text != want {
				t.Fatalf("round %d since=%d: message %d is %q, want %q (got %d messages; around: %v; frames %q)", round, k, i, text, want, len(got), got[max(0, i-3):min(len(got), i+3)], tr.frames()[:min(4, len(tr.frames()))])
			}
		}
		if len(got) != n-k {
			t.Fatalf("round %d: got %d messages, want %d", round, len(got), n-k)
		}
		for _, l := range other {
			if strings.HasPrefix(l, "!") {
				t.Fatalf("round %d: unexpected %q", round, l)
			}
		}
	}
}

// TestResumeGapMarker: a position older than what is kept gives the
// marker first, then what is kept.
func TestResumeGapMarker(t *testing.T) {
	t.Parallel()
	e, _ := newHistoryEnv(10)
	for i := 1; i <= 25; i++ {
		if _, err := e.reg.Publish(session.Visitor{Nick: "pub"}, "gap", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	s, tr := e.open(t, session.Config{})
	if err := s.Do(session.Request{Op: session.OpSub, Arg: "gap", Since: "3"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the kept 10 replayed", func() bool {
		got, _ := messageTexts(tr.frames(), "gap")
		return len(got) == 10
	})
	got, other := messageTexts(tr.frames(), "gap")
	if got[0] != "16" || got[9] != "25" {
		t.Fatalf("replayed %v", got)
	}
	want := []string{"* subscribed gap", "! missed 12 messages on gap"}
	if strings.Join(other, "|") != strings.Join(want, "|") {
		t.Fatalf("other lines %q, want %q", other, want)
	}
}

func TestResumeStalePosition(t *testing.T) {
	t.Parallel()
	e, _ := newHistoryEnv(10)
	if _, err := e.reg.Publish(session.Visitor{Nick: "pub"}, "t", "one"); err != nil {
		t.Fatal(err)
	}
	s, tr := e.open(t, session.Config{})
	if err := s.Do(session.Request{Op: session.OpSub, Arg: "t", Since: "7@0000beef"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "what is kept replayed", func() bool {
		got, _ := messageTexts(tr.frames(), "t")
		return len(got) == 1
	})
	_, other := messageTexts(tr.frames(), "t")
	if len(other) != 2 || other[1] != "! history for t was lost (epoch changed)" {
		t.Fatalf("lines %q", other)
	}
}

func TestHistoryOperation(t *testing.T) {
	t.Parallel()
	e, _ := newHistoryEnv(10)
	for i := 1; i <= 5; i++ {
		if _, err := e.reg.Publish(session.Visitor{Nick: "pub"}, "room", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	s, tr := e.open(t, session.Config{})
	if err := s.Do(session.Request{Op: session.OpHistory, Arg: "room", Text: "3"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Do(session.Request{Op: session.OpHistory, Arg: "room", Text: "zero"}); err == nil {
		t.Fatal("a bad count was accepted")
	}
	testkit.Eventually(t, "history and its end", func() bool { return len(tr.frames()) >= 5 })
	got, other := messageTexts(tr.frames(), "room")
	if strings.Join(got, " ") != "3 4 5" || other[0] != "* end of history room" {
		t.Fatalf("history %q then %q", got, other)
	}
}

func TestSinceWithoutHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, _ := e.open(t, session.Config{})
	err := s.Do(session.Request{Op: session.OpSub, Arg: "t", Since: "1"})
	if err == nil || !strings.Contains(err.Text, "no history") {
		t.Fatalf("since= without history: %v", err)
	}
	// A join works, and says that nothing can be replayed unless it
	// asked for "all" (the chat app's first join).
	s2, tr := e.open(t, session.Config{})
	if err := s2.Do(session.Request{Op: session.OpJoin, Arg: "r", Since: "all"}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Do(session.Request{Op: session.OpJoin, Arg: "q", Since: "5"}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the answers", func() bool { return len(tr.frames()) == 3 })
	if f := tr.frames(); strings.Contains(f[0], "history") || !strings.Contains(f[2], "cannot be replayed") {
		t.Fatalf("joins without history: %q", f)
	}
}

// TestSlowConsumerSaysWhereToResume: a session that uses positions and is
// cut as a slow consumer is told, per topic, the last message it surely
// got; resuming from there loses nothing.
func TestSlowConsumerSaysWhereToResume(t *testing.T) {
	t.Parallel()
	e, _ := newHistoryEnv(1000)
	pub := session.Visitor{Nick: "pub"}
	if _, err := e.reg.Publish(pub, "t", "1"); err != nil {
		t.Fatal(err)
	}
	s, tr := e.open(t, session.Config{MaxPending: 1000})
	s.Do(session.Request{Op: session.OpIDs, Arg: "on"})
	s.Do(session.Request{Op: session.OpSub, Arg: "t", Since: "0"})
	testkit.Eventually(t, "the replay", func() bool { got, _ := messageTexts(tr.frames(), "t"); return len(got) == 1 })
	tr.block()
	if _, err := e.reg.Publish(pub, "t", "2"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the writer to block", tr.writing)
	for i := 3; i < 100 && s.Reason() == session.ReasonNone; i++ {
		if _, err := e.reg.Publish(pub, "t", strconv.Itoa(i)+strings.Repeat("x", 50)); err != nil {
			t.Fatal(err)
		}
	}
	tr.unblock()
	testkit.Eventually(t, "transport closed", tr.isClosed)
	<-s.Done()
	frames := tr.frames()
	last := frames[len(frames)-1]
	// #2 was in flight when the queue overflowed: not surely delivered.
	if want := "! slow consumer, disconnecting; last delivered: t#1; come back with /sub TOPIC since=SEQ\n"; last != want {
		t.Fatalf("last line %q, want %q", last, want)
	}
}

// unorderedHistory is a history whose remote messages keep the numbering
// they come with and may come out of order, as the cluster's history in
// JetStream gives them (session.UnorderedReader).
type unorderedHistory struct{ *history.Store }

func (u unorderedHistory) Record(m *hub.Message, remote bool) bool {
	return remote || u.Store.Record(m, false)
}

func (unorderedHistory) Unordered() bool { return true }

// TestResumeSeamUnordered: with an unordered history, a message numbered
// before the resume's read that arrives live after a newer one is not
// given twice.
func TestResumeSeamUnordered(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Keep: 100})
	h := hub.New(hub.Config{ReservedNicks: []string{"http"}, History: unorderedHistory{st}})
	e := &env{hub: h, reg: session.NewRegistry(h, session.Limits{})}
	for i := 1; i <= 5; i++ {
		if _, err := e.reg.Publish(session.Visitor{Door: "test", Nick: "pub"}, "t", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	top, _ := st.Top("t")
	s, tr := e.open(t, session.Config{})
	if err := s.Do(session.Request{Op: session.OpSub, Arg: "t", Since: "2"}); err != nil {
		t.Fatalf("resume refused: %v", err)
	}
	remote := func(seq uint64) {
		h.DeliverRemote(&hub.Message{Kind: hub.KindMessage, Topic: "t", From: "far", Text: strconv.FormatUint(seq, 10),
			Seq: seq, Epoch: top.Epoch, SenderNode: 7}, "")
	}
	remote(7) // published elsewhere after the read …
	remote(5) // … before which a message replayed already comes late
	remote(6)
	testkit.Eventually(t, "the messages", func() bool {
		got, _ := messageTexts(tr.frames(), "t")
		return len(got) >= 5
	})
	got, _ := messageTexts(tr.frames(), "t")
	if want := []string{"3", "4", "5", "7", "6"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", got, want)
	}
}
