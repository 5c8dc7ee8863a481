// Package metrics is the server's view of itself: the Go runtime, the
// process (/proc readings), the hub and the sessions, as Prometheus
// metrics and as the Stats document the dashboard draws. The server owns
// one Collector whether or not a web door runs; the web door only serves
// it (GET /metrics, GET /api/stats) and registers its own counters on it.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// DefaultHistory is how many one-second samples a Collector keeps for the
// dashboard's charts by default (five minutes).
const DefaultHistory = 300

// Config configures a Collector. Zero values mean the documented defaults.
type Config struct {
	// History is how many one-second samples Stats(true) returns
	// (default DefaultHistory).
	History int
	// ClusterStatus, when set, is called for the "cluster" field of
	// Stats; its result must marshal to JSON.
	ClusterStatus func() any
	// ClusterHealth, when set, adds the switchboard_cluster_* metrics
	// (read at scrape time) and the cluster state Cluster returns.
	ClusterHealth func() ClusterHealth
}

// Collector gathers the numbers of one server: a Prometheus registry (the
// Go runtime and process collectors, the hub and session counters read at
// scrape time, and whatever doors Register) and a sampler that takes a
// Stats snapshot every second while Run runs, for rates and charts. Its
// methods are safe for concurrent use.
type Collector struct {
	prom    *prometheus.Registry
	stats   *sampler
	cluster func() ClusterHealth // nil on a single node

	mu  sync.Mutex // guards run
	run bool       // Run has been called
}

// New returns a Collector over the server's hub and session registry.
func New(h *hub.Hub, reg *session.Registry, cfg Config) (*Collector, error) {
	if cfg.History <= 0 {
		cfg.History = DefaultHistory
	}
	prom, err := newRegistry(h, reg)
	if err != nil {
		return nil, err
	}
	c := &Collector{prom: prom, stats: newSampler(h, reg, cfg.ClusterStatus, cfg.History), cluster: cfg.ClusterHealth}
	if c.cluster != nil {
		if err := c.Register(clusterCollector{health: c.cluster}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Run samples Stats every second until quit is closed. The owner runs it
// once, on a goroutine it waits for; a second call returns at once.
func (c *Collector) Run(quit <-chan struct{}) {
	c.mu.Lock()
	if c.run {
		c.mu.Unlock()
		return
	}
	c.run = true
	c.mu.Unlock()
	c.stats.run(quit)
}

// Stats returns a fresh snapshot with the rates and windowed percentiles
// of the latest sample and, with history, the samples kept (oldest
// first).
func (c *Collector) Stats(history bool) Stats { return c.stats.current(history) }
