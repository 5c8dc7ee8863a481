package hub

// MinTakenFanout is the fewest plain local subscribers for which the hub
// offers a message's fan-out to its tag (FanoutTaker).
const MinTakenFanout = 256

// A FanoutTaker is a message tag (Message.Tag) that may take over the
// plain fan-out of a message with at least MinTakenFanout local
// subscribers: when TakeFanout returns true the hub calls no Deliver for
// them, and the taker must deliver the message to every subscriber of f
// before its publisher's next message reaches any of them. A front end
// uses it to deliver and write a broadcast from several goroutines at
// once. TakeFanout is called on the publishing goroutine.
type FanoutTaker interface {
	TakeFanout(f Fanout) bool
}

// Fanout is the plain local subscribers of one message, an immutable
// snapshot that stays valid after the publish returns.
type Fanout struct {
	subs   []*Subscription
	Msg    *Message // the message to deliver
	sender uint64   // the publishing client, which is skipped
	local  bool     // the publisher is on this node
}

// Len returns the number of subscribers, the publisher included if it is
// one of them.
func (f *Fanout) Len() int { return len(f.subs) }

// Subscriber returns the i-th subscriber, or nil for the publisher
// itself, which never receives its own message.
func (f *Fanout) Subscriber(i int) Subscriber {
	s := f.subs[i]
	if f.local && s.client.id == f.sender {
		return nil
	}
	return s.client.sub
}
