package history_test

import (
	"slices"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

// TestReadWindows: reads over windows give what Store.Read gives over
// the same kept messages: the selection, the gaps and the tops.
func TestReadWindows(t *testing.T) {
	t.Parallel()
	const epoch, journal = 7, 99
	// Topic a kept #11 … #15 (journal 21 … 25, time 110 … 150); #10, at
	// journal 20 and time 100, was the last to go.
	var msgs []*hub.Message
	for i := uint64(11); i <= 15; i++ {
		msgs = append(msgs, &hub.Message{Kind: hub.KindMessage, Topic: "a", Seq: i, Epoch: epoch, Journal: i + 10, Time: int64(i) * 10})
	}
	a := history.Window{Topic: "a", Top: history.Position{Epoch: epoch, Seq: 15}, Msgs: msgs, Gone: 10, GoneAt: 100, GoneJ: 20}
	unknown := history.Window{Topic: "b"}
	for _, tt := range []struct {
		name  string
		since history.Since
		limit int
		want  []uint64
		gap   *history.Gap
	}{
		{"all", history.Since{Kind: history.SinceAll}, 0, []uint64{11, 12, 13, 14, 15}, nil},
		{"seq within", history.Since{Kind: history.SinceSeq, Seq: 13}, 0, []uint64{14, 15}, nil},
		{"seq older than kept", history.Since{Kind: history.SinceSeq, Seq: 4}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a", Missed: 6}},
		{"seq of another epoch", history.Since{Kind: history.SinceSeq, Seq: 3, Epoch: 8}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a", Lost: true}},
		{"seq past the top", history.Since{Kind: history.SinceSeq, Seq: 16}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a", Lost: true}},
		{"limit counts the rest missed", history.Since{Kind: history.SinceSeq, Seq: 10}, 2, []uint64{14, 15}, &history.Gap{Topic: "a", Missed: 3}},
		{"time after the gone one", history.Since{Kind: history.SinceTime, Time: 130}, 0, []uint64{13, 14, 15}, nil},
		{"time before the gone one", history.Since{Kind: history.SinceTime, Time: 90}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a"}},
		{"journal", history.Since{Kind: history.SinceJournal, Epoch: journal, Journal: 23}, 0, []uint64{14, 15}, nil},
		{"journal before the gone one", history.Since{Kind: history.SinceJournal, Epoch: journal, Journal: 19}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a"}},
		{"journal of another epoch", history.Since{Kind: history.SinceJournal, Epoch: 5, Journal: 23}, 0, []uint64{11, 12, 13, 14, 15}, &history.Gap{Topic: "a", Lost: true}},
		{"last", history.Since{Kind: history.SinceLast, Last: 2}, 0, []uint64{14, 15}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := history.ReadWindows([]history.Window{a, unknown, a}, tt.since, journal, tt.limit)
			if got := seqs(res.Msgs); !slices.Equal(got, tt.want) {
				t.Fatalf("messages %v, want %v", got, tt.want)
			}
			var gapA *history.Gap
			for i, g := range res.Gaps {
				switch g.Topic {
				case "a":
					gapA = &res.Gaps[i]
				case "b":
					if !g.Lost || (tt.since.Kind != history.SinceSeq && tt.since.Kind != history.SinceJournal) {
						t.Fatalf("unknown topic's gap %+v for %+v", g, tt.since)
					}
				}
			}
			if (gapA == nil) != (tt.gap == nil) || (gapA != nil && *gapA != *tt.gap) {
				t.Fatalf("gap %+v, want %+v (all: %+v)", gapA, tt.gap, res.Gaps)
			}
			if res.Tops["a"] != a.Top || len(res.Tops) != 1 {
				t.Fatalf("tops %v", res.Tops)
			}
		})
	}
}
