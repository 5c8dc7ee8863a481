package main

import (
	"flag"

	"github.com/switchboard-hub/switchboard/internal/server"
)

// clusterFlags binds the cluster flags (see docs/cluster.md) to cfg.
func clusterFlags(fs *flag.FlagSet, cfg *server.ClusterConfig) {
	fs.StringVar(&cfg.URLs, "cluster", "", "NATS server URLs, comma-separated (nats://host:4222,nats://host2:4222); empty = single node, everything in memory")
	fs.StringVar(&cfg.Name, "cluster-name", "default", "cluster name, so several independent clusters can share one NATS")
	fs.StringVar(&cfg.NodeName, "node-name", "", "this node's name, unique in the cluster; short names (<= 10 chars) also prefix guest nicks (default: host name + random suffix)")
	fs.BoolVar(&cfg.Optional, "cluster-optional", false, "start even when NATS is unreachable: serve local clients and keep retrying")
	fs.StringVar(&cfg.EmbedAddr, "nats-embed", "", "run an embedded NATS server on this address (e.g. 127.0.0.1:4222) for a zero-infrastructure trial; other nodes can point --cluster at it")
	fs.StringVar(&cfg.Creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed)")
	fs.StringVar(&cfg.TLSCA, "nats-tls-ca", "", "CA bundle to verify the NATS server's certificate")
	fs.StringVar(&cfg.TLSCert, "nats-tls-cert", "", "client certificate for mutual TLS with NATS")
	fs.StringVar(&cfg.TLSKey, "nats-tls-key", "", "client key for mutual TLS with NATS")
}
