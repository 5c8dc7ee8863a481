package hub

import (
	"fmt"
	"strconv"
	"testing"
)

// TestNewTopicCostIsConstant floods the topic cache the way an abusive
// client did (a "/sub >" subscriber, every topic new, each published twice
// so that every entry looks recently used) and counts the cache entries
// examined for each new topic: it must stay under a constant whether the
// hub has seen 10 topics or 200,000, so no sweep grows with the table.
func TestNewTopicCostIsConstant(t *testing.T) {
	t.Parallel()
	for _, n := range []int{10, 100_000} {
		t.Run(fmt.Sprintf("topics=%d", n), func(t *testing.T) {
			t.Parallel()
			h := New(Config{})
			h.ix.cache.max = 4096 // full well before n, so evictions run
			sink := h.Connect(&countSub{})
			defer sink.Close()
			if err := sink.Subscribe(">", ""); err != nil {
				t.Fatal(err)
			}
			pub := h.Connect(&countSub{})
			defer pub.Close()
			worst := uint64(0)
			for i := range n {
				topic := "flood." + strconv.Itoa(i)
				before := h.ix.cache.visited.Load()
				if err := publishAll(pub, topic, "x"); err != nil {
					t.Fatal(err)
				}
				worst = max(worst, h.ix.cache.visited.Load()-before)
				if err := publishAll(pub, topic, "x"); err != nil { // sets the entry's reference bit
					t.Fatal(err)
				}
			}
			if worst > clockSteps {
				t.Errorf("a new topic examined up to %d cache entries with %d topics; want at most %d whatever the count", worst, n, clockSteps)
			}
			if got := h.Stats().Topics; got > h.ix.cache.max {
				t.Errorf("%d topics cached, over the bound %d", got, h.ix.cache.max)
			}
		})
	}
}

// TestLiteralSubscriptionKeepsSequence checks the documented sequence
// rule: a topic with a literal subscriber keeps its entry, and so its
// sequence, through any flood of other topics; once the subscription goes,
// the entry is an ordinary cache entry and may be evicted, after which the
// topic's sequence restarts at 1.
func TestLiteralSubscriptionKeepsSequence(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	h.ix.cache.max = 64
	rec := &seqSub{}
	s := h.Connect(rec)
	defer s.Close()
	if err := s.Subscribe("keep.me", ""); err != nil {
		t.Fatal(err)
	}
	pub := h.Connect(&countSub{})
	defer pub.Close()
	flood := func(tag string) {
		for i := range 1000 {
			_ = publishAll(pub, fmt.Sprintf("other.%s.%d", tag, i), "x")
		}
	}
	_ = publishAll(pub, "keep.me", "1")
	flood("a")
	_ = publishAll(pub, "keep.me", "2")
	if rec.last != 2 {
		t.Fatalf("seq after a flood of other topics = %d, want 2 (a subscribed topic keeps its entry)", rec.last)
	}
	if err := s.Unsubscribe("keep.me"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.ix.cache.load("keep.me"); !ok {
		t.Fatal("unsubscribing dropped the entry at once; it should stay as a cache entry")
	}
	flood("b")
	if _, ok := h.ix.cache.load("keep.me"); ok {
		t.Fatal("an unsubscribed topic survived a flood over the cache bound")
	}
	if err := s.Subscribe("keep.me", ""); err != nil {
		t.Fatal(err)
	}
	_ = publishAll(pub, "keep.me", "again")
	if rec.last != 1 {
		t.Errorf("seq after eviction = %d, want 1 (restarted)", rec.last)
	}
}

// seqSub remembers the sequence number of the last message it got.
type seqSub struct{ last uint64 }

func (s *seqSub) Deliver(m *Message) { s.last = m.Seq }

// TestEmptiedTablesShrink checks that the hub's room table and the
// index's tables are copied down once a client that filled them leaves
// (Go maps never give their buckets back): their recorded peaks must
// fall back with them.
func TestEmptiedTablesShrink(t *testing.T) {
	t.Parallel()
	h := New(Config{})
	c := h.Connect(&countSub{})
	const n = 5000
	for i := range n {
		if _, err := c.Join("room." + strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe("wild."+strconv.Itoa(i)+".*", ""); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	h.pmu.RLock()
	rooms := h.roomsPeak
	h.pmu.RUnlock()
	h.ix.mu.RLock()
	literal, wild := h.ix.literalPeak, h.ix.wildPeak
	h.ix.mu.RUnlock()
	for _, tc := range []struct {
		name string
		peak int
	}{{"rooms", rooms}, {"literal index", literal}, {"wildcard index", wild}} {
		if tc.peak > shrinkFloor {
			t.Errorf("%s table still sized for %d entries after emptying; want it copied down (peak <= %d)", tc.name, tc.peak, shrinkFloor)
		}
	}
}
