package natsbp

import (
	"fmt"
	"time"
)

// The watchdog declares a stall without waiting for nats.go. nats.go finds
// a stale connection through its pings, but its ping timer needs the
// connection's lock, which a Publish blocked on a stalled server's full
// TCP buffers holds; so the watchdog reads only this package's own
// clocks: when NATS last answered a probe (a PING/PONG round trip, sent
// every PingInterval from a goroutine of its own), and since when the
// sender has been stuck in a Publish. NATS silent for
// (MaxPingsOut+1)×PingInterval, or a Publish stuck for PingInterval, is a
// stall. The state goes back to connected when a probe is answered on the
// same connection, or when nats.go has reconnected.

// watchdog runs until Close.
func (b *Backplane) watchdog() {
	defer b.wg.Done()
	tick := time.NewTicker(b.cfg.PingInterval / 4)
	defer tick.Stop()
	silent := time.Duration(b.cfg.MaxPingsOut+1) * b.cfg.PingInterval
	probing := make(chan struct{}, 1)
	for {
		select {
		case <-b.quit:
			return
		case <-tick.C:
		}
		st := b.state.Load()
		if st != stateConnected && !b.wdStall.Load() {
			continue // nats.go is reconnecting; its handlers set the state
		}
		select {
		case probing <- struct{}{}:
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				defer func() { <-probing }()
				b.probe(silent)
			}()
		default: // the last probe is still waiting
		}
		if st != stateConnected {
			continue
		}
		now := time.Now().UnixNano()
		quiet := time.Duration(now - b.lastAlive.Load())
		stuck := time.Duration(0)
		if t := b.publishing.Load(); t != 0 {
			stuck = time.Duration(now - t)
		}
		var why error
		switch {
		case quiet > silent:
			why = fmt.Errorf("no answer from NATS for %v", quiet.Round(time.Millisecond))
		case stuck > b.cfg.PingInterval:
			why = fmt.Errorf("a write to NATS blocked for %v", stuck.Round(time.Millisecond))
		default:
			continue
		}
		if b.state.CompareAndSwap(stateConnected, stateStalled) {
			b.wdStall.Store(true)
			b.stalls.Add(1)
			b.setState(stateStalled, fmt.Errorf("NATS stalled (%w); serving local clients only", why))
			b.log.Warn("cluster: NATS stalled; local delivery continues", "why", why)
		}
	}
}

// probe sends one PING and waits up to d for the PONG.
func (b *Backplane) probe(d time.Duration) {
	if err := b.nc.FlushTimeout(d); err != nil {
		return
	}
	b.lastAlive.Store(time.Now().UnixNano())
	if b.wdStall.CompareAndSwap(true, false) && b.state.CompareAndSwap(stateStalled, stateConnected) {
		b.setState(stateConnected, nil)
		b.log.Info("cluster: NATS answers again")
	}
}
