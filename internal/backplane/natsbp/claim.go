package natsbp

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Nick claims. A node that wants a nick for a local client asks every node
// it knows (P.presence.all.claim) and waits for all answers, up to
// Config.ClaimTimeout. A node answers no when one of its clients has the
// nick, when the nick is in its guest namespace, when it granted the nick
// to one of its own clients a moment ago, or when it is claiming the same
// nick itself and wins the tie (the lower node id wins). Two concurrent
// claims therefore never both succeed while the nodes can talk; a node
// that does not answer in time counts as consenting, so a partition can
// let two nodes give out the same nick (see docs/cluster.md).

// claim is one nick claim in progress on this node.
type claim struct {
	id      uint64
	replies chan pmsg
	lost    bool // another node's claim beat this one; guarded by cmu
}

// ClaimNick implements hub.Presence.
func (b *Backplane) ClaimNick(nick string) error {
	p := &b.pres
	key := strings.ToLower(nick)
	if strings.HasPrefix(key, strings.ToLower(b.guest)) {
		return nil // this node's guest namespace: no other node gives these out
	}
	taken := fmt.Errorf("natsbp: claim nick %s: %w", nick, hub.ErrNickTaken)
	if _, _, ok := p.lookup(key); ok {
		return taken
	}
	peers := p.livePeers(key)
	if peers == nil {
		return taken // in another node's guest namespace
	}
	p.cmu.Lock()
	if t, ok := p.held[key]; ok && time.Now().Before(t) || p.claims[key] != nil {
		p.cmu.Unlock()
		return taken // another local client is taking it
	}
	if len(peers) == 0 || !b.connected() {
		// Alone (or cut off): local uniqueness is all there is.
		p.held[key] = time.Now().Add(claimHoldLimit)
		p.cmu.Unlock()
		return nil
	}
	p.nextID++
	c := &claim{id: p.nextID, replies: make(chan pmsg, len(peers))}
	p.claims[key] = c
	p.byID[c.id] = c
	p.cmu.Unlock()

	p.publish(0, "claim", pmsg{Node: b.node, ID: c.id, Nick: key})
	ok := true
	timer := time.NewTimer(b.cfg.ClaimTimeout)
	defer timer.Stop()
wait:
	for len(peers) > 0 {
		select {
		case r := <-c.replies:
			delete(peers, r.Node)
			if !r.OK {
				ok = false
				break wait
			}
		case <-timer.C:
			b.log.Debug("cluster: nick claim: some nodes did not answer; taking their consent", "nick", nick, "missing", len(peers))
			break wait
		}
	}
	p.cmu.Lock()
	delete(p.claims, key)
	delete(p.byID, c.id)
	if c.lost {
		ok = false
	}
	if ok {
		p.held[key] = time.Now().Add(claimHoldLimit)
	}
	p.cmu.Unlock()
	if !ok {
		return taken
	}
	return nil
}

// livePeers returns the set of known nodes to ask, or nil when key is in
// another node's guest namespace.
func (p *presence) livePeers(key string) map[uint64]bool {
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	out := make(map[uint64]bool, len(p.peers))
	for id, v := range p.peers {
		if v.guest != "" && strings.HasPrefix(key, strings.ToLower(v.guest)) {
			return nil
		}
		out[id] = true
	}
	return out
}

// onClaim answers another node's claim.
func (p *presence) onClaim(m pmsg) {
	key := m.Nick
	ok := !strings.HasPrefix(key, strings.ToLower(p.b.guest))
	p.mu.Lock()
	if _, taken := p.self.nicks[key]; taken {
		ok = false
	}
	p.mu.Unlock()
	p.cmu.Lock()
	if t, held := p.held[key]; held && time.Now().Before(t) {
		ok = false
	}
	if c := p.claims[key]; c != nil {
		if p.b.node < m.Node {
			ok = false
		} else {
			c.lost = true
		}
	}
	p.cmu.Unlock()
	p.publish(m.Node, "claimreply", pmsg{Node: p.b.node, ID: m.ID, OK: ok})
}

// onClaimReply hands an answer to the waiting claim.
func (p *presence) onClaimReply(m pmsg) {
	p.cmu.Lock()
	c := p.byID[m.ID]
	p.cmu.Unlock()
	if c == nil {
		return
	}
	select {
	case c.replies <- m:
	default:
	}
}
