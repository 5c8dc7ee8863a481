// Package natsbp is switchboard's cluster backplane over NATS: it
// implements hub.Backplane (interest-based forwarding of messages) and
// hub.Presence (cluster-wide nicks and rooms), and is the only package that
// imports github.com/nats-io/nats.go.
//
// Entry points: Connect dials NATS; the server builds its hub with the
// returned Backplane as both Config.Backplane and Config.Presence, then
// calls Start with the hub. Status reports the connection for /api/stats;
// Close leaves the cluster.
//
// Subjects, under P = Prefix.ClusterName:
//
//	P.msg.<topic>             messages; a node subscribes to P.msg.<pattern>
//	                          for each local (pattern, group) interest
//	P.evt                     room joins, parts and nick changes
//	P.priv.<node>             private messages for one node's clients
//	P.presence.all.<kind>     heartbeats, presence deltas, nick claims
//	P.presence.<node>.<kind>  snapshots and claim answers for one node
//	                          (see presence.go)
//
// Two NATS connections: the main one is NoEcho, so a node never receives
// its own plain messages (they were delivered locally at publish), and
// carries plain subscriptions, presence and every publish; the second one
// holds only the queue-group subscriptions, so that a node's own messages
// can reach its own group members when NATS picks them.
package natsbp

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// ErrNotStarted is returned by Interest before Start.
var ErrNotStarted = errors.New("natsbp: not started")

// Subscription pending limits: generous, so a burst is buffered rather
// than dropped; drops are counted in Status.
const (
	pendingMsgs  = 1 << 20
	pendingBytes = 512 << 20
)

// Backplane connects one hub to the others over NATS. It is safe for
// concurrent use.
type Backplane struct {
	cfg   Config
	log   *slog.Logger
	nc    *nats.Conn // NoEcho: publishes, plain subscriptions, presence
	gc    *nats.Conn // queue-group subscriptions
	guest string

	hub     atomic.Pointer[hub.Hub]
	node    uint64
	nodeHex string

	subjMsg, subjEvt, subjPriv, subjPres string

	imu  sync.Mutex // guards subs
	subs map[interest]*nats.Subscription

	pres presence

	forwarded, received, forwardErrors, badMessages atomic.Uint64
	slowConsumer, reconnects                        atomic.Uint64

	smu          sync.Mutex // guards lastErr, disconnected
	lastErr      string
	disconnected time.Time

	bufs sync.Pool // *[]byte encoding buffers

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type interest struct{ pattern, group string }

// Connect dials NATS. Unless cfg.Optional is set, it fails with an error
// naming the URLs when no server can be reached; with Optional it returns
// a Backplane that keeps retrying in the background.
func Connect(cfg Config) (*Backplane, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backplane{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "cluster", "node", cfg.NodeName),
		guest: guestPrefix(cfg.NodeName),
		subs:  make(map[interest]*nats.Subscription),
		quit:  make(chan struct{}),
	}
	b.bufs.New = func() any { buf := make([]byte, 0, 256); return &buf }
	base := cfg.Prefix + "." + cfg.ClusterName
	b.subjMsg = base + ".msg."
	b.subjEvt = base + ".evt"
	b.subjPriv = base + ".priv."
	b.subjPres = base + ".presence."
	b.pres.init(b)
	url := joinURLs(cfg.URLs)
	b.nc, err = nats.Connect(url, b.options("main", true)...)
	if err != nil {
		return nil, fmt.Errorf("natsbp: connect to NATS at %s: %w", redact(cfg.URLs), err)
	}
	b.gc, err = nats.Connect(url, b.options("groups", false)...)
	if err != nil {
		b.nc.Close()
		return nil, fmt.Errorf("natsbp: connect to NATS at %s: %w", redact(cfg.URLs), err)
	}
	if !b.nc.IsConnected() {
		b.setDisconnected(fmt.Errorf("NATS at %s unreachable; serving local clients only, retrying", redact(cfg.URLs)))
		b.log.Warn("cluster: NATS unreachable at start; serving local clients only and retrying", "url", redact(cfg.URLs))
	}
	return b, nil
}

func joinURLs(urls []string) string {
	s := ""
	for i, u := range urls {
		if i > 0 {
			s += ","
		}
		s += u
	}
	return s
}

