package natsbp

import (
	"time"

	"github.com/nats-io/nats.go"
)

// Interest changes. hub.Hub calls Interest with its interest lock held, so
// a call that waits on NATS makes every other subscribe on the node wait
// too. Interest therefore only queues the change; one worker goroutine
// applies the queue to NATS in order (subscribe, unsubscribe), then asks
// NATS to confirm the batch with one PING/PONG round trip.
//
// What "* subscribed" promises: while the node is connected and nothing
// is queued, Interest waits for that confirmation, up to
// Config.InterestWait (default 1s), so that every message published on any
// node after the reply reaches the subscriber. While NATS is away
// (disconnected or stalled), or when the wait runs out, or while earlier
// changes are still queued, Interest returns at once: the subscription is
// effective locally at once and cluster-wide as soon as NATS has it (nats.go
// sends every subscription again before it resumes after a reconnection).
// During a stall that nats.go has not detected yet, at most one Interest
// call waits InterestWait; the calls after it find the backlog and return
// at once.

// ichange is one queued interest change.
type ichange struct {
	k    interest
	add  bool
	done chan struct{} // closed once applied and confirmed (or given up); nil if nobody waits
}

// Interest implements hub.Backplane: it queues the subscription (as a
// queue subscription when group is set) or unsubscription of pattern's
// subject, and never blocks for longer than Config.InterestWait (see
// above).
func (b *Backplane) Interest(pattern, group string, add bool) error {
	if b.hub.Load() == nil {
		return ErrNotStarted
	}
	c := ichange{k: interest{pattern, group}, add: add}
	b.qmu.Lock()
	if b.iclosed {
		b.qmu.Unlock()
		return nil // leaving the cluster; nothing to register
	}
	wait := add && b.cfg.InterestWait > 0 && b.ibacklog == 0 && b.state.Load() == stateConnected
	if wait {
		c.done = make(chan struct{})
	}
	b.iq = append(b.iq, c)
	b.ibacklog++
	b.qmu.Unlock()
	select {
	case b.ikick <- struct{}{}:
	default:
	}
	if wait {
		t := time.NewTimer(b.cfg.InterestWait)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			b.interestLate.Add(1)
			b.log.Warn("cluster: NATS did not confirm a subscription in time; it is local now and cluster-wide once NATS has it",
				"pattern", pattern, "group", group, "wait", b.cfg.InterestWait)
		}
	}
	return nil
}

// interests applies queued interest changes until Close.
func (b *Backplane) interests() {
	defer b.wg.Done()
	for {
		select {
		case <-b.quit:
			b.qmu.Lock()
			b.iclosed = true
			batch := b.iq
			b.iq = nil
			b.qmu.Unlock()
			for _, c := range batch {
				if c.done != nil {
					close(c.done)
				}
			}
			return
		case <-b.ikick:
		}
		b.qmu.Lock()
		batch := b.iq
		b.iq = nil
		b.qmu.Unlock()
		if len(batch) > 0 {
			b.applyInterests(batch)
		}
	}
}

// applyInterests subscribes and unsubscribes on NATS, then confirms the
// new subscriptions with one flush per connection used.
func (b *Backplane) applyInterests(batch []ichange) {
	var flushMain, flushGroups bool
	for _, c := range batch {
		b.imu.Lock()
		sub := b.subs[c.k]
		if !c.add {
			delete(b.subs, c.k)
		}
		b.imu.Unlock()
		if !c.add {
			if sub != nil {
				_ = sub.Unsubscribe()
			}
			continue
		}
		if sub != nil {
			continue
		}
		nc, cb := b.nc, nats.MsgHandler(b.onPlain)
		if group := c.k.group; group != "" {
			nc = b.gc
			cb = func(msg *nats.Msg) { b.onGroup(msg, group) }
		}
		sub, err := b.subscribe(nc, b.subjMsg+c.k.pattern, c.k.group, cb)
		if err != nil {
			b.interestErrors.Add(1)
			b.log.Warn("cluster: cannot subscribe on NATS; the subscription stays local", "pattern", c.k.pattern, "group", c.k.group, "err", err)
			continue
		}
		b.imu.Lock()
		b.subs[c.k] = sub
		b.imu.Unlock()
		if c.k.group == "" {
			flushMain = true
		} else {
			flushGroups = true
		}
	}
	if b.state.Load() == stateConnected {
		if flushMain {
			_ = b.nc.FlushTimeout(b.cfg.FlushTimeout)
		}
		if flushGroups {
			_ = b.gc.FlushTimeout(b.cfg.FlushTimeout)
		}
	}
	b.qmu.Lock()
	b.ibacklog -= len(batch)
	b.qmu.Unlock()
	for _, c := range batch {
		if c.done != nil {
			close(c.done)
		}
	}
}
