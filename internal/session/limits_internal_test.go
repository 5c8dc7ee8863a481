package session

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// TestBudget: the command bucket refills at its rate up to its burst, takes
// one token per request while there is one, and lets an expensive request
// go into debt, which later requests wait out.
func TestBudget(t *testing.T) {
	t.Parallel()
	const rate, burst = 10, 3 // 10 a second, 3 at once
	b := budget{tokens: burst}
	steps := []struct {
		at   time.Duration
		n    float64
		ok   bool
		left float64
	}{
		{0, 1, true, 2},
		{0, 1, true, 1},
		{0, 1, true, 0},
		{0, 1, false, 0},                       // empty
		{50 * time.Millisecond, 1, false, 0.5}, // half a token back
		{100 * time.Millisecond, 1, true, 0},   // one token back
		{time.Hour, 1, true, 2},                // refilled to the burst, not beyond
		{time.Hour, 10, true, -3},              // debt, down to -burst at most
		{time.Hour + 300*time.Millisecond, 1, false, 0},
		{time.Hour + 400*time.Millisecond, 1, true, 0},
	}
	for i, st := range steps {
		ok := b.take(st.at, rate, burst, st.n)
		if ok != st.ok || b.tokens < st.left-1e-9 || b.tokens > st.left+1e-9 {
			t.Errorf("step %d: take(%v, %v) = %v with %.3f left, want %v with %.3f", i, st.at, st.n, ok, b.tokens, st.ok, st.left)
		}
	}
}

// BenchmarkSubscribeHolding is one subscribe (and its unsubscribe) through
// Do by a session that already holds N subscriptions: the caps' checks,
// like the hub's bookkeeping, must cost the same whatever N is.
func BenchmarkSubscribeHolding(b *testing.B) {
	for _, n := range []int{0, 100, 999} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			h := hub.New(hub.Config{})
			reg := NewRegistry(h, Limits{})
			s := New(reg, Config{Door: "bench", CommandRate: -1, MaxPending: 1 << 30}, &discardTransport{}, benchCodec{})
			defer s.Finish(ReasonShutdown)
			for i := range n {
				if e := s.Do(Request{Op: OpSub, Arg: fmt.Sprint("held.", i)}); e != nil {
					b.Fatal(e)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if e := s.Do(Request{Op: OpSub, Arg: "bench.x"}); e != nil {
					b.Fatal(e)
				}
				if e := s.Do(Request{Op: OpUnsub, Arg: "bench.x"}); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}

// TestFirstRooms: the selection gives the first n rooms in name order,
// the same as sorting everything.
func TestFirstRooms(t *testing.T) {
	t.Parallel()
	all := make(map[string]int)
	for i := range 500 {
		all[fmt.Sprintf("r%d", (i*7919)%1000)] = i
	}
	want := make([]string, 0, len(all))
	for r := range all {
		want = append(want, r)
	}
	slices.Sort(want)
	for _, n := range []int{0, 1, 7, 100, 499, 500, 501, -1} {
		got := firstRooms(all, n)
		k := n
		if k < 0 || k > len(all) {
			k = len(all)
		}
		if len(got) != k {
			t.Fatalf("n=%d: %d rooms", n, len(got))
		}
		for i, rc := range got {
			if rc.Room != want[i] || rc.Members != all[rc.Room] {
				t.Fatalf("n=%d: room %d is %+v, want %s", n, i, rc, want[i])
			}
		}
	}
}
