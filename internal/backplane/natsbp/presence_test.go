package natsbp

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// viewOf builds a replica from "id nick room…" specs.
func viewOf(clients ...[]string) *view {
	v := newView()
	for i, c := range clients {
		id := uint64(i + 1)
		if c == nil {
			continue
		}
		v.apply(pevent{Op: hub.PresenceConnect, Client: id, Nick: c[0]})
		for _, r := range c[1:] {
			v.apply(pevent{Op: hub.PresenceJoin, Client: id, Room: r})
		}
	}
	return v
}

func TestDiffViews(t *testing.T) {
	t.Parallel()
	show := func(evs []roomEvent) []string {
		var out []string
		for _, e := range evs {
			out = append(out, fmt.Sprintf("%s %s %s %s", e.kind, e.room, e.nick, e.new))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		old, new *view
		want     []string
	}{
		{"node lost", viewOf([]string{"alice", "lobby", "ops"}, []string{"bob", "lobby"}), newView(),
			[]string{"part lobby alice ", "part lobby bob ", "part ops alice "}},
		{"node back", newView(), viewOf([]string{"alice", "lobby"}),
			[]string{"join lobby alice "}},
		{"unchanged", viewOf([]string{"alice", "lobby"}), viewOf([]string{"alice", "lobby"}), nil},
		{"missed a part and a join", viewOf([]string{"alice", "a"}), viewOf([]string{"alice", "b"}),
			[]string{"part a alice ", "join b alice "}},
		{"missed a rename", viewOf([]string{"alice", "a", "b"}), viewOf([]string{"alicia", "a", "b"}),
			[]string{"nick a b alice alicia"}},
		{"missed a rename and a part", viewOf([]string{"alice", "a", "b"}), viewOf([]string{"alicia", "a"}),
			[]string{"nick a alice alicia", "part b alicia "}},
		{"missed a quit and a connect", viewOf([]string{"alice", "a"}, nil), viewOf(nil, []string{"bob", "a"}),
			[]string{"part a alice ", "join a bob "}},
	} {
		if got := show(diffViews(tc.old, tc.new)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNickClashRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		localAt, remAt int64
		self, peer     string
		lose           bool
	}{
		{"the remote claim is earlier", 20, 10, "n1", "n2", true},
		{"the local claim is earlier", 10, 20, "n2", "n1", false},
		{"tie, the peer's name sorts first", 10, 10, "n2", "n1", true},
		{"tie, this node's name sorts first", 10, 10, "n1", "n2", false},
	} {
		b := &Backplane{cfg: Config{NodeName: tc.self}, guest: "guest-" + tc.self + "-"}
		b.pres.init(b)
		b.pres.self.apply(pevent{Op: hub.PresenceConnect, Client: 1, Nick: "Dup", At: tc.localAt})
		b.pres.self.apply(pevent{Op: hub.PresenceConnect, Client: 2, Nick: "guest-" + tc.self + "-1", At: 0})
		peer := newView()
		peer.name, peer.synced = tc.peer, true
		peer.apply(pevent{Op: hub.PresenceConnect, Client: 7, Nick: "dup", At: tc.remAt})
		b.pres.peers[99] = peer
		got := b.pres.clashes()
		if lose := len(got) == 1 && got[0] == (clash{nick: "Dup", winner: tc.peer}); lose != tc.lose || len(got) > 1 {
			t.Errorf("%s: clashes %v, want losing=%v", tc.name, got, tc.lose)
		}
	}
}

// Deltas that arrive while a snapshot is awaited are kept and continue the
// snapshot, so a member who joined meanwhile is not missing until the next
// resync.
func TestDeltasHeldDuringSnapshot(t *testing.T) {
	t.Parallel()
	b := &Backplane{cfg: Config{NodeName: "n1"}, guest: "guest-n1-"}
	b.pres.init(b)
	p := &b.pres
	v := newView()
	v.name, v.lastSeen, v.asked = "n2", time.Now(), time.Now() // a snapshot was asked for
	p.peers[7] = v
	// Delta 2 (bob joins lobby) arrives before the snapshot, which covers
	// change 1 (bob connects).
	p.onDelta(pmsg{Node: 7, Seq: 2, Events: []pevent{{Op: hub.PresenceJoin, Client: 5, Room: "lobby"}}})
	p.onSnapshot(pmsg{Node: 7, Name: "n2", Seq: 1, Last: true, Clients: []pclientWire{{ID: 5, Nick: "bob"}}})
	if got := b.RemoteWho("lobby"); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("lobby after the snapshot: %q, want bob (the held delta applied)", got)
	}
	if v.seq != 2 || len(v.held) != 0 {
		t.Fatalf("view seq %d, %d held, want 2 and none", v.seq, len(v.held))
	}
}
