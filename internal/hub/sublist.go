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

// index is the subscription table: literal patterns in a map for O(1)
// matching, wildcard patterns in a set scanned when a topic's match result
// is rebuilt. Rebuilds happen only after subscription changes (gen moves),
// so the scan is off the steady-state publish path. Adding or removing a
// subscription is O(1) amortized, whatever the table holds.
type index struct {
	mu      sync.RWMutex // guards literal, wild, their peaks, count; gen changes only under mu
	literal map[string]map[*Subscription]struct{}
	wild    map[*Subscription]struct{}
	gen     atomic.Uint64
	count   int

	literalPeak, wildPeak int // most entries literal and wild held since made, for shrunk

	// empty is the match result of every topic nothing matches, at its
	// generation: shared, so idle topics cost no result of their own.
	empty atomic.Pointer[matchResult]

	cache  topicCache
	topics atomic.Int64 // entries in cache
}

func newIndex() *index {
	ix := &index{
		literal: make(map[string]map[*Subscription]struct{}),
		wild:    make(map[*Subscription]struct{}),
	}
	ix.cache.max = DefaultMaxCachedTopics
	ix.cache.n = &ix.topics
	return ix
}

func (ix *index) add(s *Subscription) {
	ix.mu.Lock()
	if IsLiteral(s.pattern) {
		m := ix.literal[s.pattern]
		if m == nil {
			m = make(map[*Subscription]struct{}, 1)
			ix.literal[s.pattern] = m
			growPeak(len(ix.literal), &ix.literalPeak)
			ix.cache.pin(s.pattern)
		}
		m[s] = struct{}{}
	} else {
		ix.wild[s] = struct{}{}
		growPeak(len(ix.wild), &ix.wildPeak)
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
				ix.literal = shrunk(ix.literal, &ix.literalPeak)
				ix.cache.unpin(s.pattern)
			}
		}
	} else {
		delete(ix.wild, s)
		ix.wild = shrunk(ix.wild, &ix.wildPeak)
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

// entry returns the cache entry of topic, creating it if needed. A new
// entry comes with its match result, computed once here.
func (ix *index) entry(topic string) *topicEntry {
	if e, ok := ix.cache.load(topic); ok {
		return e
	}
	e := &topicEntry{topic: topic}
	ix.mu.RLock()
	r := ix.computeLocked(topic)
	e.result.Store(r)
	ix.cache.mu.Lock()
	if v, ok := ix.cache.m.Load(topic); ok {
		// Another publisher made it meanwhile.
		ix.cache.mu.Unlock()
		ix.mu.RUnlock()
		return v.(*topicEntry)
	}
	ix.cache.insertLocked(e, len(ix.literal[topic]) > 0)
	ix.cache.mu.Unlock()
	ix.mu.RUnlock()
	return e
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
// Topics nothing matches share one result per generation.
func (ix *index) computeLocked(topic string) *matchResult {
	gen := ix.gen.Load()
	var r *matchResult
	var groups map[string]*groupMatch
	addSub := func(s *Subscription) {
		if r == nil {
			r = &matchResult{gen: gen}
		}
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
	if r != nil {
		return r
	}
	if e := ix.empty.Load(); e != nil && e.gen == gen {
		return e
	}
	e := &matchResult{gen: gen}
	ix.empty.Store(e)
	return e
}
