package server

import "github.com/switchboard-hub/switchboard/internal/hub"

// ClusterConfig configures the NATS backplane. The zero value means a
// single node with everything in memory.
type ClusterConfig struct{}

// setupCluster connects the backplane, if configured, and sets it in the
// hub configuration. It runs before the hub is built.
func (s *Server) setupCluster(hcfg *hub.Config) error { return nil }

// closeCluster disconnects the backplane, if any. It runs after every
// session has ended.
func (s *Server) closeCluster() {}
