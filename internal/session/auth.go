package session

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/identity"
)

// Identities and permissions, the same on every door: a door hands over
// whatever credential the client presented (a bearer header, a ?token=,
// a verified certificate, an /auth line, a WebSocket auth frame), and the
// session layer decides who that is (Registry.Authenticate) and what each
// operation may touch (guard), and filters deliveries (withheld).

// Violation names one kind of refusal on one door, for the metrics: Kind
// is "auth" (a bad credential), "publish", "subscribe" or "nick".
type Violation struct {
	Door, Kind string
}

// violations counts refusals by door and kind.
type violations struct {
	m sync.Map // Violation -> *atomic.Uint64
}

func (v *violations) add(door, kind string) {
	k := Violation{door, kind}
	c, ok := v.m.Load(k)
	if !ok {
		c, _ = v.m.LoadOrStore(k, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

// Violations returns how many refusals of each kind each door has
// answered since the start.
func (g *Registry) Violations() map[Violation]uint64 {
	out := map[Violation]uint64{}
	g.violations.m.Range(func(k, c any) bool {
		out[k.(Violation)] = c.(*atomic.Uint64).Load()
		return true
	})
	return out
}

// Identities returns the identity store in force.
func (g *Registry) Identities() *identity.Store { return g.idents.Load() }

// SetIdentities puts st in force (at start and on SIGHUP): new
// credentials are checked against it, and every live session's
// permissions become what st says of its identity at once, subscriptions
// already made included (deliveries are checked, see withheld).
// Connections stay up.
func (g *Registry) SetIdentities(st *identity.Store) {
	g.idents.Store(st)
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.sessions {
		s.setIdentity(st.Refresh(s.ident.Load()))
	}
}

// Authenticate returns the identity a client proved with token on door,
// or the refusal to show it (CodeBadToken, "bad token: expired"), which
// is counted. The token is never logged.
func (g *Registry) Authenticate(door, token string) (*identity.Identity, *Error) {
	id, err := g.idents.Load().Authenticate(token, time.Now())
	if err != nil {
		g.violations.add(door, "auth")
		var ae *identity.AuthError
		if !errors.As(err, &ae) {
			ae = &identity.AuthError{}
		}
		return nil, &Error{Code: CodeBadToken, Text: ae.Error()}
	}
	return id, nil
}

// Certified returns the identity of a client whose TLS certificate, with
// common name cn, the door verified.
func (g *Registry) Certified(cn string) *identity.Identity {
	return g.idents.Load().Certified(cn)
}

// Anonymous returns the identity of a client that has presented nothing.
func (g *Registry) Anonymous() *identity.Identity { return g.idents.Load().Anonymous() }

// Identity returns who the client is now.
func (s *Session) Identity() *identity.Identity { return s.ident.Load() }

// verbs say what an operation tried, for "permission denied: VERB SUBJECT".
var verbs = map[Op]string{OpPub: "publish to", OpSub: "subscribe to", OpMsg: "send private messages to"}

// guard checks that the client may publish (OpPub) or subscribe (OpSub)
// to subject, or send a private message (OpMsg) to the nick subject,
// which counts as publishing to msg.NICK. A refusal is counted.
func (s *Session) guard(op Op, subject string) *Error {
	return checkPerm(s.reg, s.cfg.Door, s.ident.Load(), op, subject)
}

// Check reports whether id (nil: the anonymous client) may do op on
// subject, as Do would decide it, for a door that must refuse before it
// has a session (an SSE stream cannot show a refusal once it started).
// A refusal is counted for door.
func (g *Registry) Check(door string, id *identity.Identity, op Op, subject string) *Error {
	if id == nil {
		id = g.Anonymous()
	}
	return checkPerm(g, door, id, op, subject)
}

// checkPerm is guard for a session or a visitor.
func checkPerm(g *Registry, door string, id *identity.Identity, op Op, subject string) *Error {
	p := id.Perms
	if p == nil {
		return nil
	}
	ok, kind := false, "publish"
	switch op {
	case OpPub:
		ok = p.MayPublish(subject)
	case OpMsg:
		ok = p.MayPublish("msg." + subject)
	case OpSub:
		ok, kind = p.MaySubscribe(subject), "subscribe"
	}
	if ok {
		return nil
	}
	g.violations.add(door, kind)
	return denied(g, id, verbs[op]+" "+subject)
}

// denied is the refusal of what: "authentication required" for a client
// that has not authenticated on a server where that would help, else
// "permission denied: WHAT".
func denied(g *Registry, id *identity.Identity, what string) *Error {
	if id.Kind == identity.KindAnonymous && !g.idents.Load().IsOpen() {
		return &Error{Code: CodeAuthRequired, Text: "authentication required"}
	}
	return &Error{Code: CodeDenied, Text: "permission denied: " + what}
}

// authenticate is OpAuth: the client presents a token (r.Text). A wrong
// one is refused and changes nothing.
func (s *Session) authenticate(r Request) *Error {
	id, e := s.reg.Authenticate(s.cfg.Door, strings.TrimSpace(r.Text))
	if e != nil {
		return e
	}
	s.setIdentity(id)
	text := "authenticated"
	if id.Name != "" {
		text += " as " + id.Name
	}
	s.Send(Reply{Op: OpAuth, Nick: id.Name, Text: text})
	s.takeName(id)
	return nil
}

// takeName makes a named identity's name the client's nick. A guest
// holding it (before a reload made it a user's, or a JWT subject nobody
// registered) yields it; if another connection of the same identity, or
// a client on another node, holds it, the client keeps its nick and is
// told.
func (s *Session) takeName(id *identity.Identity) {
	if id.Name == "" || strings.EqualFold(s.client.Nick(), id.Name) {
		return
	}
	err := s.client.SetNick(id.Name)
	if errors.Is(err, hub.ErrNickTaken) && !s.reg.heldByIdentity(id.Name) {
		s.reg.hub.YieldNick(id.Name, id.Name+" has logged in")
		err = s.client.SetNick(id.Name)
	}
	if err != nil {
		s.Info("nick " + id.Name + " is in use by another connection; you stay " + s.client.Nick())
		return
	}
	s.Send(Reply{Op: OpNick, Nick: id.Name, Text: "you are now " + id.Name})
}

// heldByIdentity reports whether a local session authenticated as name
// has name as its nick.
func (g *Registry) heldByIdentity(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for s := range g.sessions {
		if id := s.ident.Load(); id.Name != "" && strings.EqualFold(id.Name, name) && strings.EqualFold(s.client.Nick(), name) {
			return true
		}
	}
	return false
}

// mayNick checks a /nick request against the client's identity: whether
// it may choose a nick at all, and that the nick is not a registered
// user's name (unless it is its own).
func (s *Session) mayNick(nick string) *Error {
	id := s.ident.Load()
	if !id.MayNick {
		s.reg.violations.add(s.cfg.Door, "nick")
		if id.Name != "" {
			return &Error{Code: CodeDenied, Text: "permission denied: your nick is your name, " + id.Name}
		}
		return denied(s.reg, id, "choosing a nick")
	}
	if s.reg.idents.Load().Reserved(nick) && !strings.EqualFold(id.Name, nick) {
		return &Error{Code: CodeNickTaken, Text: "nick " + nick + " belongs to a registered user"}
	}
	return nil
}

// withheld reports whether m must not be queued for this client: its
// identity may not receive the topic (a wildcard overlapping a denied
// subject, or a right a reload took away), or a resume is holding it
// (history.go). Private messages and room events pass the permission
// check: rooms are topics, and joining one needed both rights.
func (s *Session) withheld(m *hub.Message) bool {
	f := s.screen.Load()
	if f == 0 || m.Kind != hub.KindMessage {
		return false
	}
	if f&screenPerms != 0 {
		if p := s.ident.Load().Perms; p != nil && !p.MayReceive(m.Topic) {
			return true
		}
	}
	return f&(screenHolding|screenTracking) != 0 && s.held(m)
}

// setIdentity makes id the session's identity. The screenPerms bit is
// set for good once an identity has permissions: clearing it could race
// with another setIdentity and leave a restricted identity unscreened.
func (s *Session) setIdentity(id *identity.Identity) {
	if id.Perms != nil {
		s.screen.Or(screenPerms)
	}
	s.ident.Store(id)
	s.armExpiry(id.Expires)
}

// armExpiry makes the session end (ReasonExpired, after what is queued)
// at the time at, replacing an earlier deadline: presenting a newer token
// before the old one expires keeps the connection. A zero at means never.
func (s *Session) armExpiry(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lf.expiry != nil {
		s.lf.expiry.Stop()
		s.lf.expiry = nil
	}
	if at.IsZero() || s.lf.finished {
		return
	}
	s.lf.expiry = time.AfterFunc(time.Until(at), func() { s.CloseGracefully(ReasonExpired) })
}
