package session_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// TestDropOldestFeed: a subscriber that stops reading a drop-oldest topic
// is not disconnected; when it reads again it gets, in order, what was
// kept of the topic, each run of dropped messages announced by a gap
// marker with its exact count. A subscriber of an ordinary topic that
// stops reading is still cut as a slow consumer.
func TestDropOldestFeed(t *testing.T) {
	t.Parallel()
	st := history.New(history.Config{Rules: []history.Rule{{Pattern: "prices.>", Policy: history.PolicyDropOldest}}})
	h := hub.New(hub.Config{ReservedNicks: []string{"http"}, History: st})
	e := &env{hub: h, reg: session.NewRegistry(h, session.Limits{})}
	cfg := session.Config{MaxPending: 4096, PendingSoft: -1}
	lossy, ltr := e.open(t, cfg)
	normal, ntr := e.open(t, cfg)
	lossy.Do(session.Request{Op: session.OpSub, Arg: "prices.>"})
	lossy.Do(session.Request{Op: session.OpSub, Arg: "news"}) // ordinary, and quiet
	normal.Do(session.Request{Op: session.OpSub, Arg: "t"})
	testkit.Eventually(t, "the answers", func() bool { return len(ltr.frames()) == 2 && len(ntr.frames()) == 1 })
	ltr.block()
	ntr.block()
	pub := session.Visitor{Nick: "pub"}
	publish := func(topic string, i int) {
		t.Helper()
		if _, err := e.reg.Publish(pub, topic, fmt.Sprintf("%d %s", i, strings.Repeat("x", 40))); err != nil {
			t.Fatal(err)
		}
	}
	publish("prices.a", 0)
	publish("news", 0)
	testkit.Eventually(t, "the writer to block", ltr.writing)
	const n = 600 // about ten times what the queue holds
	for i := 1; i <= n; i++ {
		publish("prices.a", i)
	}
	for i := 0; i < n && normal.Reason() == session.ReasonNone; i++ {
		publish("t", i)
	}
	if r := normal.Reason(); r != session.ReasonSlowConsumer {
		t.Fatalf("the ordinary subscriber: reason %v, want a slow consumer", r)
	}
	if r := lossy.Reason(); r != session.ReasonNone {
		t.Fatalf("the drop-oldest subscriber: reason %v, want none", r)
	}
	if q := lossy.QueuedBytes(); q > cfg.MaxPending {
		t.Fatalf("the drop-oldest subscriber holds %d bytes, over its limit %d", q, cfg.MaxPending)
	}
	ltr.unblock()
	publish("prices.a", n+1)
	publish("news", 1)
	var seen []string
	testkit.Eventually(t, "the last price and news", func() bool {
		seen = ltr.frames()
		return len(seen) > 0 && strings.HasPrefix(seen[len(seen)-1], "[news] pub: 1 ")
	})

	prev, gap, got, missed := -1, uint64(0), 0, uint64(0)
	news := 0
	for _, f := range seen[2:] {
		l := strings.TrimSuffix(f, "\n")
		if rest, ok := strings.CutPrefix(l, "! missed "); ok {
			k, err := strconv.ParseUint(strings.TrimSuffix(rest, " messages on prices.a"), 10, 64)
			if err != nil || gap != 0 {
				t.Fatalf("marker %q (after another: %d)", l, gap)
			}
			gap = k
			continue
		}
		m, err := line.ParseServerLine([]byte(l))
		if err != nil || m.Kind != line.KindMessage {
			t.Fatalf("unexpected frame %q", l)
		}
		if string(m.Topic) == "news" {
			news++
			continue
		}
		num, _ := strconv.Atoi(strings.Fields(string(m.Text))[0])
		if want := uint64(num - prev - 1); want != gap {
			t.Fatalf("price %d after %d: the marker before it says %d missed, want %d", num, prev, gap, want)
		}
		missed += gap
		prev, gap = num, 0
		got++
	}
	if prev != n+1 || news != 2 || got+int(missed) != n+2 || missed == 0 {
		t.Fatalf("last price %d, %d news, %d prices and %d missed of %d", prev, news, got, missed, n+2)
	}
	if d := e.reg.Stats().LossyDropped; d != missed {
		t.Errorf("LossyDropped %d, the markers say %d", d, missed)
	}
	t.Logf("%d prices delivered, %d dropped with markers", got, missed)
}
