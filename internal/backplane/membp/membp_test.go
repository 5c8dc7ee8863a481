package membp

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/hubtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func cluster(n int) []*hub.Hub {
	bus := NewBus()
	var hubs []*hub.Hub
	for i := 0; i < n; i++ {
		bp := bus.NewNode()
		h := hub.New(hub.Config{Backplane: bp})
		bp.Start(h)
		hubs = append(hubs, h)
	}
	return hubs
}

func TestCrossNodePlainNoDuplicates(t *testing.T) {
	t.Parallel()
	hs := cluster(3)
	var boxes [3]hubtest.Inbox
	var cs [3]*hub.Client
	for i, h := range hs {
		cs[i] = h.Connect(&boxes[i])
		if err := cs[i].Subscribe("news.>", ""); err != nil {
			t.Fatal(err)
		}
	}
	local := hs[0].Connect(&hubtest.Inbox{})
	if err := local.Subscribe("news.*", ""); err != nil {
		t.Fatal(err)
	}
	for _, txt := range []string{"a", "b", "c"} {
		if _, err := hubtest.Publish(cs[0], "news.x", txt); err != nil {
			t.Fatal(err)
		}
	}
	if got := boxes[0].Texts(); len(got) != 0 {
		t.Fatalf("publisher got its own messages: %v", got)
	}
	for i := 1; i < 3; i++ {
		if got := boxes[i].Texts(); len(got) != 3 || got[0] != "a" || got[2] != "c" {
			t.Fatalf("node %d got %v, want [a b c] once each in order", i, got)
		}
	}
}

func TestQueueGroupExactlyOnceAcrossNodes(t *testing.T) {
	t.Parallel()
	hs := cluster(3)
	var boxes [3]hubtest.Inbox
	for i, h := range hs {
		c := h.Connect(&boxes[i])
		if err := c.Subscribe("jobs.*", "workers"); err != nil {
			t.Fatal(err)
		}
	}
	pub := hs[0].Connect(&hubtest.Inbox{})
	const n = 300
	for i := 0; i < n; i++ {
		if _, err := hubtest.Publish(pub, "jobs.build", "x"); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for i := range boxes {
		got := len(boxes[i].Texts())
		if got == 0 {
			t.Errorf("node %d got no work", i)
		}
		total += got
	}
	if total != n {
		t.Fatalf("group members got %d messages in all, want exactly %d", total, n)
	}
}
