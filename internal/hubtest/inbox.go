// Package hubtest holds hub subscribers for tests that need to see what a
// client receives. It is shared by the tests of the hub and of the
// packages built on it (the backplanes) so that they record deliveries the
// same way; it is not for production code.
package hubtest

import (
	"sync"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Inbox is a hub.Subscriber that records every message delivered to it.
// The zero value is ready to use; it is safe for concurrent use.
type Inbox struct {
	mu   sync.Mutex
	msgs []*hub.Message
}

// Deliver implements hub.Subscriber.
func (b *Inbox) Deliver(m *hub.Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

// Messages returns the messages received so far, in order.
func (b *Inbox) Messages() []*hub.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*hub.Message(nil), b.msgs...)
}

// Reset forgets the messages received so far.
func (b *Inbox) Reset() {
	b.mu.Lock()
	b.msgs = nil
	b.mu.Unlock()
}

// Texts returns the texts of the messages received so far, in order.
func (b *Inbox) Texts() []string {
	var out []string
	for _, m := range b.Messages() {
		out = append(out, m.Text)
	}
	return out
}

// Publish publishes text on topic from c and delivers the message to every
// recipient of its route, one Deliver each, as the simplest publisher
// would (the hub matches; the publisher delivers). It returns the number
// of deliveries.
func Publish(c *hub.Client, topic, text string) (int, error) {
	m, r, err := c.Publish(topic, text, 0)
	if err != nil {
		return 0, err
	}
	return Deliver(m, r), nil
}

// Deliver gives m to every recipient of r and returns how many there were.
func Deliver(m *hub.Message, r hub.Route) int {
	n := 0
	for i := range r.Len() {
		if s := r.At(i); s != nil {
			s.Deliver(m)
			n++
		}
	}
	return n
}
