package natsbp

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/hubtest"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/natstest"
)

// TestMain checks for leaked goroutines. nats.go and nats-server end some
// goroutines asynchronously after Close/Shutdown return; goleak's default
// retries cover that, so no ignore options are needed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNode is one hub on a Backplane.
type testNode struct {
	bp *Backplane
	h  *hub.Hub
}

func newNode(t *testing.T, url, name string) *testNode {
	t.Helper()
	bp, err := Connect(Config{URLs: []string{url}, ClusterName: "t", NodeName: name,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Heartbeat: 50 * time.Millisecond,
		PeerTimeout: 300 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{Backplane: bp, Presence: bp})
	if err := bp.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bp.Close() })
	return &testNode{bp: bp, h: h}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	in := &hub.Message{Kind: hub.KindPrivate, Topic: "a.b", From: "alice", To: "bob", Text: "hi: there ✓",
		Seq: 42, Epoch: 0x9f3a1c07, Journal: 1042, Time: -7, SenderNode: 1<<63 | 5, SenderID: 99}
	out, _, err := decodeMessage(appendMessage(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Kind != in.Kind || out.Topic != in.Topic || out.From != in.From || out.To != in.To || out.Text != in.Text ||
		out.Seq != in.Seq || out.Epoch != in.Epoch || out.Journal != in.Journal || out.Time != in.Time || out.SenderNode != in.SenderNode || out.SenderID != in.SenderID {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
	for _, bad := range [][]byte{nil, {9, 1}, {codecVersion, 1, 0, 0, 0, 0, 200}, {codecVersion, 77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, err := decodeMessage(bad); !errors.Is(err, errBadMessage) {
			t.Errorf("decode %v: err %v, want errBadMessage", bad, err)
		}
	}
}

func TestConnectErrorNamesURL(t *testing.T) {
	t.Parallel()
	_, err := Connect(Config{URLs: []string{"nats://user:secret@127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "nats://***@127.0.0.1:1") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want one naming the URL without its password", err)
	}
}

func TestOptionalStartsWithoutNATS(t *testing.T) {
	t.Parallel()
	bp, err := Connect(Config{URLs: []string{"nats://127.0.0.1:1"}, Optional: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := hub.New(hub.Config{Backplane: bp, Presence: bp})
	if err := bp.Start(h); err != nil {
		t.Fatal(err)
	}
	var box hubtest.Inbox
	c := h.Connect(&box)
	if err := c.Subscribe("a", ""); err != nil {
		t.Fatalf("subscribing without NATS: %v", err)
	}
	p := h.Connect(&hubtest.Inbox{})
	if _, err := hubtest.Publish(p, "a", "local"); err != nil {
		t.Fatal(err)
	}
	if got := box.Texts(); len(got) != 1 {
		t.Fatalf("local delivery without NATS: got %q", got)
	}
	if st := bp.Status(); st.Connected || st.Warning == "" {
		t.Fatalf("status %+v, want disconnected with a warning", st)
	}
	c.Close()
	p.Close()
	_ = bp.Close()
}

// FuzzDecodeMessage checks that any payload decodes or fails cleanly, and
// that what decodes encodes back to the same message.
func FuzzDecodeMessage(f *testing.F) {
	f.Add(appendMessage(nil, &hub.Message{Kind: hub.KindMessage, Topic: "a.b", From: "x", Text: "hi", Seq: 3, Time: 9, SenderNode: 7, SenderID: 2}))
	f.Add(appendMessage(nil, &hub.Message{Kind: hub.KindNick, From: "x", Text: "y", To: "r1 r2"}))
	f.Add([]byte{codecVersion, 1, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, _, err := decodeMessage(appendMessage(nil, m))
		if err != nil || again.Kind != m.Kind || again.Topic != m.Topic || again.From != m.From || again.To != m.To ||
			again.Text != m.Text || again.Seq != m.Seq || again.Time != m.Time || again.SenderNode != m.SenderNode || again.SenderID != m.SenderID {
			t.Fatalf("re-encoding %+v: got %+v, %v", m, again, err)
		}
	})
}

func TestInterestFollowsLocalSubscriptions(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a := newNode(t, ns.ClientURL(), "a")
	c1, c2 := a.h.Connect(&hubtest.Inbox{}), a.h.Connect(&hubtest.Inbox{})
	for _, c := range []*hub.Client{c1, c2} {
		if err := c.Subscribe("x.>", ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := c1.Subscribe("x.>", "g"); err != nil {
		t.Fatal(err)
	}
	// Subscribing waits for NATS to confirm; unsubscribing is applied in
	// the background.
	if n := a.bp.Status().Interests; n != 2 {
		t.Fatalf("%d NATS subscriptions for 2 subscribers of x.> and one group member, want 2", n)
	}
	interests := func(want int) func() bool {
		return func() bool { st := a.bp.Status(); return st.Interests == want && st.InterestsPending == 0 }
	}
	_ = c1.Unsubscribe("x.>") // its plain and group subscriptions
	testkit.Eventually(t, "1 interest after the group's only member left", interests(1))
	_ = c2.Unsubscribe("x.>")
	testkit.Eventually(t, "no interest after the last unsubscribe", interests(0))
}

func TestKilledNodeLeavesPresence(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a := newNode(t, ns.ClientURL(), "a")
	b := newNode(t, ns.ClientURL(), "b")
	cb := b.h.Connect(&hubtest.Inbox{})
	if err := cb.SetNick("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Join("room"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "bob to appear on a", func() bool {
		w := a.h.Who("room")
		return len(w) == 1 && w[0] == "bob"
	})
	ca := a.h.Connect(&hubtest.Inbox{})
	if err := ca.SetNick("BOB"); !errors.Is(err, hub.ErrNickTaken) {
		t.Fatalf("taking bob's nick on another node: %v, want ErrNickTaken", err)
	}
	// Kill b: its connections drop without a goodbye.
	b.bp.closeOnce.Do(func() {
		close(b.bp.quit)
		b.bp.wg.Wait()
		close(b.bp.stopSend)
		b.bp.swg.Wait()
		b.bp.gc.Close()
		b.bp.nc.Close()
	})
	testkit.Eventually(t, "bob to vanish after the peer timeout", func() bool { return len(a.h.Who("room")) == 0 })
	if err := ca.SetNick("bob"); err != nil {
		t.Fatalf("bob's nick after his node died: %v", err)
	}
	ca.Close()
}
