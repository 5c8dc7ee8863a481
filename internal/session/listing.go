package session

import (
	"cmp"
	"container/heap"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// This file holds the listings (rooms, who). A listing is bounded: it
// shows the first Config.MaxList entries in name order and then says how
// many it left out ("… and 150 more"), and its entries never take more
// than listBytes of the client's queue. So the answer to a listing is a
// small fraction of the queue limit whatever the hub holds, and no client
// is cut as a slow consumer for a reply it asked for.

// DefaultMaxList is the default Config.MaxList: entries a listing shows.
const DefaultMaxList = 100

// listShare is the share of the outbound queue limit a listing's entries
// may take at most (an eighth: 128 KiB of the default 1 MiB, far above
// what DefaultMaxList entries of the longest names take, 26 KB).
const listShare = 8

// entriesPerToken is how many listed-over entries (rooms or members the
// hub had to look at, shown or not) cost one more token of the command
// budget: a listing of a big hub costs its asker in proportion.
const entriesPerToken = 100

// listBytes is the most bytes a listing's entries may take.
func (s *Session) listBytes() int { return s.cfg.MaxPending / listShare }

// charge debits the command budget for a listing that looked at n
// entries, past the one token its request took; the debt makes the
// client's next commands wait.
func (s *Session) charge(n int) {
	if s.cfg.CommandRate < 0 || n < entriesPerToken {
		return
	}
	burst := float64(s.cfg.CommandBurst)
	s.cmds.tokens = max(s.cmds.tokens-float64(n)/entriesPerToken, -burst)
}

// lister builds a listing's text within the entry and byte bounds.
type lister struct {
	b      strings.Builder
	n      int // entries written
	max    int // entries allowed (negative: no limit)
	budget int // bytes allowed for entries
	used   int
}

// add writes entry after a separator, or reports false when the bounds
// are reached (the entry is left out).
func (l *lister) add(entry string) bool {
	if (l.max >= 0 && l.n >= l.max) || l.used+len(entry) > l.budget {
		return false
	}
	if l.n > 0 {
		l.b.WriteString(", ")
	}
	l.b.WriteString(entry)
	l.used += len(entry)
	l.n++
	return true
}

// more notes the entries left out.
func (l *lister) more(n int) {
	if n > 0 {
		if l.n > 0 {
			l.b.WriteString(", ")
		}
		l.b.WriteString("… and " + strconv.Itoa(n) + " more")
	}
}

// rooms answers a rooms request: the first rooms in name order, with
// their member counts.
func (s *Session) rooms(r Request) {
	all := s.reg.hub.Rooms()
	s.charge(len(all))
	first := firstRooms(all, s.cfg.MaxList)
	l := lister{max: s.cfg.MaxList, budget: s.listBytes()}
	switch len(all) {
	case 0:
		l.b.WriteString("no rooms yet")
	case 1:
		l.b.WriteString("1 room: ")
	default:
		l.b.WriteString(strconv.Itoa(len(all)) + " rooms: ")
	}
	for _, rc := range first {
		if !l.add(fmt.Sprintf("%s (%d)", rc.Room, rc.Members)) {
			break
		}
	}
	more := len(all) - l.n
	l.more(more)
	s.Send(Reply{Op: r.Op, Rooms: first[:l.n], Count: len(all), More: more, Text: l.b.String()})
}

// who answers a who request: the first members of a room in name order.
func (s *Session) who(r Request) *Error {
	room := s.roomOf(r)
	if room == "" {
		return &Error{Code: CodeNoRoom, Text: "which room? (you are not in one)"}
	}
	if err := hub.ValidateTopic(room); err != nil {
		return FromHub(err)
	}
	nicks := s.reg.hub.Who(room)
	s.charge(len(nicks))
	if len(nicks) == 0 {
		s.Send(Reply{Op: r.Op, Room: room, Text: room + ": nobody here"})
		return nil
	}
	l := lister{max: s.cfg.MaxList, budget: s.listBytes()}
	l.b.WriteString(room + ": ")
	for _, n := range nicks {
		if !l.add(n) {
			break
		}
	}
	more := len(nicks) - l.n
	l.more(more)
	l.b.WriteString(" (" + strconv.Itoa(len(nicks)) + ")")
	s.Send(Reply{Op: r.Op, Room: room, Members: nicks[:l.n:l.n], Count: len(nicks), More: more, Text: l.b.String()})
	return nil
}

// firstRooms returns the n rooms of all that come first in name order,
// sorted (all of them when n is negative), in O(len(all) log n): the
// listing of a hub with a million rooms does not sort a million names.
func firstRooms(all map[string]int, n int) []RoomCount {
	if n < 0 || n > len(all) {
		n = len(all)
	}
	h := make(roomHeap, 0, n)
	for room, members := range all {
		switch {
		case len(h) < n:
			heap.Push(&h, RoomCount{Room: room, Members: members})
		case n > 0 && room < h[0].Room:
			h[0] = RoomCount{Room: room, Members: members}
			heap.Fix(&h, 0)
		}
	}
	out := []RoomCount(h)
	slices.SortFunc(out, func(a, b RoomCount) int { return cmp.Compare(a.Room, b.Room) })
	return out
}

// roomHeap is a max-heap of rooms by name: its top is the last of the
// first n found so far.
type roomHeap []RoomCount

func (h roomHeap) Len() int           { return len(h) }
func (h roomHeap) Less(i, j int) bool { return cmp.Less(h[j].Room, h[i].Room) }
func (h roomHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *roomHeap) Push(x any)        { *h = append(*h, x.(RoomCount)) }
func (h *roomHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
