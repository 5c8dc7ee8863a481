package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// ClusterHealth is the cluster backplane's health as /metrics and the web
// door's /readyz show it (the full status goes to /api/stats through
// Config.ClusterStatus).
type ClusterHealth struct {
	// State is the backplane's connection state: "connected", "stalled",
	// "disconnected" or "closed"; in every state but "connected" the node
	// serves its own clients only.
	State string
	// Forwarded and Received count messages sent to and taken from the
	// other nodes; ForwardErrors counts messages kept local because the
	// node was cut off; ForwardDropped those kept local because the
	// forward buffer was full; MembersLost counts remote members dropped
	// with their node.
	Forwarded, Received, ForwardErrors, ForwardDropped, MembersLost uint64
	// History says the cluster history in JetStream is on; then
	// HistoryUnnumbered counts messages it could not take (delivered
	// live without a position, not kept) and HistoryConflicts the
	// publishes retried because another node wrote the topic first.
	History                             bool
	HistoryUnnumbered, HistoryConflicts uint64
}

// clusterStates are the values of the switchboard_cluster_state label.
var clusterStates = []string{"connected", "stalled", "disconnected", "closed"}

var (
	descClusterState = prometheus.NewDesc("switchboard_cluster_state",
		"1 for the backplane's current connection state, 0 for the others.", []string{"state"}, nil)
	descClusterForwarded = prometheus.NewDesc("switchboard_cluster_forwarded_messages_total",
		"Messages sent to the other nodes.", nil, nil)
	descClusterReceived = prometheus.NewDesc("switchboard_cluster_received_messages_total",
		"Messages received from the other nodes.", nil, nil)
	descClusterForwardErrors = prometheus.NewDesc("switchboard_cluster_forward_errors_total",
		"Messages delivered locally only because the node was cut off from NATS.", nil, nil)
	descClusterForwardDropped = prometheus.NewDesc("switchboard_cluster_forward_dropped_messages_total",
		"Messages delivered locally only because the forward buffer was full.", nil, nil)
	descClusterMembersLost = prometheus.NewDesc("switchboard_cluster_members_lost_total",
		"Remote members dropped because their node went silent.", nil, nil)
	descClusterHistoryUnnumbered = prometheus.NewDesc("switchboard_cluster_history_unnumbered_messages_total",
		"Messages the cluster history in JetStream could not take: delivered live without a position, not kept.", nil, nil)
	descClusterHistoryConflicts = prometheus.NewDesc("switchboard_cluster_history_conflicts_total",
		"Publishes to the cluster history retried because another node wrote the topic first.", nil, nil)
)

// clusterCollector reads ClusterHealth at scrape time.
type clusterCollector struct{ health func() ClusterHealth }

// Describe implements prometheus.Collector.
func (clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClusterState, descClusterForwarded, descClusterReceived,
		descClusterForwardErrors, descClusterForwardDropped, descClusterMembersLost,
		descClusterHistoryUnnumbered, descClusterHistoryConflicts} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.health()
	for _, s := range clusterStates {
		v := 0.0
		if s == h.State {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descClusterState, prometheus.GaugeValue, v, s)
	}
	for d, v := range map[*prometheus.Desc]uint64{descClusterForwarded: h.Forwarded, descClusterReceived: h.Received,
		descClusterForwardErrors: h.ForwardErrors, descClusterForwardDropped: h.ForwardDropped, descClusterMembersLost: h.MembersLost} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	if h.History {
		ch <- prometheus.MustNewConstMetric(descClusterHistoryUnnumbered, prometheus.CounterValue, float64(h.HistoryUnnumbered))
		ch <- prometheus.MustNewConstMetric(descClusterHistoryConflicts, prometheus.CounterValue, float64(h.HistoryConflicts))
	}
}

// Cluster returns the backplane's health, and false on a single node
// (Config.ClusterHealth unset).
func (c *Collector) Cluster() (ClusterHealth, bool) {
	if c.cluster == nil {
		return ClusterHealth{}, false
	}
	return c.cluster(), true
}
