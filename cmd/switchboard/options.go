package main

import (
	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/config"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// envPrefix starts every setting's environment variable:
// SWITCHBOARD_TCP_ADDR for --tcp-addr.
const envPrefix = "SWITCHBOARD_"

// Defaults of the settings main applies itself.
const (
	defaultGCPercent = 200
	defaultLogFormat = "text"
	defaultLogLevel  = "info"
)

// runtimeOpts are the settings that main applies itself rather than the
// server.
type runtimeOpts struct {
	configFile          string
	tables              fileTables // the config file's tables
	logFormat, logLevel string
	gcPercent           int
}

// fileTables are the config file's tables, decoded strictly: a table, or
// a key in one, without a field here is an error naming it and its line.
// Load copies them into the server's configuration (apply).
type fileTables struct {
	Users     []identity.User     `toml:"user"`      // [[user]]: docs/security.md
	Anonymous *identity.Anonymous `toml:"anonymous"` // [anonymous]
	History   []historyTable      `toml:"history"`   // [[history]]: tables.go, docs/history.md
}

// apply puts the tables into cfg.
func (t *fileTables) apply(cfg *server.Config) {
	cfg.Auth.Users, cfg.Auth.Anonymous = t.Users, t.Anonymous
}

// serveOptions declares every setting of `switchboard serve` once: its
// flag (and so environment variable), the field it sets, its default (the
// owning package's constant), its usage line, and whether SIGHUP may change
// it. docs/configuration.md describes the same table.
func serveOptions(cfg *server.Config, rt *runtimeOpts) *config.Set {
	s := config.New("switchboard serve", envPrefix)
	s.Tables(&rt.tables)
	s.File(&rt.configFile, "config", "TOML config file: any setting below as a top-level key without the dashes (max-pending = \"64KiB\"); flags and environment win over it; SIGHUP reloads it")

	// Doors.
	s.String(&cfg.TCP.Addr, "tcp-addr", tcpfront.DefaultAddr, "TCP (line protocol) listen address")
	s.String(&cfg.Web.Addr, "http-addr", webfront.DefaultAddr, "HTTP (web) listen address; empty disables the web door")
	s.String(&cfg.TCP.TLSAddr, "tcp-tls-addr", "", "TCP listen address of the line protocol over TLS (openssl s_client -connect HOST:PORT); needs --tls-cert and --tls-key or --tls-self-signed; empty = off")
	s.String(&cfg.TCP.Banner, "banner", tcpfront.DefaultBanner, "welcome sentence of the TCP banner; the nick and the /help hint follow it")

	// Limits.
	config.Size(s, &cfg.TCP.MaxLine, "max-line", tcpfront.DefaultMaxLine, "longest accepted line-protocol line, not counting the line ending")
	config.Size(s, &cfg.Session.MaxPending, "max-pending", session.DefaultMaxPending, "per-client outbound queue limit; over it the client is disconnected as a slow consumer (a reload applies to new connections)").Reloadable()
	s.Float(&cfg.Session.RateLimit, "rate-limit", 0, "per-client publish limit in messages per second, also per IP for HTTP publishes; 0 = off (a reload applies to new connections)").Reloadable()
	s.Int(&cfg.Session.RateBurst, "rate-burst", session.DefaultRateBurst, "messages a client may publish at once above --rate-limit (a reload applies to new connections)").Reloadable()
	s.Int(&cfg.Limits.MaxConns, "max-conns", 0, "maximum concurrent connections over all doors; 0 = unlimited").Reloadable()
	s.Int(&cfg.Limits.MaxConnsPerIP, "max-conns-per-ip", 0, "maximum concurrent connections per client IP; 0 = unlimited").Reloadable()
	s.Int(&cfg.FDReserve, "fd-reserve", server.DefaultFDReserve, "file descriptors kept back below the process limit (ulimit -n): past the rest, new clients are refused cleanly (TCP \"! server full\", HTTP 503) and /healthz still answers; negative = none")
	s.Duration(&cfg.Limits.IdleTimeout, "idle-timeout", 0, "disconnect clients of every door that show no sign of life for this long (TCP: send nothing; WebSocket: send nothing and answer no ping; SSE: take no writes); 0 = never").Reloadable()
	config.Size(s, &cfg.TCP.SendBuffer, "tcp-sndbuf", 0, "socket send buffer of TCP clients (SO_SNDBUF; Linux doubles it); 0 = the kernel's autotuning (up to a few MiB)")
	s.Duration(&cfg.TCP.KeepAlive, "tcp-keepalive", tcpfront.DefaultKeepAlive, "TCP keepalive probe interval for TCP clients (dead peers are found after ~10 unanswered probes); negative = off")
	s.Duration(&cfg.TCP.ParkAfter, "park-after", tcpfront.DefaultParkAfter, "idle time after which a TCP connection gives up its goroutine and waits in an epoll set (Linux); negative (e.g. -1s) = never")
	s.Duration(&cfg.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "how long a graceful shutdown lets queues drain and requests finish; past it everything is cut and the process exits within a second")

	// Per-client limits, every door (session; docs/security.md).
	s.Int(&cfg.Session.MaxSubs, "max-subs", session.DefaultMaxSubs, "subscriptions a client may hold, rooms included; past it subscribing and joining are refused; negative = unlimited (a reload applies to new connections)").Reloadable()
	s.Int(&cfg.Session.MaxRooms, "max-rooms", session.DefaultMaxRooms, "rooms a client may be a member of; negative = unlimited (a reload applies to new connections)").Reloadable()
	s.Float(&cfg.Session.CommandRate, "command-rate", session.DefaultCommandRate, "per-client limit of requests other than publishing ones (subscribe, join, listings, ping …) per second; past it they are refused; negative = off (a reload applies to new connections)").Reloadable()
	s.Int(&cfg.Session.CommandBurst, "command-burst", session.DefaultCommandBurst, "requests a client may send at once above --command-rate (a reload applies to new connections)").Reloadable()
	s.Int(&cfg.Session.MaxList, "max-list", session.DefaultMaxList, "entries a listing (/rooms, /who) shows before \"… and N more\"; never more than fit in an eighth of --max-pending (a reload applies to new connections)").Reloadable()
	config.Size(s, &cfg.Session.PendingSoft, "pending-soft", 0, "soft outbound queue limit: a client whose queue stays over it for --pending-soft-for is cut as a slow consumer; 0 = a quarter of --max-pending; --max-pending or more = only the hard limit (a reload applies to new connections)").Reloadable()
	s.Duration(&cfg.Session.PendingSoftFor, "pending-soft-for", session.DefaultPendingSoftFor, "how long a client's queue may stay over --pending-soft (a reload applies to new connections)").Reloadable()

	// Web door.
	s.String(&cfg.Auth.PublishToken, "publish-token", "", "shorthand identity: when set, publishing on every door needs this token (line: /auth TOKEN; web: Authorization: Bearer TOKEN or ?token=); empty = open; prefer the environment, which ps does not show").Secret().Reloadable()
	s.String(&cfg.Auth.SubscribeToken, "subscribe-token", "", "shorthand identity: when set, subscribing on every door needs this token (or the publish token); empty = open").Secret().Reloadable()
	s.String(&cfg.Auth.JWT.SecretFile, "jwt-secret-file", "", "file holding the HMAC secret (32 bytes or more) of HS256 JWTs to accept as credentials; sub is the identity, exp is required (docs/security.md)").Reloadable()
	s.String(&cfg.Auth.JWT.PublicKeyFile, "jwt-public-key", "", "PEM file of the public key(s) of RS256, ES256 or EdDSA JWTs to accept").Reloadable()
	s.String(&cfg.Auth.JWT.JWKSFile, "jwks-file", "", "JSON Web Key Set file of the keys of JWTs to accept, chosen by kid").Reloadable()
	s.String(&cfg.Web.AdminToken, "admin-token", "", "when set, /metrics and /api/stats need Authorization: Bearer TOKEN (or ?token=; open the dashboard as /dashboard?token=TOKEN)").Secret()
	s.String(&cfg.AdminAddr, "admin-addr", "", "serve /metrics, /api/stats and the dashboard on this address (e.g. 127.0.0.1:9090) and not on --http-addr; empty = on the web door")
	s.List(&cfg.Web.AllowedOrigins, "allowed-origins", nil, "comma-separated Origin host patterns accepted besides the same origin for WebSocket and HTTP publish, e.g. \"*.example.com,localhost:3000\"; \"*\" = any")
	s.List(&cfg.Web.AllowedHosts, "allowed-hosts", nil, "comma-separated Host header patterns the web door answers, e.g. \"chat.example.com,*.example.org\"; \"*\" = any; empty = any when listening on all interfaces, else the listen host, localhost and loopback addresses; others get 403")
	s.Duration(&cfg.Web.SSEKeepalive, "sse-keepalive", webfront.DefaultSSEKeepalive, "interval of SSE keepalive comments")
	config.Size(s, &cfg.Web.MaxBody, "max-body", webfront.DefaultMaxBody, "HTTP publish body limit; larger bodies get 413")
	config.Size(s, &cfg.Web.MaxMessage, "max-ws-message", webfront.DefaultMaxMessage, "WebSocket message size limit; larger messages close the connection (1009)")

	// TLS, every door (docs/security.md#tls).
	s.String(&cfg.TLS.CertFile, "tls-cert", "", "PEM certificate chain; with --tls-key the web door serves HTTPS and WSS only, and --tcp-tls-addr the line protocol over TLS (TLS 1.2 minimum); SIGHUP reads it again for new connections, a file that fails to load keeps the running one").Reloadable()
	s.String(&cfg.TLS.KeyFile, "tls-key", "", "PEM private key of --tls-cert").Reloadable()
	s.String(&cfg.TLS.ClientCAFile, "tls-client-ca", "", "PEM bundle of CAs: every TLS client must present a certificate they sign, and its common name becomes the client's identity; empty = no client certificates").Reloadable()
	s.Bool(&cfg.TLS.SelfSigned, "tls-self-signed", false, "for trials: serve TLS with a certificate generated in memory for localhost, 127.0.0.1 and ::1; its SHA-256 fingerprint is logged")

	// History (docs/history.md).
	s.Int(&cfg.History.Keep, "history", history.DefaultKeep, "messages each topic keeps for resume (since=) and /history; 0 = off")
	s.Duration(&cfg.History.MaxAge, "history-max-age", history.DefaultMaxAge, "how long a kept message stays at most")
	config.Size(s, &cfg.History.MaxBytes, "history-max-bytes", history.DefaultMaxBytes, "memory for kept messages over all topics; past it the oldest message of any topic goes first")
	s.String(&cfg.StoreDir, "store", "", "directory where history is kept across restarts on this node (JetStream's file store in an embedded NATS server); empty = memory only, a restart loses it; with --cluster, only with --nats-embed and --cluster-history: the embedded NATS's JetStream keeps the cluster's history there")
	s.List(&cfg.HistoryRules, "history-rule", nil, "per-pattern retention, comma-separated PATTERN=KEEP[/MAXAGE][/drop-oldest], first match wins (before the config file's [[history]] tables), e.g. \"alerts.>=1000/24h,metrics.>=0,prices.>=10/drop-oldest\"; drop-oldest: a subscriber that falls behind on those topics loses their oldest queued messages, with a gap marker, instead of being disconnected")

	// Cluster (docs/cluster.md).
	s.List(&cfg.Cluster.URLs, "cluster", nil, "NATS server URLs, comma-separated (nats://host:4222,nats://host2:4222); empty = single node, everything in memory")
	s.String(&cfg.Cluster.ClusterName, "cluster-name", natsbp.DefaultClusterName, "cluster name, so several independent clusters can share one NATS")
	s.String(&cfg.Cluster.NodeName, "node-name", "", "this node's name, unique in the cluster; short names (<= 10 chars) also prefix guest nicks; empty = host name + random suffix")
	s.Bool(&cfg.Cluster.Optional, "cluster-optional", false, "start even when NATS is unreachable: serve local clients and keep retrying")
	s.Bool(&cfg.Cluster.History, "cluster-history", false, "keep history in JetStream on the cluster's NATS (nats-server -js, or --nats-embed with JetStream): one numbering per topic for the whole cluster, so a client resumes on any node; needs --cluster or --nats-embed; default = each node keeps its own in memory")
	s.Int(&cfg.Cluster.HistoryReplicas, "cluster-history-replicas", 1, "copies of the --cluster-history stream JetStream keeps; more than 1 needs a clustered NATS with JetStream")
	s.String(&cfg.Cluster.EmbedAddr, "nats-embed", "", "run an embedded NATS server on this address (e.g. 127.0.0.1:4222) for a zero-infrastructure trial; other nodes can point --cluster at it")
	s.String(&cfg.Cluster.Creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed)")
	s.String(&cfg.Cluster.TLSCA, "nats-tls-ca", "", "CA bundle to verify the NATS server's certificate")
	s.String(&cfg.Cluster.TLSCert, "nats-tls-cert", "", "client certificate for mutual TLS with NATS")
	s.String(&cfg.Cluster.TLSKey, "nats-tls-key", "", "client key for mutual TLS with NATS")
	s.Duration(&cfg.Cluster.Heartbeat, "cluster-heartbeat", natsbp.DefaultHeartbeat, "how often this node announces itself to the others")
	s.Duration(&cfg.Cluster.PeerTimeout, "cluster-peer-timeout", natsbp.DefaultPeerTimeout, "a node silent this long is dead: its members are dropped, and announced as gone, at the next heartbeat (so within this plus --cluster-heartbeat)")
	s.Duration(&cfg.Cluster.PingInterval, "nats-ping-interval", natsbp.DefaultPingInterval, "how often this node pings NATS; 2 unanswered pings (3 intervals) mean NATS is stalled")

	// Runtime and logging.
	s.Int(&rt.gcPercent, "gc-percent", defaultGCPercent, "garbage collector target (runtime/debug.SetGCPercent): heap growth in percent before a collection; 0 = Go's default or $GOGC")
	s.String(&rt.logFormat, "log-format", defaultLogFormat, "log format: text or json")
	s.String(&rt.logLevel, "log-level", defaultLogLevel, "log level: debug, info, warn or error").Reloadable()
	return s
}
