package natsbp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// DefaultClusterName is the default Config.ClusterName.
const DefaultClusterName = "default"

// Defaults of the failure detectors (see Config and docs/cluster.md): a
// node silent for DefaultPeerTimeout is dropped at the next heartbeat
// tick, so within DefaultPeerTimeout+DefaultHeartbeat; a NATS that does
// not answer for (DefaultMaxPingsOut+1)×DefaultPingInterval is stalled.
const (
	DefaultHeartbeat    = time.Second
	DefaultPeerTimeout  = 3 * DefaultHeartbeat
	DefaultPingInterval = time.Second
	DefaultMaxPingsOut  = 2
)

// Config configures a Backplane. Zero values mean the documented defaults;
// URLs is the only required field.
type Config struct {
	// URLs are the NATS servers to connect to (nats:// or tls://); the
	// client picks one and fails over to the others.
	URLs []string
	// ClusterName separates independent switchboard clusters sharing one
	// NATS: every subject is under Prefix.ClusterName. Default
	// DefaultClusterName.
	ClusterName string
	// NodeName names this node in logs, status and (when short) its guest
	// nicks; it should be unique in the cluster. Default: the host name
	// plus four random hex digits.
	NodeName string
	// Prefix is the first subject token. Default "switchboard".
	Prefix string
	// Optional starts the node even when NATS is unreachable: it serves
	// its own clients and keeps retrying in the background.
	Optional bool
	// Creds is a NATS credentials file (JWT + nkey seed).
	Creds string
	// TLSCA, TLSCert and TLSKey configure TLS to NATS: a CA bundle to
	// verify the server, and a client certificate and key for mutual TLS.
	TLSCA, TLSCert, TLSKey string
	// Logger receives connection warnings; default slog.Default().
	Logger *slog.Logger
	// Heartbeat is how often the node announces itself to the others
	// (default 1s); PeerTimeout is how long a silent node is still
	// counted as present (default 3×Heartbeat).
	Heartbeat   time.Duration
	PeerTimeout time.Duration
	// ClaimTimeout bounds how long a nick claim waits for the other
	// nodes' answers (default 1s).
	ClaimTimeout time.Duration
	// FlushTimeout bounds how long the interest worker waits for NATS to
	// confirm a batch of subscriptions (default 5s); no client waits
	// that long (see InterestWait).
	FlushTimeout time.Duration
	// InterestWait bounds how long Interest (and so a client's subscribe)
	// waits for NATS to confirm a new subscription while connected
	// (default 1s; negative: never wait). See interest.go for what the
	// "subscribed" reply promises.
	InterestWait time.Duration
	// PingInterval and MaxPingsOut detect a stalled NATS: the node pings
	// NATS every PingInterval (default 1s) and declares it stalled when
	// MaxPingsOut pings (default 2) are unanswered, that is at most
	// (MaxPingsOut+1)×PingInterval (3s) after NATS stopped answering. A
	// write to NATS blocked for PingInterval also counts (with traffic
	// flowing, the TCP buffers fill and writes block before the pings
	// run out: detection within about 4s then).
	PingInterval time.Duration
	MaxPingsOut  int
	// ForwardBuffer and ForwardBufferBytes bound the messages waiting to
	// be published on NATS (defaults 8192 and 16 MiB); a message that
	// does not fit is delivered locally only and counted.
	ForwardBuffer      int
	ForwardBufferBytes int
	// MaxBackoff is the longest wait between reconnection attempts
	// (default 2s); waits double from 100ms up to it, with jitter. It
	// bounds how long after NATS is back (or a partition heals) the node
	// reconnects, so the heal's bound (docs/cluster.md) depends on it.
	MaxBackoff time.Duration
}

// ErrNoURL is returned when Config.URLs is empty.
var ErrNoURL = errors.New("natsbp: no NATS URL")

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, error) {
	var urls []string
	for _, u := range c.URLs {
		for _, p := range strings.Split(u, ",") {
			if p = strings.TrimSpace(p); p != "" {
				urls = append(urls, p)
			}
		}
	}
	if len(urls) == 0 {
		return c, ErrNoURL
	}
	c.URLs = urls
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.Prefix == "" {
		c.Prefix = "switchboard"
	}
	for _, tok := range []string{c.ClusterName, c.Prefix} {
		if !hub.IsWord(tok) {
			return c, fmt.Errorf("natsbp: bad cluster name or prefix %q: use A-Z a-z 0-9 _ -", tok)
		}
	}
	if c.NodeName == "" {
		host, _ := os.Hostname()
		var b [2]byte
		_, _ = rand.Read(b[:])
		c.NodeName = strings.Trim(host+"-"+hex.EncodeToString(b[:]), "-")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = 3 * c.Heartbeat
	}
	if c.ClaimTimeout <= 0 {
		c.ClaimTimeout = time.Second
	}
	if c.FlushTimeout <= 0 {
		c.FlushTimeout = 5 * time.Second
	}
	if c.InterestWait == 0 {
		c.InterestWait = time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.MaxPingsOut <= 0 {
		c.MaxPingsOut = DefaultMaxPingsOut
	}
	if c.ForwardBuffer <= 0 {
		c.ForwardBuffer = 8192
	}
	if c.ForwardBufferBytes <= 0 {
		c.ForwardBufferBytes = 16 << 20
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	return c, nil
}

// guestPrefix derives this node's guest nick prefix from its name: the
// name itself when it is a short word, else a hash of it, so that nodes
// with distinct names hand out distinct guest nicks.
func guestPrefix(nodeName string) string {
	tag := strings.ToLower(nodeName)
	if len(tag) > 10 || !hub.IsWord(tag) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(nodeName))
		tag = strconv.FormatUint(uint64(h.Sum32()), 36)
	}
	return "guest-" + tag + "-"
}

// redact drops credentials from URLs for logs and errors.
func redact(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if at := strings.LastIndex(u, "@"); at >= 0 {
			if s := strings.Index(u, "://"); s >= 0 && s < at {
				u = u[:s+3] + "***@" + u[at+1:]
			}
		}
		out[i] = u
	}
	return strings.Join(out, ",")
}
