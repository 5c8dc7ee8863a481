package webfront

// readyText is the /readyz body: "ready", and the cluster state when the
// node is cut off. A node cut off from NATS stays ready on purpose: it
// still serves its own clients, and taking every node out of rotation
// when NATS fails would turn a degraded cluster into an outage.
func (f *Front) readyText() string {
	h, ok := f.collector.Cluster()
	if !ok {
		return "ready\n"
	}
	if st := h.State; st != "connected" {
		return "ready; cluster " + st + ": serving local clients only\n"
	}
	return "ready; cluster connected\n"
}
