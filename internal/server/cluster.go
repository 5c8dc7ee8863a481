package server

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	// node connects to it. With History, it runs JetStream, storing in
	// Config.StoreDir (or in a temporary directory, removed at shutdown).
	EmbedAddr string
	// History keeps the cluster's history in JetStream on the cluster's
	// NATS instead of in each node's memory (--cluster-history): one
	// numbering per topic for the whole cluster, readable on every node
	// (natsbp.ClusterHistory, docs/history.md).
	History bool
	// HistoryReplicas is how many copies of the history stream JetStream
	// keeps (default 1; more needs a clustered NATS).
	HistoryReplicas int
}

// enabled reports whether the node joins a cluster.
func (c ClusterConfig) enabled() bool { return len(c.URLs) > 0 || c.EmbedAddr != "" }

// clusterRun is what a clustered server runs besides its doors.
type clusterRun struct {
	embed  *natsembed.Server
	tmp    string // the embedded JetStream's temporary store, removed at close
	bp     *natsbp.Backplane
	hist   *natsbp.ClusterHistory // with --cluster-history
	closed bool
}

// close closes what run has started, in order: the history, the
// backplane, the embedded NATS and its temporary store.
func (run *clusterRun) close() {
	if run.hist != nil {
		run.hist.Close()
	}
	if run.bp != nil {
		_ = run.bp.Close()
	}
	if run.embed != nil {
		run.embed.Shutdown()
	}
	if run.tmp != "" {
		_ = os.RemoveAll(run.tmp)
	}
}

// errClusterHistoryOff refuses --cluster-history without a history to
// keep.
var errClusterHistoryOff = errors.New("server: --cluster-history needs history (--history or a rule keeping some)")

// setupCluster connects the backplane, if configured, and sets it in the
// hub configuration; with cluster history it also opens the history
// stream and makes it the hub's History. It runs before the hub is built;
// keeps says whether any topic keeps history.
func (s *Server) setupCluster(hcfg *hub.Config, keeps bool) error {
	c := s.cfg.Cluster
	if !c.enabled() {
		return nil
	}
	if c.History && !keeps {
		return errClusterHistoryOff
	}
	run := &clusterRun{}
	if err := s.connectCluster(run, hcfg); err != nil {
		run.close()
		return err
	}
	s.cluster = run
	bp := run.bp
	if s.cfg.Metrics.ClusterStatus == nil {
		s.cfg.Metrics.ClusterStatus = func() any { return bp.Status() }
	}
	if s.cfg.Metrics.ClusterHealth == nil {
		s.cfg.Metrics.ClusterHealth = func() metrics.ClusterHealth {
			st := bp.Status()
			h := metrics.ClusterHealth{State: st.State, Forwarded: st.Forwarded, Received: st.Received,
				ForwardErrors: st.ForwardErrors, ForwardDropped: st.ForwardDropped, MembersLost: st.MembersLost}
			if hs := st.History; hs != nil {
				h.History, h.HistoryUnnumbered, h.HistoryConflicts = true, hs.Unnumbered, hs.Conflicts
			}
			return h
		}
	}
	st := bp.Status()
	s.log.Info("cluster backplane ready", "cluster", st.Cluster, "node", st.Node, "nats", st.URL, "connected", st.Connected,
		"history", historyMode(c))
	return nil
}

// historyMode names where a cluster node keeps history, for the log.
func historyMode(c ClusterConfig) string {
	if c.History {
		return "jetstream"
	}
	return "memory, per node"
}

// connectCluster starts the embedded NATS, if any, connects the
// backplane and, with cluster history, opens the history stream, setting
// what it starts in run and hcfg.
func (s *Server) connectCluster(run *clusterRun, hcfg *hub.Config) error {
	c := s.cfg.Cluster
	bcfg := c.Config
	bcfg.Logger = s.log
	if c.EmbedAddr != "" {
		var e *natsembed.Server
		var err error
		switch dir := s.cfg.StoreDir; {
		case !c.History:
			e, err = natsembed.Start(c.EmbedAddr)
		case dir == "":
			if run.tmp, err = os.MkdirTemp("", "switchboard-jetstream-"); err != nil {
				return fmt.Errorf("server: embedded NATS: JetStream store: %w", err)
			}
			dir = run.tmp
			fallthrough
		default:
			e, err = natsembed.StartJetStream(c.EmbedAddr, dir)
		}
		if err != nil {
			return fmt.Errorf("server: embedded NATS: %w", err)
		}
		run.embed = e
		s.log.Info("embedded NATS listening; point other nodes' --cluster at it", "url", e.ClientURL(), "jetstream", c.History)
		if len(bcfg.URLs) == 0 {
			bcfg.URLs = []string{e.ClientURL()}
		}
	}
	bp, err := natsbp.Connect(bcfg)
	if err != nil {
		return fmt.Errorf("server: cluster: %w (start NATS, fix --cluster, or pass --cluster-optional to start local-only)", err)
	}
	run.bp = bp
	hcfg.Backplane = bp
	hcfg.Presence = bp
	if !c.History {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	h, err := bp.OpenHistory(ctx, natsbp.ClusterHistoryConfig{History: s.cfg.History, Replicas: c.HistoryReplicas})
	if err != nil {
		return fmt.Errorf("server: --cluster-history: %w", err)
	}
	run.hist = h
	hcfg.History = h
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
	if run := s.cluster; run != nil && !run.closed {
		run.closed = true
		run.close()
	}
}
