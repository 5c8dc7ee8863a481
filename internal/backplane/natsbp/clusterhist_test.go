package natsbp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// openTestHistory opens a cluster history with cfg on a fresh NATS with
// JetStream.
func openTestHistory(t *testing.T, cfg history.Config) *ClusterHistory {
	t.Helper()
	ns, err := natsembed.StartJetStream("", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	bp, err := Connect(Config{URLs: []string{ns.ClientURL()}, ClusterName: "t", NodeName: "h",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bp.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := bp.OpenHistory(ctx, ClusterHistoryConfig{History: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// publish records n messages on topic and returns them.
func publish(t *testing.T, h *ClusterHistory, topic string, n int) []*hub.Message {
	t.Helper()
	var out []*hub.Message
	for range n {
		m := &hub.Message{Kind: hub.KindMessage, Topic: topic, From: "a", Text: "x", Time: time.Now().UnixNano()}
		if !h.Record(m, false) || m.Seq == 0 {
			t.Fatalf("not numbered: %+v", m)
		}
		out = append(out, m)
	}
	return out
}

func seqsOf(ms []*hub.Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

// TestClusterHistoryRules: a topic whose rule keeps fewer than the
// stream holds is read within its rule, with the rest reported gone; a
// topic that keeps nothing is not recorded; a drop-oldest rule marks
// messages lossy, live and read back.
func TestClusterHistoryRules(t *testing.T) {
	t.Parallel()
	h := openTestHistory(t, history.Config{Keep: 10, Rules: []history.Rule{
		{Pattern: "small", Keep: 2}, {Pattern: "none", Keep: 0}, {Pattern: "prices", Keep: 5, Policy: history.PolicyDropOldest}}})
	publish(t, h, "small", 5)
	res := h.Read([]string{"small"}, history.Since{Kind: history.SinceSeq, Seq: 1}, 0)
	if got := seqsOf(res.Msgs); !slices.Equal(got, []uint64{4, 5}) || len(res.Gaps) != 1 || res.Gaps[0].Missed != 2 {
		t.Fatalf("small: %v, gaps %+v", got, res.Gaps)
	}
	if m := (&hub.Message{Kind: hub.KindMessage, Topic: "none"}); h.Record(m, false) {
		t.Fatalf("none recorded: %+v", m)
	}
	live := publish(t, h, "prices", 1)[0]
	res = h.Read([]string{"prices"}, history.Since{Kind: history.SinceAll}, 0)
	if !live.Lossy || len(res.Msgs) != 1 || !res.Msgs[0].Lossy {
		t.Fatalf("prices not lossy: live %+v, read %+v", live, res.Msgs)
	}
	res = h.Read([]string{">"}, history.Since{Kind: history.SinceJournal, Epoch: h.Epoch(), Journal: 0}, 3)
	if len(res.Msgs) != 3 || res.Msgs[2].Topic != "prices" || len(res.Tops) != 2 {
		t.Fatalf("a wildcard read limited to 3: %+v", res)
	}
}

// TestClusterHistoryExpiryNewEpoch: a topic whose every message expired
// from the stream starts again at 1 in a new epoch, and a position in
// the old one reads as lost.
func TestClusterHistoryExpiryNewEpoch(t *testing.T) {
	t.Parallel()
	h := openTestHistory(t, history.Config{Keep: 10, MaxAge: 300 * time.Millisecond})
	old := publish(t, h, "t", 2)
	testkit.Eventually(t, "the messages to expire", func() bool {
		_, err := h.stream.GetLastMsgForSubject(context.Background(), h.subj+"t")
		return errors.Is(err, jetstream.ErrMsgNotFound)
	})
	m := publish(t, h, "t", 1)[0]
	if m.Seq != 1 || m.Epoch == old[0].Epoch {
		t.Fatalf("after expiry: %+v, before: %+v", m, old[1])
	}
	res := h.Read([]string{"t"}, history.Since{Kind: history.SinceSeq, Seq: 2, Epoch: old[0].Epoch}, 0)
	if len(res.Gaps) != 1 || !res.Gaps[0].Lost || len(res.Msgs) != 1 || res.Msgs[0].Seq != 1 {
		t.Fatalf("old position: %+v", res)
	}
}
