package natsbp

import (
	"strings"
)

// Duplicate nicks after a partition. While two nodes cannot talk, each
// grants nicks on local knowledge only, so both can give out the same
// one. Once they see each other again (a snapshot, then every heartbeat),
// every node compares its clients' nicks with the other nodes' replicas;
// the rule is the same everywhere, so exactly one holder keeps the nick:
// the earlier claim wins (claim times travel with presence, by each
// node's clock), and on equal times the node whose name sorts first. The
// loser's node renames it to a fresh guest nick (hub.Hub.YieldNick), which
// tells the client why in one line and shows the rename to its rooms.

// clash is a local nick another node's client holds by the rule.
type clash struct{ nick, winner string }

// resolveNicks renames every local client that loses a nick clash.
func (p *presence) resolveNicks() {
	h := p.b.hub.Load()
	if h == nil {
		return
	}
	for _, c := range p.clashes() {
		nn, ok := h.YieldNick(c.nick, "nick "+c.nick+" was claimed earlier on node "+c.winner)
		if ok {
			p.nicksRenamed.Add(1)
			p.b.log.Info("cluster: nick held on two nodes after a partition; renamed the later claim here",
				"nick", c.nick, "winner", c.winner, "renamed_to", nn)
		}
	}
}

// clashes lists the local nicks that lose to another node's client.
func (p *presence) clashes() []clash {
	type holder struct {
		nick string
		at   int64
	}
	guest := strings.ToLower(p.b.guest)
	local := make(map[string]holder)
	p.mu.Lock()
	for key, id := range p.self.nicks {
		if !strings.HasPrefix(key, guest) {
			c := p.self.clients[id]
			local[key] = holder{c.nick, c.at}
		}
	}
	p.mu.Unlock()
	if len(local) == 0 {
		return nil
	}
	self := p.b.cfg.NodeName
	var out []clash
	p.vmu.RLock()
	defer p.vmu.RUnlock()
	for key, l := range local {
		for _, v := range p.peers {
			id, ok := v.nicks[key]
			if !ok || !v.synced {
				continue
			}
			if r := v.clients[id]; r.at < l.at || r.at == l.at && v.name < self {
				out = append(out, clash{nick: l.nick, winner: v.name})
				break
			}
		}
	}
	return out
}
