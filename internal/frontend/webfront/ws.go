package webfront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// wsTransport adapts a WebSocket connection to session.Transport: one text
// message per frame. Write deadlines become write contexts, cancelled by a
// timer when a deadline is set while a write is in flight.
type wsTransport struct {
	c     *websocket.Conn
	final atomic.Uint32 // CloseReason of the final notice, set by the codec

	mu       sync.Mutex // guards the fields below
	deadline time.Time
	inflight context.CancelFunc // cancels the write in progress, if any
	timer    *time.Timer        // fires inflight at deadline
}

// WriteBatch implements session.Transport.
func (t *wsTransport) WriteBatch(frames [][]byte) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.mu.Lock()
	if !t.deadline.IsZero() {
		t.timer = time.AfterFunc(time.Until(t.deadline), cancel)
	}
	t.inflight = cancel
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.inflight = nil
		if t.timer != nil {
			t.timer.Stop()
			t.timer = nil
		}
		t.mu.Unlock()
	}()
	for _, f := range frames {
		if err := t.c.Write(ctx, websocket.MessageText, f); err != nil {
			return fmt.Errorf("websocket write: %w", err)
		}
	}
	return nil
}

// SetWriteDeadline implements session.Transport. A write in flight is cut
// (and the connection closed) when the deadline passes.
func (t *wsTransport) SetWriteDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.deadline = d
	if t.inflight == nil {
		return nil
	}
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if !d.IsZero() {
		t.timer = time.AfterFunc(time.Until(d), t.inflight)
	}
	return nil
}

// Close implements session.Transport. After the final notice it closes
// with the reason's WebSocket status code and the close handshake (bounded
// by the library at 5s each way); otherwise, or when a write is stuck, it
// closes at once.
func (t *wsTransport) Close() error {
	r := session.CloseReason(t.final.Load())
	t.mu.Lock()
	busy := t.inflight != nil
	t.mu.Unlock()
	if r == session.ReasonNone || busy {
		_ = t.c.CloseNow() // an error only means it was closed already
		return nil
	}
	_ = t.c.Close(websocket.StatusCode(r.WebSocketCode()), r.Notice())
	return nil
}

// serveWS upgrades a request to a WebSocket session and reads its frames
// until the connection ends.
func (f *Front) serveWS(w http.ResponseWriter, r *http.Request) {
	g := f.streamGrant(r)
	switch {
	case g.wrong:
		f.metrics.authFailures.WithLabelValues("ws").Inc()
		unauthorized(w, "wrong token")
		return
	case !g.subscribe:
		f.metrics.authFailures.WithLabelValues("ws").Inc()
		unauthorized(w, "this server needs a token: Authorization: Bearer TOKEN or ?token=TOKEN")
		return
	}
	ticket, err := f.reg.Admit(r.RemoteAddr)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "server full")
		return
	}
	defer ticket.Release()
	opts := &websocket.AcceptOptions{OriginPatterns: f.cfg.AllowedOrigins}
	c, err := websocket.Accept(w, r, opts)
	if err != nil {
		// Accept has answered (403 for a foreign origin, 400 for a bad
		// handshake).
		f.log.Debug("web door: websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	c.SetReadLimit(f.cfg.MaxMessage)
	t := &wsTransport{c: c}
	s := session.New(f.reg, f.sessionConfig("ws", r.RemoteAddr), t, jsonCodec{final: &t.final})
	reason := session.ReasonClientGone
	defer func() {
		if p := recover(); p != nil {
			s.Logger().Error("panic serving websocket", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reason = session.ReasonInternal
			s.Abort(reason)
		}
		s.Finish(reason)
	}()
	s.Send(session.Reply{Nick: s.Nick(), Text: "welcome to switchboard; you are " + s.Nick()})
	reason = f.readWS(s, c, g.publish)
}

// readWS turns the connection's text frames into session requests until
// the connection ends, and returns the close reason to record.
func (f *Front) readWS(s *session.Session, c *websocket.Conn, canPublish bool) session.CloseReason {
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
		if typ != websocket.MessageText {
			f.metrics.wsBadFrames.Inc()
			s.Error("binary frames are not supported: send one JSON object per text frame")
			continue
		}
		req, err := DecodeFrame(data)
		if err != nil {
			f.metrics.wsBadFrames.Inc()
			var fe *FrameError
			if errors.As(err, &fe) {
				s.Send(session.Reply{Op: fe.Op, Error: true, Text: fe.Msg})
			} else {
				s.Error(err.Error())
			}
			continue
		}
		if isPublish(req.Op) && !canPublish {
			s.Send(session.Reply{Op: req.Op, Error: true, Text: "unauthorized: publishing needs the publish token (Authorization: Bearer TOKEN or ?token=TOKEN)"})
			continue
		}
		s.Do(req)
	}
}
