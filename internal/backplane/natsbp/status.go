package natsbp

import (
	"time"
)

// Status is a snapshot of the backplane for /api/stats and the dashboard.
type Status struct {
	Cluster   string `json:"cluster"`
	Node      string `json:"node"`
	Connected bool   `json:"connected"`
	// State is "connected"; "stalled" while NATS does not answer (the
	// server stopped reading: no PONG to the last pings, or a write
	// blocked on full TCP buffers); "disconnected" while the connection
	// is down and NATS refuses new ones; "closed" after Close. In every
	// state but "connected" the node serves its own clients only.
	State string `json:"state"`
	// URL is the NATS server in use (or last used), without credentials.
	URL string `json:"url,omitempty"`
	// Warning is set while the node is cut off from NATS.
	Warning string `json:"warning,omitempty"`
	// DisconnectedFor is how long the node has been cut off, if it is.
	DisconnectedFor string `json:"disconnected_for,omitempty"`
	// Peers are the other nodes this node hears from.
	Peers     []PeerStatus `json:"peers"`
	Interests int          `json:"interests"`
	// InterestsPending counts interest changes not yet applied and
	// confirmed by NATS; InterestsLate counts subscriptions NATS did not
	// confirm within Config.InterestWait; InterestErrors counts
	// subscriptions NATS refused (they stayed local).
	InterestsPending int    `json:"interests_pending"`
	InterestsLate    uint64 `json:"interests_late"`
	InterestErrors   uint64 `json:"interest_errors"`
	Reconnects       uint64 `json:"reconnects"`
	// Stalls counts the times NATS was declared stalled.
	Stalls uint64 `json:"stalls"`
	// Forwarded and Received count messages sent to and taken from NATS;
	// ForwardErrors counts messages that stayed local because the node
	// was cut off from NATS; ForwardDropped counts messages that stayed
	// local because the forward buffer was full; ForwardQueuedBytes is
	// what waits in that buffer now; SlowConsumer counts NATS
	// slow-consumer errors (drops).
	Forwarded          uint64 `json:"forwarded"`
	Received           uint64 `json:"received"`
	ForwardErrors      uint64 `json:"forward_errors"`
	ForwardDropped     uint64 `json:"forward_dropped"`
	ForwardQueuedBytes int64  `json:"forward_queued_bytes"`
	SlowConsumer       uint64 `json:"slow_consumer"`
	BadMessages        uint64 `json:"bad_messages"`
	// GroupUndelivered counts queue-group messages whose publisher was
	// the only member NATS found after every retry (see regroup).
	GroupUndelivered uint64 `json:"group_undelivered"`
	// LateDropped counts messages from another node dropped because they
	// arrived after that node had reconnected (see Backplane.decode).
	LateDropped uint64 `json:"late_dropped"`
	// MembersLost counts remote members dropped because their node went
	// silent (each was announced to the local members of its rooms).
	MembersLost uint64 `json:"members_lost"`
	// NicksRenamed counts local clients renamed because another node's
	// client had claimed the same nick first (during a partition).
	NicksRenamed uint64 `json:"nicks_renamed"`
	// History is the cluster history's state, with --cluster-history.
	History *HistoryStatus `json:"history,omitempty"`
}

// HistoryStatus is the cluster history's part of Status.
type HistoryStatus struct {
	// Stream is the JetStream stream holding the history.
	Stream string `json:"stream"`
	// Connected says whether its NATS connection is up.
	Connected bool `json:"connected"`
	// Unnumbered counts messages published while the history could not
	// take them: delivered live without a position, not kept.
	Unnumbered uint64 `json:"unnumbered"`
	// Conflicts counts publishes retried because another node had
	// written the topic in between.
	Conflicts uint64 `json:"conflicts"`
	// ReadErrors counts topics a read could not get from the stream
	// (reported to the client as a gap).
	ReadErrors uint64 `json:"read_errors"`
}

// Status returns the backplane's current state. It never waits on NATS.
func (b *Backplane) Status() Status {
	st := Status{
		Cluster:            b.cfg.ClusterName,
		Node:               b.cfg.NodeName,
		State:              b.stateName(),
		Peers:              b.pres.peerStatus(),
		Reconnects:         b.reconnects.Load(),
		Stalls:             b.stalls.Load(),
		InterestsLate:      b.interestLate.Load(),
		InterestErrors:     b.interestErrors.Load(),
		Forwarded:          b.forwarded.Load(),
		Received:           b.received.Load(),
		ForwardErrors:      b.forwardErrors.Load(),
		ForwardDropped:     b.forwardDropped.Load(),
		ForwardQueuedBytes: b.outBytes.Load(),
		SlowConsumer:       b.slowConsumer.Load(),
		BadMessages:        b.badMessages.Load(),
		GroupUndelivered:   b.groupUndelivered.Load(),
		LateDropped:        b.late.Load(),
		MembersLost:        b.pres.membersLost.Load(),
		NicksRenamed:       b.pres.nicksRenamed.Load(),
	}
	st.Connected = st.State == "connected"
	if h := b.hist.Load(); h != nil {
		st.History = &HistoryStatus{Stream: h.streamName, Connected: h.up.Load(), Unnumbered: h.unnumbered.Load(),
			Conflicts: h.conflicts.Load(), ReadErrors: h.readErrors.Load()}
	}
	b.smu.Lock()
	st.URL = b.url
	if !st.Connected {
		st.Warning = b.lastErr
		if !b.disconnected.IsZero() {
			st.DisconnectedFor = time.Since(b.disconnected).Round(time.Millisecond).String()
		}
	}
	b.smu.Unlock()
	b.imu.Lock()
	st.Interests = len(b.subs)
	b.imu.Unlock()
	b.qmu.Lock()
	st.InterestsPending = b.ibacklog
	b.qmu.Unlock()
	return st
}
