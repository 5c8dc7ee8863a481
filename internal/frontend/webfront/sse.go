package webfront

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// sseTransport adapts a streaming HTTP response to session.Transport. The
// session's writer goroutine is the only one that writes the response;
// the handler goroutine only waits for closed or the client to go.
type sseTransport struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	closed chan struct{} // closed by Close: the handler returns
	once   sync.Once

	mu      sync.Mutex // guards writing
	writing bool

	// For the idle timeout: the client cannot send, so every write that
	// succeeds is its sign of life; Probe asks the handler for a
	// keepalive now.
	s     atomic.Pointer[session.Session] // set once the session exists
	probe chan struct{}                   // capacity 1
}

// Probe implements session.Prober: the handler writes a keepalive
// comment at once, whose successful write counts.
func (t *sseTransport) Probe() {
	select {
	case t.probe <- struct{}{}:
	default: // one is pending already
	}
}

// WriteBatch implements session.Transport: the frames, then one flush.
func (t *sseTransport) WriteBatch(frames [][]byte) error {
	t.mu.Lock()
	t.writing = true
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.writing = false
		t.mu.Unlock()
	}()
	for _, f := range frames {
		if _, err := t.w.Write(f); err != nil {
			return fmt.Errorf("sse write: %w", err)
		}
	}
	if err := t.rc.Flush(); err != nil {
		return fmt.Errorf("sse flush: %w", err)
	}
	if s := t.s.Load(); s != nil {
		s.Alive()
	}
	return nil
}

// SetWriteDeadline implements session.Transport.
func (t *sseTransport) SetWriteDeadline(d time.Time) error {
	return t.rc.SetWriteDeadline(d)
}

// Close implements session.Transport: the handler returns, which ends the
// response cleanly; the SSE door's close form is the final "info" event
// the session has already written. A write stuck on a peer that does not
// read is cut by an expired deadline first.
func (t *sseTransport) Close(session.CloseReason) error {
	t.once.Do(func() {
		t.mu.Lock()
		stuck := t.writing
		t.mu.Unlock()
		if stuck {
			_ = t.rc.SetWriteDeadline(time.Now())
		}
		close(t.closed)
	})
	return nil
}

// serveSSE streams the messages of the topics given as ?topic= parameters
// as Server-Sent Events. The response head and one ": subscribed PATTERN"
// comment per topic are sent once every subscription is active.
func (f *Front) serveSSE(w http.ResponseWriter, r *http.Request) {
	id, ok := f.identify(w, r, "sse", true)
	if !ok {
		return
	}
	topics, err := sseTopics(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	// A stream cannot show a refusal once it has started, so every topic
	// is checked first: 401 or 403 rather than an empty stream.
	for _, t := range topics {
		if e := f.reg.Check("sse", id, session.OpSub, t); e != nil {
			publishRefused(w, e)
			return
		}
	}
	// The session refuses a subscription past its cap; a stream that
	// asks for more than it may have is refused whole, before it starts
	// (an EventSource does not retry a 400).
	if e := f.cfg.Session.CheckSubs(len(topics)); e != nil {
		httpError(w, http.StatusBadRequest, e.Text)
		return
	}
	since, err := f.sseSince(r, topics)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	release, ok := f.admitStream(w, r)
	if !ok {
		return
	}
	defer release()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	t := &sseTransport{w: w, rc: rc, closed: make(chan struct{}), probe: make(chan struct{}, 1)}
	cfg := f.sessionConfig("sse", r)
	cfg.Identity = id
	s := session.New(f.reg, cfg, t, f.sseCodec())
	t.s.Store(s)
	reason := session.ReasonClientGone
	defer s.EndServing(&reason)
	// The first event names the stream's guest nick, the address of
	// "event: private"; it is queued before any subscription is active,
	// so no message can come first.
	s.Send(session.Reply{Nick: s.Nick(), Text: "you are " + s.Nick()})
	// Each answer (": subscribed PATTERN") is queued, then the gap
	// markers and the replay of a resume; together they go out with the
	// response head in one write.
	if e := s.SubscribeSince(topics, since); e != nil {
		s.CloseGracefully(session.ReasonInternal)
	}
	tick := time.NewTicker(f.cfg.SSEKeepalive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.closed:
			return
		case <-tick.C:
			// Through the queue, so it never lands inside another event.
			s.Send(session.Reply{Op: session.OpPing, Text: "keepalive"})
		case <-t.probe:
			// The idle sweep asks: the stream has written nothing
			// for half the idle timeout (shorter than SSEKeepalive).
			s.Send(session.Reply{Op: session.OpPing, Text: "keepalive"})
		}
	}
}

// sseTopics returns the distinct, valid ?topic= patterns of a request.
func sseTopics(r *http.Request) ([]string, error) {
	raw := r.URL.Query()["topic"]
	if len(raw) == 0 {
		return nil, fmt.Errorf("give at least one topic: /sse?topic=PATTERN[&topic=PATTERN]")
	}
	const maxTopics = 64
	if len(raw) > maxTopics {
		return nil, fmt.Errorf("too many topics: at most %d per stream", maxTopics)
	}
	seen := make(map[string]bool, len(raw))
	out := make([]string, 0, len(raw))
	for _, p := range raw {
		if err := hub.ValidatePattern(p); err != nil {
			return nil, session.FromHub(err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// sseCodec returns the SSE door's codec, with the history's journal
// epoch for event ids.
func (f *Front) sseCodec() sseCodec {
	c := sseCodec{f: f.formats}
	if h := f.reg.History(); h != nil {
		c.journal = h.Epoch()
	}
	return c
}

// sseSince returns the position a stream resumes from: the Last-Event-ID
// header an EventSource sends when it reconnects, else the lastEventID or
// since query parameter (a first connection cannot set headers), else ""
// (live only). A position the server cannot use is an error.
func (f *Front) sseSince(r *http.Request, topics []string) (string, error) {
	since := r.Header.Get("Last-Event-ID")
	q := r.URL.Query()
	for _, name := range []string{"lastEventID", "since"} {
		if since == "" {
			since = q.Get(name)
		}
	}
	if since == "" {
		return "", nil
	}
	if f.reg.History() == nil {
		return "", fmt.Errorf("this server keeps no history (--history 0): cannot resume from %q", line.Clip([]byte(since), 40))
	}
	literal := len(topics) == 1 && hub.IsLiteral(topics[0])
	if _, err := history.ParseSince(since, literal, time.Now().UnixNano()); err != nil {
		return "", err
	}
	return since, nil
}
