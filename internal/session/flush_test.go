package session

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

func TestUnwritten(t *testing.T) {
	t.Parallel()
	frames := func() [][]byte { return [][]byte{[]byte("abc"), []byte("de"), []byte("fghi")} }
	tests := []struct {
		n        int
		wantRest []string
		wantSent int
	}{
		{0, []string{"abc", "de", "fghi"}, 0},
		{2, []string{"c", "de", "fghi"}, 0},
		{3, []string{"de", "fghi"}, 1},
		{6, []string{"ghi"}, 2},
		{9, nil, 3},
	}
	for _, tt := range tests {
		rest, sent := unwritten(frames(), tt.n)
		var got []string
		for _, r := range rest {
			got = append(got, string(r))
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.wantRest) || sent != tt.wantSent {
			t.Errorf("n=%d: rest %q sent %d, want %q %d", tt.n, got, sent, tt.wantRest, tt.wantSent)
		}
	}
}

// stingyTransport takes at most limit bytes per TryWriteBatch (a socket
// whose buffer is nearly full) and everything on WriteBatch, recording the
// byte stream in order.
type stingyTransport struct {
	mu     sync.Mutex
	out    bytes.Buffer
	limit  int
	tries  int
	writes int
}

func (s *stingyTransport) TryWriteBatch(frames [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	n := 0
	for _, f := range frames {
		take := min(len(f), s.limit-n)
		s.out.Write(f[:take])
		n += take
		if n == s.limit {
			break
		}
	}
	return n, nil
}

func (s *stingyTransport) WriteBatch(frames [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for _, f := range frames {
		s.out.Write(f)
	}
	return nil
}

func (s *stingyTransport) SetWriteDeadline(time.Time) error { return nil }
func (s *stingyTransport) Close(CloseReason) error          { return nil }

func (s *stingyTransport) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// TestBatchedPublishKeepsOrder publishes in batches to subscribers whose
// sockets take only part of each direct write: the rest must follow,
// through a writer goroutine, in order and complete.
func TestBatchedPublishKeepsOrder(t *testing.T) {
	t.Parallel()
	tests := []struct{ subs, limit int }{
		{3, 1 << 20}, {3, 7}, {3, 100},
		// Over bigFlush: the flush set is shared by several goroutines.
		{3 * bigFlush, 1 << 20}, {3 * bigFlush, 7},
	}
	for _, tt := range tests {
		limit := tt.limit
		t.Run(fmt.Sprintf("subs=%d/limit=%d", tt.subs, limit), func(t *testing.T) {
			t.Parallel()
			h := hub.New(hub.Config{})
			reg := NewRegistry(h, Limits{})
			var subs []*stingyTransport
			var sess []*Session
			for i := 0; i < tt.subs; i++ {
				tr := &stingyTransport{limit: limit}
				s := New(reg, Config{Door: "test"}, tr, benchCodec{})
				if err := s.client.Subscribe("t", ""); err != nil {
					t.Fatal(err)
				}
				subs, sess = append(subs, tr), append(sess, s)
			}
			pub := New(reg, Config{Door: "test"}, &stingyTransport{limit: 1 << 20}, benchCodec{})
			var want bytes.Buffer
			for batch := 0; batch < 20; batch++ {
				pub.BeginBatch()
				for i := 0; i < 10; i++ {
					text := fmt.Sprintf("m%d-%d", batch, i)
					pub.Do(Request{Op: OpPub, Arg: "t", Text: text})
					fmt.Fprintf(&want, "[t] %s: %s\n", pub.Nick(), text)
				}
				pub.EndBatch()
			}
			deadline := time.Now().Add(10 * time.Second)
			for _, tr := range subs {
				for tr.String() != want.String() {
					if time.Now().After(deadline) {
						t.Fatalf("subscriber got %q\nwant %q", tr.String(), want.String())
					}
					time.Sleep(time.Millisecond)
				}
				if tr.tries == 0 {
					t.Errorf("no direct write was tried")
				}
			}
			for _, s := range append(sess, pub) {
				s.Finish(ReasonShutdown)
			}
		})
	}
}

// TestEndServingRecovers checks that a panic in a door's per-connection
// goroutine ends only that session, with ReasonInternal.
func TestEndServingRecovers(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	reg := NewRegistry(h, Limits{})
	other := New(reg, Config{Door: "test"}, &stingyTransport{limit: 1 << 20}, benchCodec{})
	s := New(reg, Config{Door: "test"}, &stingyTransport{limit: 1 << 20}, benchCodec{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		reason := ReasonClientGone
		defer s.EndServing(&reason)
		panic("boom")
	}()
	<-done
	if got := s.Reason(); got != ReasonInternal {
		t.Errorf("reason = %v, want internal_error", got)
	}
	if reg.Len() != 1 {
		t.Errorf("%d sessions left, want the other one", reg.Len())
	}
	other.Finish(ReasonShutdown)
}

// gateTransport lets each WriteBatch through only when the test sends a
// token, and checks that the frames of a batch in flight are not changed
// while it waits (a queue slice handed back too early would be).
type gateTransport struct {
	gate    chan struct{}
	entered chan struct{}
	mu      sync.Mutex
	out     []string
	changed bool
}

func (g *gateTransport) WriteBatch(frames [][]byte) error {
	before := fmt.Sprint(stringsOf(frames))
	g.entered <- struct{}{}
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if fmt.Sprint(stringsOf(frames)) != before {
		g.changed = true
	}
	g.out = append(g.out, stringsOf(frames)...)
	return nil
}

func (g *gateTransport) SetWriteDeadline(time.Time) error { return nil }
func (g *gateTransport) Close(CloseReason) error          { return nil }

func stringsOf(frames [][]byte) []string {
	s := make([]string, len(frames))
	for i, f := range frames {
		s[i] = string(f)
	}
	return s
}

// TestQueueSlotNotReusedInFlight walks a writer through the cases of the
// session's one-frame slot: the slot as the batch in flight (new frames
// must go elsewhere), the slot as the next queue, and a second frame
// moving the queue out of it.
func TestQueueSlotNotReusedInFlight(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	reg := NewRegistry(h, Limits{})
	g := &gateTransport{gate: make(chan struct{}), entered: make(chan struct{})}
	s := New(reg, Config{Door: "test"}, g, benchCodec{})
	s.Info("a") // into the slot; the writer takes it as its batch
	<-g.entered
	s.Info("b") // the slot is in flight: a pooled queue
	s.Info("c")
	g.gate <- struct{}{}
	<-g.entered // writing [b c]; the slot is the next queue
	s.Info("d")
	s.Info("e") // moves the queue out of the slot
	s.Info("f")
	g.gate <- struct{}{}
	<-g.entered
	g.gate <- struct{}{}
	deadline := time.Now().Add(10 * time.Second)
	for s.QueuedBytes() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("queue never drained")
		}
		time.Sleep(time.Millisecond)
	}
	g.mu.Lock()
	got, changed := g.out, g.changed
	g.mu.Unlock()
	var want []string
	for _, x := range []string{"a", "b", "c", "d", "e", "f"} {
		want = append(want, string(benchCodec{}.Reply(Reply{Text: x})))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("written %q, want %q", got, want)
	}
	if changed {
		t.Error("a batch's frames changed while it was being written")
	}
	go func() {
		for range g.entered {
		}
	}()
	close(g.gate)
	s.Finish(ReasonShutdown)
	close(g.entered)
}

// timeSub records the time of every message delivered to it.
type timeSub struct {
	mu    sync.Mutex
	times []int64
}

func (s *timeSub) Deliver(m *hub.Message) {
	s.mu.Lock()
	s.times = append(s.times, m.Time)
	s.mu.Unlock()
}

// TestBatchSharesOneTime checks that the messages of one publisher batch
// carry the one time read for the batch, and that the next batch reads
// the clock again.
func TestBatchSharesOneTime(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	reg := NewRegistry(h, Limits{})
	rec := &timeSub{}
	c := h.Connect(rec)
	defer c.Close()
	if err := c.Subscribe("t", ""); err != nil {
		t.Fatal(err)
	}
	pub := New(reg, Config{Door: "test"}, &stingyTransport{limit: 1 << 20}, benchCodec{})
	defer pub.Finish(ReasonShutdown)
	batch := func(n int) {
		pub.BeginBatch()
		defer pub.EndBatch()
		for i := 0; i < n; i++ {
			pub.Do(Request{Op: OpPub, Arg: "t", Text: fmt.Sprint(i)})
		}
	}
	batch(3)
	time.Sleep(2 * time.Millisecond)
	batch(2)
	pub.Do(Request{Op: OpPub, Arg: "t", Text: "unbatched"})
	rec.mu.Lock()
	got := append([]int64(nil), rec.times...)
	rec.mu.Unlock()
	if len(got) != 6 {
		t.Fatalf("got %d messages, want 6", len(got))
	}
	if got[0] == 0 || got[0] != got[1] || got[1] != got[2] {
		t.Errorf("first batch times %v, want one non-zero time", got[:3])
	}
	if got[3] <= got[2] || got[3] != got[4] {
		t.Errorf("second batch times %v after %d, want one later time", got[3:5], got[2])
	}
	if got[5] < got[4] {
		t.Errorf("unbatched time %d before the batch's %d", got[5], got[4])
	}
}

// TestBigRouteKeepsOrder publishes to more subscribers than
// bigRoute, so that the batch holds the whole route for EndBatch:
// alone in its batch it is delivered at the batch end, in parallel; with a
// private message after it in the same batch, the broadcast must still
// arrive first.
func TestBigRouteKeepsOrder(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	reg := NewRegistry(h, Limits{})
	var subs []*stingyTransport
	var sess []*Session
	for i := 0; i < bigRoute+50; i++ {
		tr := &stingyTransport{limit: 1 << 20}
		s := New(reg, Config{Door: "test"}, tr, benchCodec{})
		if err := s.client.Subscribe("big", ""); err != nil {
			t.Fatal(err)
		}
		subs, sess = append(subs, tr), append(sess, s)
	}
	pub := New(reg, Config{Door: "test"}, &stingyTransport{limit: 1 << 20}, benchCodec{})
	// The publisher subscribes too: it must not receive its own message.
	if err := pub.client.Subscribe("big", ""); err != nil {
		t.Fatal(err)
	}
	bob := sess[0].Nick()

	pub.BeginBatch()
	pub.Do(Request{Op: OpPub, Arg: "big", Text: "alone"})
	pub.EndBatch()
	pub.BeginBatch()
	pub.Do(Request{Op: OpPub, Arg: "big", Text: "first"})
	pub.Do(Request{Op: OpMsg, Arg: bob, Text: "second"})
	pub.EndBatch()

	want := fmt.Sprintf("[big] %s: alone\n[big] %s: first\n", pub.Nick(), pub.Nick())
	deadline := time.Now().Add(10 * time.Second)
	for i, tr := range subs {
		w := want
		if i == 0 {
			w += string(benchCodec{}.Message(&hub.Message{Kind: hub.KindPrivate, From: pub.Nick(), Text: "second"}))
		}
		for tr.String() != w {
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d got %q\nwant %q", i, tr.String(), w)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, s := range append(sess, pub) {
		s.Finish(ReasonShutdown)
	}
}

var discardLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// boomSub is a hub subscriber whose Deliver panics.
type boomSub struct{}

func (boomSub) Deliver(*hub.Message) { panic("test: subscriber exploded") }

// TestBigRouteSurvivesPanickingSubscriber: a subscriber that panics
// during a parallel broadcast ends neither the process (when a helper
// goroutine meets it) nor more than the publisher's own call (when the
// publisher does).
func TestBigRouteSurvivesPanickingSubscriber(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	reg := NewRegistry(h, Limits{})
	var sess []*Session
	for i := 0; i < 4*bigRoute; i++ {
		if i%flushChunk == 0 {
			c := h.Connect(boomSub{})
			defer c.Close()
			if err := c.Subscribe("big", ""); err != nil {
				t.Fatal(err)
			}
		}
		s := New(reg, Config{Door: "test", Logger: discardLog}, &stingyTransport{limit: 1 << 20}, benchCodec{})
		if err := s.client.Subscribe("big", ""); err != nil {
			t.Fatal(err)
		}
		sess = append(sess, s)
	}
	pub := New(reg, Config{Door: "test", Logger: discardLog}, &stingyTransport{limit: 1 << 20}, benchCodec{})
	for i := 0; i < 5; i++ {
		func() {
			defer func() { _ = recover() }() // the publisher's own share may meet it
			pub.BeginBatch()
			defer pub.EndBatch()
			pub.Do(Request{Op: OpPub, Arg: "big", Text: "x"})
		}()
	}
	for _, s := range append(sess, pub) {
		s.Finish(ReasonShutdown)
	}
}
