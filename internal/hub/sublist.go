package hub

import (
	"sync"
	"sync/atomic"
)

// Subscription is one client's interest in a pattern, optionally as a member
// of a queue group. It is immutable once created.
type Subscription struct {
	client  *Client
	pattern string
	group   string
}

// Pattern returns the subscribed pattern.
func (s *Subscription) Pattern() string { return s.pattern }

// Group returns the queue group, or "" for a plain subscription.
func (s *Subscription) Group() string { return s.group }

// matchResult is the immutable set of subscriptions matching one topic at
// one generation of the index. Publishers share it without locking.
type matchResult struct {
	gen    uint64
	plain  []*Subscription
	groups []*groupMatch
}

// groupMatch is the members of one queue group matching a topic; next picks
// members in turn.
type groupMatch struct {
	name    string
	members []*Subscription
	next    atomic.Uint32
}

// topicEntry is the cache slot of one topic: the last match result and the
// topic's sequence counter, which outlives index changes.
type topicEntry struct {
	topic  string
	result atomic.Pointer[matchResult]
	seq    atomic.Uint64
}

// maxCachedTopics bounds the topic cache. Past it, entries whose topic has
// no subscriber are dropped (their sequence numbers restart at 1).
const maxCachedTopics = 1 << 20

// index is the subscription table: literal patterns in a map for O(1)
// matching, wildcard patterns in a set scanned when a topic's match result
// is rebuilt. Rebuilds happen only after subscription changes (gen moves),
// so the scan is off the steady-state publish path.
type index struct {
	mu      sync.RWMutex // guards literal, wild; gen changes only under mu
	literal map[string]map[*Subscription]struct{}
	wild    map[*Subscription]struct{}
	gen     atomic.Uint64
	count   int

	// cache maps topic → *topicEntry. A sync.Map: publishers on other
	// cores look topics up without writing to any shared memory.
	cache  sync.Map
	topics atomic.Int64 // entries in cache
	evict  sync.Mutex   // one eviction sweep at a time
}

func newIndex() *index {
	return &index{
		literal: make(map[string]map[*Subscription]struct{}),
		wild:    make(map[*Subscription]struct{}),
	}
}

func (ix *index) add(s *Subscription) {
	ix.mu.Lock()
	if IsLiteral(s.pattern) {
		m := ix.literal[s.pattern]
		if m == nil {
			m = make(map[*Subscription]struct{}, 1)
			ix.literal[s.pattern] = m
		}
		m[s] = struct{}{}
	} else {
		ix.wild[s] = struct{}{}
	}
	ix.count++
	ix.gen.Add(1)
	ix.mu.Unlock()
}

func (ix *index) remove(s *Subscription) {
	ix.mu.Lock()
	if IsLiteral(s.pattern) {
		if m := ix.literal[s.pattern]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(ix.literal, s.pattern)
			}
		}
	} else {
		delete(ix.wild, s)
	}
	ix.count--
	ix.gen.Add(1)
	ix.mu.Unlock()
}

func (ix *index) size() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.count
}

// entry returns the cache entry of topic, creating it if needed.
func (ix *index) entry(topic string) *topicEntry {
	if e, ok := ix.cache.Load(topic); ok {
		return e.(*topicEntry)
	}
	if ix.topics.Load() >= maxCachedTopics {
		ix.evictIdle()
	}
	e, loaded := ix.cache.LoadOrStore(topic, &topicEntry{topic: topic})
	if !loaded {
		ix.topics.Add(1)
	}
	return e.(*topicEntry)
}

// evictIdle drops cache entries whose last result had no subscriber.
func (ix *index) evictIdle() {
	ix.evict.Lock()
	defer ix.evict.Unlock()
	if ix.topics.Load() < maxCachedTopics {
		return
	}
	ix.cache.Range(func(k, v any) bool {
		r := v.(*topicEntry).result.Load()
		if r == nil || (len(r.plain) == 0 && len(r.groups) == 0) {
			if ix.cache.CompareAndDelete(k, v) {
				ix.topics.Add(-1)
			}
		}
		return true
	})
}

// match returns the current match result for the entry's topic, rebuilding
// it if the index changed since it was computed.
func (ix *index) match(e *topicEntry) *matchResult {
	r := e.result.Load()
	if r != nil && r.gen == ix.gen.Load() {
		return r
	}
	ix.mu.RLock()
	r = ix.computeLocked(e.topic)
	ix.mu.RUnlock()
	e.result.Store(r)
	return r
}

// computeLocked builds the match result of topic. Caller holds mu (read).
func (ix *index) computeLocked(topic string) *matchResult {
	r := &matchResult{gen: ix.gen.Load()}
	var groups map[string]*groupMatch
	addSub := func(s *Subscription) {
		if s.group == "" {
			r.plain = append(r.plain, s)
			return
		}
		if groups == nil {
			groups = make(map[string]*groupMatch)
		}
		g := groups[s.group]
		if g == nil {
			g = &groupMatch{name: s.group}
			groups[s.group] = g
			r.groups = append(r.groups, g)
		}
		g.members = append(g.members, s)
	}
	for s := range ix.literal[topic] {
		addSub(s)
	}
	for s := range ix.wild {
		if Match(s.pattern, topic) {
			addSub(s)
		}
	}
	return r
}
