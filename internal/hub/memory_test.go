package hub_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// discard is a Subscriber that drops everything.
type discard struct{}

func (discard) Deliver(*hub.Message) {}

// liveHeap returns the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestAbusiveClientMemoryIsReleased checks that per-topic and per-room
// state is bounded and released: after a client that published to many
// distinct topics nobody subscribes to, or joined many rooms, has left,
// the live heap is back within 16 MB of what it was before it came. Not
// parallel: it measures the process's heap.
func TestAbusiveClientMemoryIsReleased(t *testing.T) {
	const slack = 16 << 20
	long := strings.Repeat("x", 200) // topics near the length limit cost the most
	for _, tc := range []struct {
		name string
		n    int
		do   func(c *hub.Client, i int) error
	}{
		{"publishes to new topics without subscribers", 200_000, func(c *hub.Client, i int) error {
			_, _, err := c.Publish(long+"."+strconv.Itoa(i), "x", 0)
			return err
		}},
		{"joins", 300_000, func(c *hub.Client, i int) error {
			_, err := c.Join("room." + strconv.Itoa(i))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hub.New(hub.Config{})
			bystander := h.Connect(discard{})
			defer bystander.Close()
			before := liveHeap()
			c := h.Connect(discard{})
			for i := range tc.n {
				if err := tc.do(c, i); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			after := liveHeap()
			if after > before+slack {
				t.Errorf("live heap %.1f MB after the client left, %.1f MB before: %.1f MB kept, want at most 16",
					float64(after)/1e6, float64(before)/1e6, float64(after-before)/1e6)
			}
			if st := h.Stats(); st.Rooms != 0 || st.Topics > hub.DefaultMaxCachedTopics {
				t.Errorf("stats after the client left: %d rooms, %d topics cached (bound %d)", st.Rooms, st.Topics, hub.DefaultMaxCachedTopics)
			}
			runtime.KeepAlive(h)
		})
	}
}
