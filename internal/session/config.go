package session

import (
	"log/slog"
	"time"

	"github.com/switchboard-hub/switchboard/internal/identity"
)

// Defaults of Config.
const (
	// DefaultMaxPending is the default byte limit of a session's outbound
	// queue (1 MiB).
	DefaultMaxPending = 1 << 20
	// DefaultRateBurst is the default burst above Config.RateLimit: a
	// client may publish this many messages at once (a pasted paragraph)
	// before the rate applies.
	DefaultRateBurst = 10
)

// Config describes one session. Zero values mean the documented defaults.
type Config struct {
	// Door names the front end, e.g. "tcp"; used in logs and metrics.
	Door string
	// RemoteAddr is the peer's address, for logs and per-IP limits.
	RemoteAddr string
	// CertName is the verified TLS client certificate's common name; the
	// session takes it as the identity. Empty without a verified client
	// certificate (no TLS, or no --tls-client-ca).
	CertName string
	// MaxPending is the outbound queue limit in bytes (default
	// DefaultMaxPending). Past it the client is a slow consumer.
	MaxPending int
	// PendingSoft is the soft limit of the outbound queue in bytes
	// (default a quarter of MaxPending; negative = none): a client whose
	// queue stays over it for longer than PendingSoftFor is a slow
	// consumer too, as with Redis's client-output-buffer-limit.
	PendingSoft int
	// PendingSoftFor is how long a queue may stay over PendingSoft
	// (default DefaultPendingSoftFor).
	PendingSoftFor time.Duration
	// RateLimit is the sustained publish rate allowed, in messages per
	// second; 0 means unlimited.
	RateLimit float64
	// RateBurst is the burst allowed above RateLimit (default
	// DefaultRateBurst when a rate limit is set).
	RateBurst int
	// Logger receives the session's logs (default slog.Default()).
	Logger *slog.Logger
	// MaxSubs caps the subscriptions a client holds at once, room
	// memberships included (default DefaultMaxSubs; negative =
	// unlimited). Past it subscribing and joining are refused
	// (CodeTooMany).
	MaxSubs int
	// MaxRooms caps the rooms a client is a member of at once (default
	// DefaultMaxRooms; negative = unlimited).
	MaxRooms int
	// CommandRate is the sustained rate of requests other than
	// publishing ones (say, pub, msg) and quit, per second (default
	// DefaultCommandRate; negative = unlimited): it bounds what one
	// client's listings and subscription changes cost the server. Over
	// it requests are refused (CodeRateLimited).
	CommandRate float64
	// CommandBurst is the burst allowed above CommandRate (default
	// DefaultCommandBurst).
	CommandBurst int
	// MaxList is how many entries a listing (rooms, who) shows before it
	// says how many more there are (default DefaultMaxList; negative =
	// all that fit in an eighth of MaxPending, which always bounds it).
	MaxList int
	// Identity is who the client proved to be when it connected (a
	// bearer token, a verified client certificate; see
	// Registry.Authenticate and Certified); nil is the anonymous client.
	// OpAuth may change it later. Do checks every operation that
	// publishes or subscribes against it, whatever the door.
	Identity *identity.Identity
}
