package server

import (
	"errors"
	"fmt"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/metrics"
)

// ClusterConfig configures the NATS backplane: the backplane's own
// configuration plus the embedded NATS server. The zero value means a
// single node with everything in memory; see docs/cluster.md.
type ClusterConfig struct {
	// Config is the backplane's configuration. Empty URLs means no
	// cluster, unless EmbedAddr is set; New sets Logger.
	natsbp.Config
	// EmbedAddr, when set, runs an embedded NATS server listening there
	// (host:port) that this and other nodes can use; with URLs empty this
	// node connects to it.
	EmbedAddr string
}

// enabled reports whether the node joins a cluster.
func (c ClusterConfig) enabled() bool { return len(c.URLs) > 0 || c.EmbedAddr != "" }

// clusterRun is what a clustered server runs besides its doors.
type clusterRun struct {
	embed *natsembed.Server
	bp    *natsbp.Backplane
}

// setupCluster connects the backplane, if configured, and sets it in the
// hub configuration. It runs before the hub is built.
func (s *Server) setupCluster(hcfg *hub.Config) error {
	c := s.cfg.Cluster
	if !c.enabled() {
		return nil
	}
	run := &clusterRun{}
	bcfg := c.Config
	bcfg.Logger = s.log
	if c.EmbedAddr != "" {
		e, err := natsembed.Start(c.EmbedAddr)
		if err != nil {
			return fmt.Errorf("server: embedded NATS: %w", err)
		}
		run.embed = e
		s.log.Info("embedded NATS listening; point other nodes' --cluster at it", "url", e.ClientURL())
		if len(bcfg.URLs) == 0 {
			bcfg.URLs = []string{e.ClientURL()}
		}
	}
	bp, err := natsbp.Connect(bcfg)
	if err != nil {
		if run.embed != nil {
			run.embed.Shutdown()
		}
		return fmt.Errorf("server: cluster: %w (start NATS, fix --cluster, or pass --cluster-optional to start local-only)", err)
	}
	run.bp = bp
	hcfg.Backplane = bp
	hcfg.Presence = bp
	s.cluster = run
	if s.cfg.Metrics.ClusterStatus == nil {
		s.cfg.Metrics.ClusterStatus = func() any { return bp.Status() }
	}
	if s.cfg.Metrics.ClusterHealth == nil {
		s.cfg.Metrics.ClusterHealth = func() metrics.ClusterHealth {
			st := bp.Status()
			return metrics.ClusterHealth{State: st.State, Forwarded: st.Forwarded, Received: st.Received,
				ForwardErrors: st.ForwardErrors, ForwardDropped: st.ForwardDropped, MembersLost: st.MembersLost}
		}
	}
	st := bp.Status()
	s.log.Info("cluster backplane ready", "cluster", st.Cluster, "node", st.Node, "nats", st.URL, "connected", st.Connected)
	return nil
}

// startCluster hands the hub to the backplane, so that messages from other
// nodes reach it and the node takes part in cluster presence. It runs
// once the hub exists, before any door serves.
func (s *Server) startCluster() error {
	run := s.cluster
	if run == nil {
		return nil
	}
	if err := run.bp.Start(s.hub); err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	return nil
}

// ErrNoCluster is returned by ClusterStatus on a single node.
var ErrNoCluster = errors.New("server: not clustered")

// ClusterStatus returns the backplane's state, or ErrNoCluster.
func (s *Server) ClusterStatus() (natsbp.Status, error) {
	if run := s.cluster; run != nil {
		return run.bp.Status(), nil
	}
	return natsbp.Status{}, ErrNoCluster
}

// closeCluster closes the durable history store (--store), if any, and
// disconnects the backplane, if any. It runs after every session has
// ended, so every kept message has been written and the other nodes hear
// every local member leave, then a goodbye.
func (s *Server) closeCluster() {
	if err := s.store.close(); err != nil {
		s.log.Warn("history store closed with writes unacknowledged", "err", err)
	}
	s.store = nil
	run := s.cluster
	if run == nil {
		return
	}
	if run.bp != nil {
		_ = run.bp.Close()
	}
	if run.embed != nil {
		run.embed.Shutdown()
	}
}
