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
//	P.hist.<topic>            with --cluster-history, the topic's kept
//	                          messages in the JetStream stream
//	                          SBCLUSTER_<prefix>_<cluster> (clusterhist.go)
//
// Two NATS connections: the main one is NoEcho, so a node never receives
// its own plain messages (they were delivered locally at publish), and
// carries plain subscriptions, presence and every publish; the second one
// holds only the queue-group subscriptions, so that a node's own messages
// can reach its own group members when NATS picks them.
//
// Nothing a client does waits on NATS: publishes go through a bounded
// queue to one sender goroutine (sender.go), interest changes through a
// queue to one worker (interest.go), and Status reads only this package's
// own state, never the nats.go connection (whose lock a stalled server can
// hold for seconds).
package natsbp

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
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
	ctlQueue     = 1 << 14 // presence messages waiting for the sender
	maxEpochs    = 1 << 12 // sender nodes whose connection epoch is remembered
	maxGroupHops = 8       // times a group message goes back to NATS (see regroup)
	hopHeader    = "Sb-Group-Hops"
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
	hist    atomic.Pointer[ClusterHistory] // with --cluster-history, for Status
	node    uint64
	nodeHex string

	subjMsg, subjEvt, subjPriv, subjPres string

	imu  sync.Mutex // guards subs; a leaf lock, never held while calling NATS
	subs map[interest]*nats.Subscription

	qmu      sync.Mutex // guards iq, ibacklog, iclosed
	iq       []ichange  // interest changes not yet taken by the worker
	ibacklog int        // interest changes queued or being applied
	iclosed  bool
	ikick    chan struct{} // wakes the interest worker

	out, ctl        chan outMsg // messages and presence for the sender
	outBytes        atomic.Int64
	lastOverflowLog atomic.Int64
	stopSend        chan struct{}
	swg             sync.WaitGroup // the sender

	pres presence

	forwarded, received, forwardErrors, forwardDropped, badMessages atomic.Uint64
	slowConsumer, reconnects, stalls, interestLate, interestErrors  atomic.Uint64
	groupUndelivered                                                atomic.Uint64

	epoch  atomic.Uint32 // main connection's epoch: +1 on every reconnection, stamped on each message sent
	emu    sync.RWMutex  // guards epochs
	epochs map[uint64]uint32
	late   atomic.Uint64

	state   atomic.Int32 // stateConnected …; set by the connection's handlers
	closing atomic.Bool  // Close has begun: a disconnection is expected

	lastAlive  atomic.Int64 // Unix ns when NATS last answered (see watchdog.go)
	publishing atomic.Int64 // Unix ns since the sender is in Publish, or 0
	wdStall    atomic.Bool  // the watchdog, not nats.go, declared the stall

	smu          sync.Mutex // guards lastErr, disconnected, url
	lastErr      string
	disconnected time.Time
	url          string

	bufs sync.Pool // *[]byte encoding buffers

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Connection states of the main NATS connection, as Status shows them.
const (
	stateConnected    int32 = iota + 1
	stateStalled            // NATS stopped answering (pings unanswered, writes blocked)
	stateDisconnected       // the connection is down and NATS refuses new ones
	stateClosed
)

var stateNames = map[int32]string{stateConnected: "connected", stateStalled: "stalled",
	stateDisconnected: "disconnected", stateClosed: "closed"}

