package hub

// Route is the local recipients of one published message: an immutable
// snapshot taken when the message was published, which stays valid after
// Publish returns. The publisher delivers the message to each recipient
// itself (see package session); the hub only matches.
//
// A Route is a small value; copying it copies no subscriber list.
type Route struct {
	subs   []*Subscription // plain subscribers, shared with the index's cache
	picks  []*Subscription // one member of each matching queue group
	sender uint64          // the publishing client, which is skipped
	local  bool            // the publisher is on this node
}

// Len returns the number of recipients, counting the publisher if it is
// one of them (At returns nil for it).
func (r *Route) Len() int { return len(r.subs) + len(r.picks) }

// At returns the i-th recipient (0 ≤ i < Len), or nil for the publisher
// itself, which never receives its own message.
func (r *Route) At(i int) Subscriber {
	var s *Subscription
	if i < len(r.subs) {
		s = r.subs[i]
	} else {
		s = r.picks[i-len(r.subs)]
	}
	if r.local && s.client.id == r.sender {
		return nil
	}
	return s.client.sub
}
