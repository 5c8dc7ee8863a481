package webfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// wsTransport adapts a WebSocket connection to session.Transport: one text
// message per frame, a whole batch in one write through the corked
// connection underneath. Deadlines apply to that write.
type wsTransport struct {
	c    *websocket.Conn
	cork *corkConn
	busy atomic.Bool // a batch is being written

	// The idle timeout's probes (Probe): at most one ping in flight.
	idle    func() time.Duration // the registry's current idle timeout
	mu      sync.Mutex           // guards pinging and ended
	pinging bool
	ended   bool           // the handler is returning: no more pings
	pings   sync.WaitGroup // the ping goroutine
}

// Probe implements session.Prober: a ping, whose pong (OnPongReceived)
// is the client's sign of life. The library answers pings only from
// the reader, in order, so a pong also proves that the client has read
// everything sent before the ping. The ping goroutine waits for the pong
// for at most half the idle timeout (the rest of the client's time), or
// until the connection closes.
func (t *wsTransport) Probe() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pinging || t.ended {
		return
	}
	t.pinging = true
	t.pings.Add(1)
	go t.ping(max(t.idle()/2, time.Millisecond))
}

// ping is the ping goroutine of Probe.
func (t *wsTransport) ping(wait time.Duration) {
	defer t.pings.Done()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The answer is counted by OnPongReceived; an error means no pong
	// in time or a closed connection, which the idle sweep or the
	// reader deals with.
	_ = t.c.Ping(ctx)
	t.mu.Lock()
	t.pinging = false
	t.mu.Unlock()
}

// endPings waits for the ping goroutine, once the connection is closed
// (which makes a waiting Ping return), and lets no other start.
func (t *wsTransport) endPings() {
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	t.pings.Wait()
}

// WriteBatch implements session.Transport.
func (t *wsTransport) WriteBatch(frames [][]byte) error {
	t.busy.Store(true)
	defer t.busy.Store(false)
	t.cork.cork()
	for _, f := range frames {
		// Corked, so this only frames the message into memory (it can
		// wait for the library's write lock, held by a control frame
		// whose write the deadline bounds).
		if err := t.c.Write(context.Background(), websocket.MessageText, f); err != nil {
			_ = t.cork.uncork()
			return fmt.Errorf("websocket write: %w", err)
		}
	}
	return t.cork.uncork()
}

// SetWriteDeadline implements session.Transport; it bounds the write in
// flight too.
func (t *wsTransport) SetWriteDeadline(d time.Time) error {
	return t.cork.SetWriteDeadline(d)
}

// Close implements session.Transport. For a reason with a notice (which
// the session has written) it closes with the reason's WebSocket status
// code and the close handshake (bounded by the library at 5s each way);
// otherwise, or when a write is stuck, it closes at once.
func (t *wsTransport) Close(r session.CloseReason) error {
	if r.Notice() == "" || t.busy.Load() {
		_ = t.c.CloseNow() // an error only means it was closed already
		return nil
	}
	_ = t.c.Close(closeCode(r), r.Notice())
	return nil
}

// closeCode is the RFC 6455 close status code for a session's reason.
func closeCode(r session.CloseReason) websocket.StatusCode {
	switch r {
	case session.ReasonNone, session.ReasonClientQuit, session.ReasonIdle:
		return websocket.StatusNormalClosure
	case session.ReasonClientGone, session.ReasonShutdown:
		return websocket.StatusGoingAway
	case session.ReasonSlowConsumer, session.ReasonExpired:
		return websocket.StatusPolicyViolation
	case session.ReasonServerFull:
		return websocket.StatusTryAgainLater
	case session.ReasonProtocol:
		return websocket.StatusProtocolError
	case session.ReasonNodeGone:
		return websocket.StatusServiceRestart
	}
	return websocket.StatusInternalError
}

// serveWS upgrades a request to a WebSocket session and reads its frames
// until the connection ends.
func (f *Front) serveWS(w http.ResponseWriter, r *http.Request) {
	// Without a token the client may still authenticate with a first
	// frame {"op":"auth","token":…}; until then it is anonymous.
	id, ok := f.identify(w, r, "ws", true)
	if !ok {
		return
	}
	release, ok := f.admitStream(w, r)
	if !ok {
		return
	}
	defer release()
	// Pings and pongs are signs of life for the idle timeout. The
	// library calls these from Read, that is from readWS below, after s
	// is set.
	var s *session.Session
	opts := &websocket.AcceptOptions{
		OriginPatterns: f.cfg.AllowedOrigins,
		OnPingReceived: func(context.Context, []byte) bool { s.Alive(); return true },
		OnPongReceived: func(context.Context, []byte) { s.Alive() },
	}
	cw := &corkWriter{ResponseWriter: w}
	c, err := websocket.Accept(cw, r, opts)
	if err != nil {
		// Accept has answered (403 for a foreign origin, 400 for a bad
		// handshake).
		f.log.Debug("web door: websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	c.SetReadLimit(f.cfg.MaxMessage)
	t := &wsTransport{c: c, cork: cw.conn, idle: f.reg.IdleTimeout}
	// Deferred first, so it runs after EndServing has closed the
	// connection.
	defer t.endPings()
	cfg := f.sessionConfig("ws", r)
	cfg.Identity = id
	s = session.New(f.reg, cfg, t, jsonCodec{f.formats})
	reason := session.ReasonClientGone
	defer s.EndServing(&reason)
	s.Send(session.Reply{Nick: s.Nick(), Text: "welcome to switchboard; you are " + s.Nick()})
	reason = f.readWS(s, c)
}

// readWS turns the connection's text frames into session requests until
// the connection ends, and returns the close reason to record.
func (f *Front) readWS(s *session.Session, c *websocket.Conn) session.CloseReason {
	ctx := context.Background()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == websocket.StatusMessageTooBig || errors.Is(err, websocket.ErrMessageTooBig) {
				return session.ReasonProtocol
			}
			return session.ReasonClientGone
		}
		f.metrics.wsFrames.Inc()
		s.Alive() // a frame, good or bad, is a sign of life
		if typ != websocket.MessageText {
			f.metrics.wsBadFrames.Inc()
			s.Refuse(0, &session.Error{Code: session.CodeBadRequest, Text: "binary frames are not supported: send one JSON object per text frame"})
			continue
		}
		req, err := DecodeFrame(data)
		if err != nil {
			f.metrics.wsBadFrames.Inc()
			var fe *FrameError
			op := session.Op(0)
			if errors.As(err, &fe) {
				op = fe.Op
			}
			s.Refuse(op, &session.Error{Code: session.CodeBadRequest, Text: err.Error()})
			continue
		}
		s.Do(req)
	}
}