// options builds the nats.go options of one of the two connections.
func (b *Backplane) options(role string, main bool) []nats.Option {
	c := b.cfg
	opts := []nats.Option{
		nats.Name("switchboard " + c.NodeName + " " + role),
		nats.MaxReconnects(-1),
		// No reconnect buffer: a message published during an outage is
		// delivered locally only, never replayed late (see docs/cluster.md).
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := 100 * time.Millisecond << min(attempts, 10)
			d = min(d, c.MaxBackoff)
			return d/2 + rand.N(d/2+1)
		}),
		nats.RetryOnFailedConnect(c.Optional),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				b.slowConsumer.Add(1)
			}
			b.log.Warn("cluster: NATS error", "conn", role, "err", err)
		}),
	}
	if main {
		opts = append(opts,
			nats.NoEcho(),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err == nil {
					err = errors.New("connection closed")
				}
				b.setDisconnected(fmt.Errorf("lost NATS connection: %w; serving local clients only, reconnecting", err))
				b.log.Warn("cluster: lost NATS connection; local delivery continues, reconnecting", "err", err)
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				b.reconnects.Add(1)
				b.setConnected()
				b.log.Info("cluster: reconnected to NATS; interests re-established", "url", nc.ConnectedUrlRedacted())
				b.pres.reconnected()
			}),
			nats.ConnectHandler(func(nc *nats.Conn) {
				b.setConnected()
				b.log.Info("cluster: connected to NATS", "url", nc.ConnectedUrlRedacted())
				b.pres.reconnected()
			}),
		)
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts
}

func (b *Backplane) setDisconnected(err error) {
	b.smu.Lock()
	b.lastErr = err.Error()
	if b.disconnected.IsZero() {
		b.disconnected = time.Now()
	}
	b.smu.Unlock()
}

func (b *Backplane) setConnected() {
	b.smu.Lock()
	b.disconnected = time.Time{}
	b.smu.Unlock()
}

// Start attaches the hub: from now on messages from other nodes are
// delivered to it, and this node takes part in cluster presence. Call it
// once, after building the hub with this Backplane, before any client
// connects.
func (b *Backplane) Start(h *hub.Hub) error {
	b.node = h.Node()
	b.nodeHex = strconv.FormatUint(b.node, 16)
	b.hub.Store(h)
	if _, err := b.subscribe(b.nc, b.subjEvt, "", b.onEvent); err != nil {
		return err
	}
	if _, err := b.subscribe(b.nc, b.subjPriv+b.nodeHex, "", b.onEvent); err != nil {
		return err
	}
	// Presence arrives on two subjects (to all, to this node) merged into
	// one channel by the connection's reader, so one node's messages keep
	// their order across both.
	for _, subj := range []string{b.subjPres + "all.*", b.subjPres + b.nodeHex + ".*"} {
		sub, err := b.nc.ChanSubscribe(subj, b.pres.in)
		if err != nil {
			return fmt.Errorf("natsbp: subscribe %s: %w", subj, err)
		}
		_ = sub.SetPendingLimits(presenceQueue, pendingBytes)
	}
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(b.cfg.FlushTimeout); err != nil {
			return fmt.Errorf("natsbp: start: flush: %w", err)
		}
	}
	b.wg.Add(2)
	go b.pres.loop()
	go b.pres.receive()
	b.pres.reconnected()
	return nil
}

func (b *Backplane) subscribe(nc *nats.Conn, subj, group string, cb nats.MsgHandler) (*nats.Subscription, error) {
	var sub *nats.Subscription
	var err error
	if group == "" {
		sub, err = nc.Subscribe(subj, cb)
	} else {
		sub, err = nc.QueueSubscribe(subj, group, cb)
	}
	if err != nil {
		return nil, fmt.Errorf("natsbp: subscribe %s: %w", subj, err)
	}
	_ = sub.SetPendingLimits(pendingMsgs, pendingBytes)
	return sub, nil
}