func (b *Backplane) stateName() string { return stateNames[b.state.Load()] }

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
		cfg:    cfg,
		log:    cfg.Logger.With("component", "cluster", "node", cfg.NodeName),
		guest:  guestPrefix(cfg.NodeName),
		subs:   make(map[interest]*nats.Subscription),
		quit:   make(chan struct{}),
		ikick:  make(chan struct{}, 1),
		epochs: make(map[uint64]uint32),
		out:    make(chan outMsg, cfg.ForwardBuffer),
		ctl:    make(chan outMsg, ctlQueue),

		stopSend: make(chan struct{}),
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
	if b.nc.IsConnected() {
		b.setState(stateConnected, nil)
		b.setURL(b.nc.ConnectedUrlRedacted())
	} else {
		b.setState(stateDisconnected, fmt.Errorf("NATS at %s unreachable; serving local clients only, retrying", redact(cfg.URLs)))
		b.log.Warn("cluster: NATS unreachable at start; serving local clients only and retrying", "url", redact(cfg.URLs))
	}
	b.swg.Add(1)
	go b.sender()
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
		// Stall detection: a server that stops answering is declared
		// stale after MaxPingsOut unanswered pings, at most
		// (MaxPingsOut+1)×PingInterval after it stopped; a write blocked
		// on its full TCP buffers (which also holds the pings back) fails
		// after PingInterval.
		nats.PingInterval(c.PingInterval),
		nats.MaxPingsOutstanding(c.MaxPingsOut),
		nats.FlusherTimeout(c.PingInterval),
		nats.Timeout(time.Duration(c.MaxPingsOut) * c.PingInterval),
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
				if b.closing.Load() {
					return // Close disconnects on purpose
				}
				if isStall(err) {
					b.stalls.Add(1)
					b.setState(stateStalled, fmt.Errorf("NATS stopped answering (%w); serving local clients only, reconnecting", err))
					b.log.Warn("cluster: NATS stalled; local delivery continues, reconnecting", "err", err)
					return
				}
				if err == nil {
					err = errors.New("connection closed")
				}
				b.setState(stateDisconnected, fmt.Errorf("lost NATS connection: %w; serving local clients only, reconnecting", err))
				b.log.Warn("cluster: lost NATS connection; local delivery continues, reconnecting", "err", err)
			}),
			nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
				// A refused connection means NATS is down rather than
				// stalled; an attempt that times out leaves the state.
				if err != nil && !isStall(err) && !b.closing.Load() {
					b.setState(stateDisconnected, fmt.Errorf("NATS unreachable: %w; serving local clients only, reconnecting", err))
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				b.reconnects.Add(1)
				b.epoch.Add(1) // before the state: every message sent on the new connection carries it
				b.setURL(nc.ConnectedUrlRedacted())
				b.setState(stateConnected, nil)
				b.log.Info("cluster: reconnected to NATS; interests re-established", "url", nc.ConnectedUrlRedacted())
				b.pres.reconnected()
			}),
			nats.ConnectHandler(func(nc *nats.Conn) {
				b.setURL(nc.ConnectedUrlRedacted())
				b.setState(stateConnected, nil)
				b.log.Info("cluster: connected to NATS", "url", nc.ConnectedUrlRedacted())
				b.pres.reconnected()
			}),
			nats.ClosedHandler(func(*nats.Conn) { b.setState(stateClosed, errors.New("NATS connection closed")) }),
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

