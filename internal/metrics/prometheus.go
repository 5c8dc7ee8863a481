package metrics

import (
	"fmt"
	"net/http"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// newRegistry returns a Prometheus registry with the Go runtime and
// process collectors and the hub and session counters, read at scrape
// time. It is per Collector, not global.
func newRegistry(h *hub.Hub, reg *session.Registry) (*prometheus.Registry, error) {
	r := prometheus.NewRegistry()
	cs := []prometheus.Collector{
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.MetricsGC, collectors.MetricsScheduler,
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/sched/(latencies|pauses/total/gc):seconds$`)},
		)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		hubCollector{hub: h, reg: reg},
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	return r, nil
}

// Register adds collectors of a door's own (its counters) to the
// registry that /metrics serves; a metric name registered twice is an
// error.
func (c *Collector) Register(cs ...prometheus.Collector) error {
	for _, col := range cs {
		if err := c.prom.Register(col); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (c *Collector) Handler() http.Handler {
	return promhttp.HandlerFor(c.prom, promhttp.HandlerOpts{Registry: c.prom})
}

// Descriptions of the hub and session metrics, named
// switchboard_<subsystem>_<name>_<unit>.
var (
	descConns = prometheus.NewDesc("switchboard_session_connections",
		"Live sessions (connections) by door.", []string{"door"}, nil)
	descAccepted = prometheus.NewDesc("switchboard_session_accepted_connections_total",
		"Connections admitted since start.", nil, nil)
	descRejected = prometheus.NewDesc("switchboard_session_rejected_connections_total",
		"Connections refused by connection limits.", nil, nil)
	descSessPublished = prometheus.NewDesc("switchboard_session_published_messages_total",
		"Messages published by sessions (all doors but HTTP publish).", nil, nil)
	descSessDelivered = prometheus.NewDesc("switchboard_session_delivered_messages_total",
		"Messages, events and private messages queued to sessions.", nil, nil)
	descBytesOut = prometheus.NewDesc("switchboard_session_sent_bytes_total",
		"Bytes written to clients.", nil, nil)
	descWrites = prometheus.NewDesc("switchboard_session_writes_total",
		"Batched writes to clients (one writev each on TCP).", nil, nil)
	descFramesOut = prometheus.NewDesc("switchboard_session_sent_frames_total",
		"Frames (lines, WebSocket messages, SSE events) written to clients; divided by writes it is the coalescing factor.", nil, nil)
	descSlow = prometheus.NewDesc("switchboard_session_slow_consumers_total",
		"Sessions disconnected because their outbound queue overflowed.", nil, nil)
	descRateLimited = prometheus.NewDesc("switchboard_session_rate_limited_messages_total",
		"Publishes refused by the per-session rate limit.", nil, nil)
	descWriteErrors = prometheus.NewDesc("switchboard_session_write_errors_total",
		"Sessions ended by a write error.", nil, nil)
	descViolations = prometheus.NewDesc("switchboard_session_violations_total",
		"Requests refused for a bad credential (kind auth) or a permission (publish, subscribe, nick), by door.", []string{"door", "kind"}, nil)
	descQueued = prometheus.NewDesc("switchboard_session_queued_bytes",
		"Bytes waiting in all outbound queues (queue depth).", nil, nil)
	descClients = prometheus.NewDesc("switchboard_hub_clients",
		"Clients connected to the hub.", nil, nil)
	descRooms = prometheus.NewDesc("switchboard_hub_rooms",
		"Rooms with at least one member.", nil, nil)
	descSubs = prometheus.NewDesc("switchboard_hub_subscriptions",
		"Subscriptions, room memberships included.", nil, nil)
	descTopics = prometheus.NewDesc("switchboard_hub_topics",
		"Topics the hub has routed recently (its topic cache).", nil, nil)
	descHubPublished = prometheus.NewDesc("switchboard_hub_published_messages_total",
		"Messages published on this node, from every door.", nil, nil)
	descHubDelivered = prometheus.NewDesc("switchboard_hub_delivered_messages_total",
		"Message deliveries to local subscribers.", nil, nil)
)

// hubCollector reads the hub and registry counters at scrape time.
type hubCollector struct {
	hub *hub.Hub
	reg *session.Registry
}

// Describe implements prometheus.Collector.
func (hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descAccepted, descRejected, descSessPublished, descSessDelivered,
		descBytesOut, descWrites, descFramesOut, descSlow, descRateLimited, descWriteErrors, descQueued, descViolations,
		descClients, descRooms, descSubs, descTopics, descHubPublished, descHubDelivered} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	rs := c.reg.Stats()
	doors := map[string]int{"tcp": 0, "ws": 0, "sse": 0}
	for d, n := range rs.SessionsByDoor {
		doors[d] = n
	}
	for d, n := range doors {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(n), d)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter(descAccepted, rs.Accepted)
	counter(descRejected, rs.Rejected)
	counter(descSessPublished, rs.Published)
	counter(descSessDelivered, rs.Delivered)
	counter(descBytesOut, rs.BytesOut)
	counter(descWrites, rs.Writes)
	counter(descFramesOut, rs.FramesOut)
	counter(descSlow, rs.SlowConsumers)
	counter(descRateLimited, rs.RateLimited)
	counter(descWriteErrors, rs.WriteErrors)
	gauge(descQueued, rs.QueuedBytes)
	for v, n := range c.reg.Violations() {
		ch <- prometheus.MustNewConstMetric(descViolations, prometheus.CounterValue, float64(n), v.Door, v.Kind)
	}
	hs := c.hub.Stats()
	gauge(descClients, hs.Clients)
	gauge(descRooms, hs.Rooms)
	gauge(descSubs, hs.Subscriptions)
	gauge(descTopics, hs.Topics)
	counter(descHubPublished, hs.Published)
	counter(descHubDelivered, hs.Delivered)
}