// Interest implements hub.Backplane: it subscribes on NATS to the subject
// of pattern (as a queue subscription when group is set) and waits until
// the NATS server has it, or unsubscribes. While NATS is unreachable the
// subscription is recorded and sent on reconnection, and Interest returns
// at once: the node serves its own clients meanwhile.
func (b *Backplane) Interest(pattern, group string, add bool) error {
	if b.hub.Load() == nil {
		return ErrNotStarted
	}
	k := interest{pattern, group}
	b.imu.Lock()
	defer b.imu.Unlock()
	if !add {
		if sub := b.subs[k]; sub != nil {
			delete(b.subs, k)
			_ = sub.Unsubscribe()
		}
		return nil
	}
	if b.subs[k] != nil {
		return nil
	}
	nc, cb := b.nc, b.onPlain
	if group != "" {
		nc = b.gc
		cb = func(msg *nats.Msg) { b.onGroup(msg, group) }
	}
	sub, err := b.subscribe(nc, b.subjMsg+pattern, group, cb)
	if err != nil {
		return err
	}
	if nc.IsConnected() {
		if err := nc.FlushTimeout(b.cfg.FlushTimeout); err != nil && nc.IsConnected() {
			_ = sub.Unsubscribe()
			return fmt.Errorf("natsbp: confirm subscription to %s: %w", pattern, err)
		}
	}
	b.subs[k] = sub
	return nil
}

// Forward implements hub.Backplane: it publishes a local message once on
// NATS. It fails (and the message stays local) while NATS is unreachable.
func (b *Backplane) Forward(m *hub.Message) error {
	var subj string
	switch m.Kind {
	case hub.KindMessage:
		subj = b.subjMsg + m.Topic
	case hub.KindPrivate:
		node, ok := b.pres.nodeOfNick(m.To)
		if !ok {
			return fmt.Errorf("natsbp: forward private message: %w", hub.ErrNoSuchNick)
		}
		subj = b.subjPriv + strconv.FormatUint(node, 16)
	default:
		subj = b.subjEvt
	}
	bp := b.bufs.Get().(*[]byte)
	buf := appendMessage((*bp)[:0], m)
	err := b.nc.Publish(subj, buf) // copies buf into the connection's buffer
	*bp = buf
	b.bufs.Put(bp)
	if err != nil {
		b.forwardErrors.Add(1)
		return fmt.Errorf("natsbp: forward to %s: %w", subj, err)
	}
	b.forwarded.Add(1)
	return nil
}

// onPlain delivers a message from another node to plain subscribers.
func (b *Backplane) onPlain(msg *nats.Msg) {
	m, err := decodeMessage(msg.Data)
	if err != nil || m.Kind != hub.KindMessage {
		b.badMessages.Add(1)
		return
	}
	if m.SenderNode == b.node {
		return // delivered locally at publish (NoEcho makes this rare)
	}
	b.received.Add(1)
	b.hub.Load().DeliverRemote(m, "")
}

// onGroup delivers a message, from any node including this one, to one
// local member of group: NATS chose this node for it.
func (b *Backplane) onGroup(msg *nats.Msg, group string) {
	m, err := decodeMessage(msg.Data)
	if err != nil || m.Kind != hub.KindMessage {
		b.badMessages.Add(1)
		return
	}
	b.received.Add(1)
	b.hub.Load().DeliverRemote(m, group)
}

// onEvent delivers room events, nick changes and private messages.
func (b *Backplane) onEvent(msg *nats.Msg) {
	m, err := decodeMessage(msg.Data)
	if err != nil || m.Kind == hub.KindMessage {
		b.badMessages.Add(1)
		return
	}
	if m.SenderNode == b.node {
		return
	}
	b.received.Add(1)
	b.hub.Load().DeliverRemote(m, "")
}

// Close leaves the cluster: it publishes the last presence changes and a
// goodbye (so other nodes drop this node's members at once), then closes
// both NATS connections. Call it after every local client has gone.
func (b *Backplane) Close() error {
	b.closeOnce.Do(func() {
		if b.hub.Load() != nil {
			close(b.quit)
			b.wg.Wait()
			b.pres.goodbye()
		}
		if b.nc.IsConnected() {
			_ = b.nc.FlushTimeout(time.Second)
		}
		b.gc.Close()
		b.nc.Close()
	})
	return nil
}

// The Backplane is both halves of the hub's cluster seam.
var (
	_ hub.Backplane = (*Backplane)(nil)
	_ hub.Presence  = (*Backplane)(nil)
)
