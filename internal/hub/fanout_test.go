package hub_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// taker is a message tag that takes (or declines) every fan-out offered.
type taker struct {
	take   bool
	offers []hub.Fanout
}

func (t *taker) TakeFanout(f hub.Fanout) bool {
	t.offers = append(t.offers, f)
	return t.take
}

func TestFanoutTaker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		subs       int
		take       bool
		wantOffers int
		wantDirect int // deliveries the hub makes itself, per subscriber
	}{
		{"small fan-out is never offered", 10, true, 0, 1},
		{"big fan-out taken", hub.MinTakenFanout, true, 1, 0},
		{"big fan-out declined", hub.MinTakenFanout + 5, false, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := hub.New(hub.Config{})
			pub := connect(t, h)
			mustSub(t, pub, "big", "") // the publisher is one of the subscribers
			var subs []peer
			for i := 0; i < tt.subs-1; i++ {
				p := connect(t, h)
				mustSub(t, p, "big", "")
				subs = append(subs, p)
			}
			tk := &taker{take: tt.take}
			n, err := pub.PublishTagged("big", "hello", tk, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(tk.offers) != tt.wantOffers {
				t.Fatalf("%d offers, want %d", len(tk.offers), tt.wantOffers)
			}
			for _, p := range subs {
				if got := p.rec.count(hub.KindMessage); got != tt.wantDirect {
					t.Fatalf("subscriber got %d deliveries from the hub, want %d", got, tt.wantDirect)
				}
			}
			if pub.rec.count(hub.KindMessage) != 0 {
				t.Error("the publisher received its own message")
			}
			if tt.wantOffers == 0 {
				if n != tt.subs-1 {
					t.Errorf("Publish returned %d, want %d", n, tt.subs-1)
				}
				return
			}
			f := tk.offers[0]
			if f.Len() != tt.subs || f.Msg.Text != "hello" {
				t.Fatalf("offer of %d subscribers, message %q; want %d, hello", f.Len(), f.Msg.Text, tt.subs)
			}
			// Every subscriber is in the snapshot once; the publisher is nil.
			seen := map[hub.Subscriber]bool{}
			nils := 0
			for i := range f.Len() {
				s := f.Subscriber(i)
				if s == nil {
					nils++
					continue
				}
				seen[s] = true
			}
			if nils != 1 || len(seen) != tt.subs-1 {
				t.Errorf("snapshot: %d nil, %d distinct subscribers; want 1 and %d", nils, len(seen), tt.subs-1)
			}
			for _, p := range subs {
				if !seen[p.rec] {
					t.Fatal("a subscriber is missing from the snapshot")
				}
			}
		})
	}
}
