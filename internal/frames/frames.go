// Package frames is the per-message cache of encoded frames: a message is
// encoded once per wire format, not once per recipient, and every
// recipient that speaks that format shares the bytes.
//
// The cache knows nothing about formats. A door registers each format it
// writes with a Formats table (the server owns one, through the session
// registry) and gets back a *Format, the key it passes to Get. Doors that
// write the same bytes register the same name and so share a slot. Adding a
// door therefore touches neither the hub, which only carries a Cache in
// every message, nor the session, which only asks its door's codec for
// the key.
package frames

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Slots is how many formats one Formats table can hold. A Cache has one
// slot per format; Register fails past this number, at start-up. Five
// leave room beside today's line, JSON and SSE formats for the Redis and
// MQTT doors to come, and keep a message within a 256-byte allocation.
const Slots = 5

// Format is a registered wire format: the key of one cache slot. It is
// immutable and safe to share.
type Format struct {
	slot int
	name string
}

// Name returns the name the format was registered under.
func (f *Format) Name() string { return f.name }

// Formats is a table of registered formats. It is safe for concurrent use;
// formats are registered when doors are built, looked up per message.
type Formats struct {
	mu     sync.Mutex // guards byName
	byName map[string]*Format
}

// NewFormats returns an empty table.
func NewFormats() *Formats { return &Formats{byName: make(map[string]*Format)} }

// Register returns the format called name, adding it if it is new. Two
// doors that register the same name share its cached frames, so a name
// must stand for exactly one encoding. It fails when the table is full.
func (t *Formats) Register(name string) (*Format, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.byName[name]; f != nil {
		return f, nil
	}
	if len(t.byName) >= Slots {
		return nil, fmt.Errorf("frames: cannot register format %q: all %d slots are taken", name, Slots)
	}
	f := &Format{slot: len(t.byName), name: name}
	t.byName[name] = f
	return f, nil
}

// Cache holds one message's encoded frames, one slot per format. The zero
// value is empty and ready. It is safe for concurrent use; the bytes it
// returns are shared and must not be modified.
type Cache struct {
	state atomic.Uint32 // two bits per slot: empty, busy or ready
	b     [Slots][]byte // valid once its slot is ready
}

// Slot states, two bits each in Cache.state.
const (
	empty uint32 = iota
	busy
	ready
	stateMask = 3
)

// Get returns m encoded in format f, calling encode(m) on first use and
// keeping the result. The first caller encodes and publishes the bytes with
// an atomic store; a concurrent caller that finds the slot busy encodes a
// private copy rather than wait.
func Get[M any](c *Cache, f *Format, m M, encode func(M) []byte) []byte {
	shift := 2 * uint(f.slot)
	st := c.state.Load()
	if st>>shift&stateMask == ready {
		return c.b[f.slot]
	}
	for {
		if st>>shift&stateMask != empty {
			if st>>shift&stateMask == ready {
				return c.b[f.slot]
			}
			return encode(m)
		}
		if c.state.CompareAndSwap(st, st|busy<<shift) {
			break
		}
		st = c.state.Load()
	}
	b := encode(m)
	c.b[f.slot] = b
	// busy (01) becomes ready (10): clear one bit and set the other
	// without disturbing the other slots.
	for {
		st = c.state.Load()
		if c.state.CompareAndSwap(st, st&^(stateMask<<shift)|ready<<shift) {
			return b
		}
	}
}