// isStall tells a server that stopped answering from one that is gone.
func isStall(err error) bool {
	if errors.Is(err, nats.ErrStaleConnection) || errors.Is(err, nats.ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// setState records the main connection's state; err says why the node is
// cut off (nil when connected).
func (b *Backplane) setState(st int32, err error) {
	b.smu.Lock()
	defer b.smu.Unlock()
	b.state.Store(st)
	if st != stateStalled {
		b.wdStall.Store(false)
	}
	if st == stateConnected {
		b.lastAlive.Store(time.Now().UnixNano())
		b.disconnected = time.Time{}
		b.lastErr = ""
		return
	}
	if err != nil {
		b.lastErr = err.Error()
	}
	if b.disconnected.IsZero() {
		b.disconnected = time.Now()
	}
}

func (b *Backplane) setURL(u string) {
	b.smu.Lock()
	b.url = u
	b.smu.Unlock()
}

// connected reports whether the main connection is up and answering.
func (b *Backplane) connected() bool { return b.state.Load() == stateConnected }

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
	b.wg.Add(4)
	go b.pres.loop()
	go b.pres.receive()
	go b.interests()
	go b.watchdog()
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

// Forward implements hub.Backplane: it queues a local message to be
// published once on NATS, without blocking. It fails, and the message stays
// local, while the node is cut off from NATS (ErrCutOff) or when the forward
// buffer is full (ErrOverflow); both are counted.
func (b *Backplane) Forward(m *hub.Message) error {
	if !b.connected() {
		b.forwardErrors.Add(1)
		return ErrCutOff
	}
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
	if err := b.enqueue(outMsg{subj: subj, data: appendMessage((*bp)[:0], m), buf: bp}, false); err != nil {
		return fmt.Errorf("natsbp: forward to %s: %w", subj, err)
	}
	return nil
}

// onPlain delivers a message from another node to plain subscribers.
func (b *Backplane) onPlain(msg *nats.Msg) {
	m, ok := b.decode(msg.Data, true)
	if !ok || m.SenderNode == b.node {
		return // a node's own plain messages were delivered locally at publish (NoEcho makes this rare)
	}
	b.received.Add(1)
	b.hub.Load().DeliverRemote(m, "")
}

// onGroup delivers a message, from any node including this one, to one
// local member of group: NATS chose this node for it.
func (b *Backplane) onGroup(msg *nats.Msg, group string) {
	m, ok := b.decode(msg.Data, true)
	if !ok {
		return
	}
	b.received.Add(1)
	if b.hub.Load().DeliverRemote(m, group) == 0 && m.SenderNode == b.node {
		b.regroup(msg)
	}
}

// regroup hands a group message back to NATS when NATS chose this node
// for it but the only local member is its publisher (who never gets its
// own messages): NATS picks again among the group's nodes, up to
// maxGroupHops times, so that the group's other members share the
// publisher's messages instead of losing a share of them. A message still
// undelivered after that is counted in Status.GroupUndelivered.
func (b *Backplane) regroup(msg *nats.Msg) {
	hops, _ := strconv.Atoi(msg.Header.Get(hopHeader))
	if hops >= maxGroupHops {
		b.groupUndelivered.Add(1)
		return
	}
	hdr := nats.Header{}
	hdr.Set(hopHeader, strconv.Itoa(hops+1))
	if err := b.enqueue(outMsg{subj: msg.Subject, data: append([]byte(nil), msg.Data...), hdr: hdr}, false); err != nil {
		b.groupUndelivered.Add(1)
	}
}

// onEvent delivers room events, nick changes and private messages.
func (b *Backplane) onEvent(msg *nats.Msg) {
	m, ok := b.decode(msg.Data, false)
	if !ok || m.SenderNode == b.node {
		return
	}
	b.received.Add(1)
	b.hub.Load().DeliverRemote(m, "")
}

// decode decodes a message from NATS (a topic message when topic is set,
// else an event) and drops it, counted, when it is malformed or late: sent
// on a connection of its node older than one that node already used. Such
// a message sat in the TCP buffers of a stalled NATS and was delivered
// after its node had reconnected; giving it now would break the order of
// its publisher's messages.
func (b *Backplane) decode(data []byte, topic bool) (*hub.Message, bool) {
	m, epoch, err := decodeMessage(data)
	if err != nil || (m.Kind == hub.KindMessage) != topic {
		b.badMessages.Add(1)
		return nil, false
	}
	b.emu.RLock()
	cur, known := b.epochs[m.SenderNode]
	b.emu.RUnlock()
	if known && epoch == cur {
		return m, true
	}
	b.emu.Lock()
	defer b.emu.Unlock()
	if cur, known := b.epochs[m.SenderNode]; known && epoch < cur {
		b.late.Add(1)
		return nil, false
	}
	if len(b.epochs) >= maxEpochs {
		clear(b.epochs) // nodes come and go; forgetting only weakens the late check
	}
	b.epochs[m.SenderNode] = epoch
	return m, true
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
		close(b.stopSend)
		b.swg.Wait() // the sender has handed everything to nats.go
		b.closing.Store(true)
		if b.connected() {
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
