package hub

import (
	"sync"
	"sync/atomic"
)

// topicEntry is the cache slot of one topic: the last match result and the
// topic's sequence counter, which outlives index changes for as long as
// the entry lives (see topicCache).
type topicEntry struct {
	topic  string
	result atomic.Pointer[matchResult]
	seq    atomic.Uint64
	used   atomic.Bool // CLOCK reference bit: published to since the hand last passed
	slot   int         // index in topicCache.ring; pinned or evicted when negative; guarded by topicCache.mu
}

// Values of topicEntry.slot that are not ring positions.
const (
	slotPinned  = -1 // a literal subscription holds the entry; not in the ring
	slotEvicted = -2 // dropped from the cache
)

// DefaultMaxCachedTopics bounds the entries of topics that no literal
// subscription holds (topics reached only through wildcards, or with no
// subscriber at all). At MaxTopicLen-byte topics that is about 7.5 MB, the
// most a flood of new topics can make the hub keep.
const DefaultMaxCachedTopics = 1 << 14

// clockSteps is how many ring slots an insertion into a full ring examines
// before it evicts the entry under the hand whatever its reference bit:
// the bound that keeps a new topic's cost independent of the table size.
const clockSteps = 8

// topicCache maps topics to their entries. Entries of topics with a
// literal subscriber (a room, "/sub a.b") are pinned: they live until that
// subscription goes, so their sequence numbers run on. Every other entry
// sits in a fixed-size ring and is evicted by the CLOCK rule (second
// chance for entries published to since the hand passed), at most
// clockSteps slots examined per new topic; an evicted topic's sequence
// restarts at 1 when it next gets an entry. No operation visits more than
// a constant number of entries, so publishing to a new topic costs the
// same whatever the number of topics. It is safe for concurrent use.
type topicCache struct {
	// m maps topic → *topicEntry. A sync.Map: publishers on other cores
	// look topics up without writing to shared memory.
	m sync.Map
	n *atomic.Int64 // entries in m (the index's topics counter)

	mu   sync.Mutex    // guards ring, hand, every entry's slot; taken after index.mu
	ring []*topicEntry // unpinned entries; nil holes where an entry was pinned
	hand int
	max  int // ring capacity

	visited atomic.Uint64 // ring slots examined by evictions, for tests
}

// load returns the entry of topic, if cached, and marks it used.
func (c *topicCache) load(topic string) (*topicEntry, bool) {
	v, ok := c.m.Load(topic)
	if !ok {
		return nil, false
	}
	e := v.(*topicEntry)
	if !e.used.Load() { // read first: most publishes write nothing shared
		e.used.Store(true)
	}
	return e, true
}

// insertLocked adds a new entry for e.topic, pinned or into the ring
// (evicting another entry if the ring is full). The caller holds c.mu and
// has checked that the topic has no entry.
func (c *topicCache) insertLocked(e *topicEntry, pinned bool) {
	if pinned {
		e.slot = slotPinned
	} else {
		c.placeLocked(e)
	}
	c.m.Store(e.topic, e)
	c.n.Add(1)
}

// placeLocked puts an unpinned entry into the ring. Caller holds c.mu.
func (c *topicCache) placeLocked(e *topicEntry) {
	if len(c.ring) < c.max {
		e.slot = len(c.ring)
		c.ring = append(c.ring, e)
		return
	}
	for i := 0; ; i++ {
		old := c.ring[c.hand]
		c.visited.Add(1)
		if old == nil || i+1 >= clockSteps || !old.used.Swap(false) {
			if old != nil {
				c.evictLocked(old)
			}
			e.slot = c.hand
			c.ring[c.hand] = e
			c.hand = (c.hand + 1) % c.max
			return
		}
		c.hand = (c.hand + 1) % c.max
	}
}

// evictLocked drops an entry from the cache. Caller holds c.mu.
func (c *topicCache) evictLocked(e *topicEntry) {
	e.slot = slotEvicted
	if c.m.CompareAndDelete(e.topic, e) {
		c.n.Add(-1)
	}
}

// pin takes the entry of topic, if cached, out of the ring: a literal
// subscription now holds it.
func (c *topicCache) pin(topic string) {
	c.withEntry(topic, func(e *topicEntry) {
		if e.slot >= 0 {
			c.ring[e.slot] = nil
			e.slot = slotPinned
		}
	})
}

// unpin puts the entry of topic, if cached and pinned, back into the ring:
// its last literal subscription went.
func (c *topicCache) unpin(topic string) {
	c.withEntry(topic, func(e *topicEntry) {
		if e.slot == slotPinned {
			c.placeLocked(e)
		}
	})
}

// withEntry runs fn on the entry of topic, if cached, holding c.mu.
func (c *topicCache) withEntry(topic string, fn func(e *topicEntry)) {
	v, ok := c.m.Load(topic)
	if !ok {
		return
	}
	c.mu.Lock()
	fn(v.(*topicEntry))
	c.mu.Unlock()
}
