package hub

// smallSubSet is how many subscriptions a client keeps in a plain slice;
// past it they move to a map. Most clients hold a few, and a map costs
// ~0.5 KiB, but a scan per subscribe would make one client's N
// subscriptions cost O(N²).
const smallSubSet = 16

// subSet is one client's subscriptions (not room memberships): a slice
// while small, a map by pattern once large, so adding and removing cost
// O(1) whatever the client holds. Not safe for concurrent use; the client
// guards it with its mutex.
type subSet struct {
	list      []*Subscription            // while len <= smallSubSet; nil once byPattern is used
	byPattern map[string][]*Subscription // pattern → its subscriptions, one per group
	n         int
}

// has reports whether the set holds pattern in group.
func (ss *subSet) has(pattern, group string) bool {
	if ss.byPattern != nil {
		for _, s := range ss.byPattern[pattern] {
			if s.group == group {
				return true
			}
		}
		return false
	}
	for _, s := range ss.list {
		if s.pattern == pattern && s.group == group {
			return true
		}
	}
	return false
}

// add adds s, whose pattern and group the set must not hold yet.
func (ss *subSet) add(s *Subscription) {
	ss.n++
	if ss.byPattern == nil && ss.n <= smallSubSet {
		ss.list = append(ss.list, s)
		return
	}
	if ss.byPattern == nil {
		ss.byPattern = make(map[string][]*Subscription, 2*smallSubSet)
		for _, old := range ss.list {
			ss.byPattern[old.pattern] = append(ss.byPattern[old.pattern], old)
		}
		ss.list = nil
	}
	ss.byPattern[s.pattern] = append(ss.byPattern[s.pattern], s)
}

// removePattern removes and returns every subscription to pattern,
// whatever its group.
func (ss *subSet) removePattern(pattern string) []*Subscription {
	if ss.byPattern != nil {
		gone := ss.byPattern[pattern]
		delete(ss.byPattern, pattern)
		ss.n -= len(gone)
		return gone
	}
	var gone []*Subscription
	kept := ss.list[:0]
	for _, s := range ss.list {
		if s.pattern == pattern {
			gone = append(gone, s)
		} else {
			kept = append(kept, s)
		}
	}
	clear(ss.list[len(kept):])
	ss.list = kept
	ss.n -= len(gone)
	return gone
}

// all returns every subscription in the set, in no particular order.
func (ss *subSet) all() []*Subscription {
	if ss.byPattern == nil {
		return ss.list
	}
	out := make([]*Subscription, 0, ss.n)
	for _, subs := range ss.byPattern {
		out = append(out, subs...)
	}
	return out
}

// len returns the number of subscriptions.
func (ss *subSet) len() int { return ss.n }
