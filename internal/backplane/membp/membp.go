// Package membp is an in-memory hub.Backplane connecting several hubs in
// one process, for fast hub-level tests of cluster behaviour without NATS.
// It forwards messages synchronously and keeps NATS's rules: a node's
// plain subscribers get other nodes' messages, and each message reaches
// one member of a queue group across all nodes. It has no presence half.
package membp

import (
	"sync"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Bus connects the Nodes made from it. It is safe for concurrent use.
type Bus struct {
	mu    sync.RWMutex // guards nodes and every node's interests
	nodes []*Node
	next  uint64 // round-robin for queue groups; guarded by mu (write)
}

// Node is one hub's backplane on a Bus. It is safe for concurrent use.
type Node struct {
	bus       *Bus
	hub       *hub.Hub
	interests map[[2]string]bool // {pattern, group}; guarded by bus.mu
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{} }

// NewNode returns a backplane for one hub; call Start with the hub built
// from it.
func (b *Bus) NewNode() *Node {
	return &Node{bus: b, interests: make(map[[2]string]bool)}
}

// Start attaches the hub and joins the bus.
func (n *Node) Start(h *hub.Hub) {
	n.bus.mu.Lock()
	n.hub = h
	n.bus.nodes = append(n.bus.nodes, n)
	n.bus.mu.Unlock()
}

// Interest implements hub.Backplane.
func (n *Node) Interest(pattern, group string, add bool) error {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	if add {
		n.interests[[2]string{pattern, group}] = true
	} else {
		delete(n.interests, [2]string{pattern, group})
	}
	return nil
}

// Forward implements hub.Backplane: plain subscribers on other nodes and
// one member per queue group anywhere receive the message; room events
// and private messages go to every other node.
func (n *Node) Forward(m *hub.Message) error {
	type target struct {
		node  *Node
		group string
	}
	var plain []*Node
	var targets []target
	n.bus.mu.Lock()
	groups := make(map[string][]*Node)
	for _, o := range n.bus.nodes {
		if m.Kind != hub.KindMessage {
			if o != n {
				plain = append(plain, o)
			}
			continue
		}
		wantPlain := false
		seen := make(map[string]bool)
		for k := range o.interests {
			if !hub.Match(k[0], m.Topic) {
				continue
			}
			if k[1] == "" {
				wantPlain = true
			} else if !seen[k[1]] {
				seen[k[1]] = true
				groups[k[1]] = append(groups[k[1]], o)
			}
		}
		if wantPlain && o != n {
			plain = append(plain, o)
		}
	}
	for g, nodes := range groups {
		n.bus.next++
		targets = append(targets, target{nodes[int(n.bus.next%uint64(len(nodes)))], g})
	}
	n.bus.mu.Unlock()
	for _, o := range plain {
		o.hub.DeliverRemote(clone(m), "")
	}
	for _, t := range targets {
		t.node.hub.DeliverRemote(clone(m), t.group)
	}
	return nil
}

// clone copies what travels on a wire, as a real backplane would.
func clone(m *hub.Message) *hub.Message {
	return &hub.Message{Kind: m.Kind, Topic: m.Topic, From: m.From, To: m.To, Text: m.Text,
		Seq: m.Seq, Time: m.Time, SenderNode: m.SenderNode, SenderID: m.SenderID}
}
