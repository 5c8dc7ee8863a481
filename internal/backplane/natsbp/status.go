package natsbp

import (
	"time"

	"github.com/nats-io/nats.go"
)

// Status is a snapshot of the backplane for /api/stats and the dashboard.
type Status struct {
	Cluster   string `json:"cluster"`
	Node      string `json:"node"`
	Connected bool   `json:"connected"`
	// State is "connected", "reconnecting" or "closed".
	State string `json:"state"`
	// URL is the NATS server in use, without credentials.
	URL string `json:"url,omitempty"`
	// Warning is set while the node is cut off from NATS.
	Warning string `json:"warning,omitempty"`
	// DisconnectedFor is how long the node has been cut off, if it is.
	DisconnectedFor string `json:"disconnected_for,omitempty"`
	// Peers are the other nodes this node hears from.
	Peers      []PeerStatus `json:"peers"`
	Interests  int          `json:"interests"`
	Reconnects uint64       `json:"reconnects"`
	// Forwarded and Received count messages sent to and taken from NATS;
	// ForwardErrors counts messages that stayed local because NATS was
	// unreachable; SlowConsumer counts NATS slow-consumer errors (drops).
	Forwarded     uint64 `json:"forwarded"`
	Received      uint64 `json:"received"`
	ForwardErrors uint64 `json:"forward_errors"`
	SlowConsumer  uint64 `json:"slow_consumer"`
	BadMessages   uint64 `json:"bad_messages"`
}

// Status returns the backplane's current state.
func (b *Backplane) Status() Status {
	st := Status{
		Cluster:       b.cfg.ClusterName,
		Node:          b.cfg.NodeName,
		Connected:     b.nc.IsConnected(),
		URL:           b.nc.ConnectedUrlRedacted(),
		Peers:         b.pres.peerStatus(),
		Reconnects:    b.reconnects.Load(),
		Forwarded:     b.forwarded.Load(),
		Received:      b.received.Load(),
		ForwardErrors: b.forwardErrors.Load(),
		SlowConsumer:  b.slowConsumer.Load(),
		BadMessages:   b.badMessages.Load(),
	}
	switch b.nc.Status() {
	case nats.CONNECTED:
		st.State = "connected"
	case nats.CLOSED:
		st.State = "closed"
	default:
		st.State = "reconnecting"
	}
	if !st.Connected {
		b.smu.Lock()
		st.Warning = b.lastErr
		if !b.disconnected.IsZero() {
			st.DisconnectedFor = time.Since(b.disconnected).Round(time.Millisecond).String()
		}
		b.smu.Unlock()
	}
	b.imu.Lock()
	st.Interests = len(b.subs)
	b.imu.Unlock()
	return st
}
