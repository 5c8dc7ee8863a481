package session

import (
	"errors"
	"fmt"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// Request is one operation with its arguments, as decoded by a door.
type Request struct {
	Op   Op
	Arg  string // nick, room, pattern or topic
	Arg2 string // queue group for OpSub
	Text string // message text for OpSay, OpMsg, OpPub; token for OpPing; count for OpHistory
	// Since is the position OpSub replays from (see history.ParseSince);
	// empty means live only.
	Since string
}

// RoomCount is one room and how many members it has.
type RoomCount struct {
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// Reply is everything a session tells its client apart from messages:
// answers to requests and unsolicited notices. Text is the human-readable
// form, in no door's syntax; the other fields give the same facts
// structured, for formats such as JSON.
type Reply struct {
	Op       Op          // the request answered; 0 for notices
	Error    bool        // a refusal rather than information
	Code     Code        // what kind of refusal, when Error
	Text     string      // human-readable text
	Final    CloseReason // set on the notice that ends a session
	Gap      *Gap        // set on a gap marker (session/history.go)
	Nick     string      // the nick concerned, if any
	Room     string      // the room concerned, if any
	Topic    string      // the topic or pattern concerned, if any
	Group    string      // the queue group concerned, if any
	Count    int         // a member count, if meaningful; for listings, the whole count
	More     int         // for listings: entries left out of Members or Rooms (see listing.go)
	Members  []string    // for who
	Rooms    []RoomCount // for rooms
	Commands []Command   // for help, rendered by each door in its syntax
}

// Do carries out one request and queues its reply, if any. It is the one
// entry point of every operation, for every door: the rules (sanitizing,
// rate limits and the command budget, the identity's permissions (auth.go), the caps
// of limits.go) are applied here once. It returns the refusal it sent, if
// it refused, for doors that must act on it.
// Publishing requests (say, pub, msg) are answered only on error, so they
// can run at full rate. Reader only.
func (s *Session) Do(r Request) *Error {
	s.Alive()
	// Whatever this request delivers must not overtake a broadcast the
	// batch is holding.
	s.releaseBig()
	e := s.spend(r.Op)
	if e == nil {
		e = s.do(r)
	}
	if e != nil {
		s.refuse(r, e)
	}
	return e
}

// do carries out r, returning a refusal instead of sending it.
func (s *Session) do(r Request) *Error {
	switch r.Op {
	case OpSay:
		if s.room == "" {
			return &Error{Code: CodeNoRoom, Text: "join a room first"}
		}
		return s.publish(s.room, r.Text)
	case OpPub:
		return s.publish(r.Arg, r.Text)
	case OpHelp:
		s.Send(Reply{Op: r.Op, Text: "commands", Commands: Commands()})
	case OpNick:
		return s.nick(r)
	case OpJoin:
		if r.Since != "" {
			return s.joinSince(r)
		}
		return s.join(r)
	case OpPart:
		return s.part(r)
	case OpRooms:
		s.rooms(r)
	case OpWho:
		return s.who(r)
	case OpMsg:
		return s.private(r)
	case OpSub:
		if r.Since != "" {
			return s.subscribeSince(r)
		}
		return s.subscribe(r)
	case OpHistory:
		return s.history(r)
	case OpIDs:
		return s.ids(r)
	case OpUnsub:
		if err := s.client.Unsubscribe(r.Arg); err != nil {
			return &Error{Code: CodeNotSub, Text: "not subscribed to " + r.Arg}
		}
		s.Send(Reply{Op: r.Op, Topic: r.Arg, Text: "unsubscribed " + r.Arg})
	case OpPing:
		text := "pong"
		if r.Text != "" {
			text += " " + sanitize(r.Text)
		}
		s.Send(Reply{Op: r.Op, Text: text})
	case OpAuth:
		return s.authenticate(r)
	case OpQuit:
		s.CloseGracefully(ReasonClientQuit)
	default:
		return &Error{Code: CodeUnknownOp, Text: "unknown operation"}
	}
	return nil
}

// refuse answers r with a refusal, naming its argument.
func (s *Session) refuse(r Request, e *Error) {
	s.Send(Reply{Op: r.Op, Error: true, Code: e.Code, Text: e.Text, Topic: r.Arg})
}

// allow applies the rate limit to a publishing request.
func (s *Session) allow() *Error {
	if s.limiter == nil || s.limiter.Allow() {
		return nil
	}
	s.reg.stats.rateLimited.Add(1)
	return &Error{Code: CodeRateLimited, Text: "rate limited"}
}

// publish is the publish operation of a connected client: text on topic.
func (s *Session) publish(topic, text string) *Error {
	if e := s.allow(); e != nil {
		return e
	}
	if e := s.guard(OpPub, topic); e != nil {
		return e
	}
	m, rt, err := s.client.Publish(topic, sanitize(text), s.now())
	if err != nil {
		return FromHub(err)
	}
	s.reg.stats.published.Add(1)
	s.reg.stats.delivered.Add(uint64(s.deliverRoute(m, rt)))
	return nil
}

func (s *Session) private(r Request) *Error {
	if e := s.allow(); e != nil {
		return e
	}
	if e := s.guard(OpMsg, r.Arg); e != nil {
		return e
	}
	if err := s.client.Private(r.Arg, sanitize(r.Text)); err != nil {
		e := FromHub(err)
		if e.Code == CodeNoSuchNick {
			e.Text = "no such nick " + r.Arg
		}
		return e
	}
	s.Send(Reply{Op: r.Op, Nick: r.Arg, Text: "sent to " + r.Arg})
	return nil
}

func (s *Session) subscribe(r Request) *Error {
	if e := s.guard(OpSub, r.Arg); e != nil {
		return e
	}
	if e := s.capSub(); e != nil {
		return e
	}
	if err := s.client.Subscribe(r.Arg, r.Arg2); err != nil {
		return FromHub(err)
	}
	text := "subscribed " + r.Arg
	if r.Arg2 != "" {
		text += " (group " + r.Arg2 + ")"
	}
	s.Send(Reply{Op: r.Op, Topic: r.Arg, Group: r.Arg2, Text: text})
	return nil
}

func (s *Session) nick(r Request) *Error {
	if e := s.mayNick(r.Arg); e != nil {
		return e
	}
	err := s.client.SetNick(r.Arg)
	switch {
	case errors.Is(err, hub.ErrNickTaken):
		return &Error{Code: CodeNickTaken, Text: "nick " + r.Arg + " is taken"}
	case err != nil:
		return FromHub(err)
	}
	s.Send(Reply{Op: r.Op, Nick: r.Arg, Text: "you are now " + r.Arg})
	return nil
}

// join makes the client a member of a room, which needs both publish and
// subscribe rights on it.
func (s *Session) join(r Request) *Error {
	if e := s.guard(OpSub, r.Arg); e != nil {
		return e
	}
	if e := s.guard(OpPub, r.Arg); e != nil {
		return e
	}
	if e := s.capJoin(r.Arg); e != nil {
		return e
	}
	n, err := s.client.Join(r.Arg)
	switch {
	case errors.Is(err, hub.ErrAlreadyMember):
		s.room = r.Arg
		n = len(s.reg.hub.Who(r.Arg))
		s.Send(Reply{Op: r.Op, Room: r.Arg, Count: n, Text: fmt.Sprintf("now talking in %s (%d here)", r.Arg, n)})
	case err != nil:
		return FromHub(err)
	default:
		s.room = r.Arg
		s.Send(Reply{Op: r.Op, Room: r.Arg, Count: n, Text: fmt.Sprintf("joined %s (%d here)", r.Arg, n)})
	}
	return nil
}

// roomOf returns the room a request names, or the current room.
func (s *Session) roomOf(r Request) string {
	if r.Arg != "" {
		return r.Arg
	}
	return s.room
}

func (s *Session) part(r Request) *Error {
	room := s.roomOf(r)
	if room == "" {
		return &Error{Code: CodeNoRoom, Text: "you are not in a room"}
	}
	if err := s.client.Part(room); err != nil {
		return &Error{Code: CodeNotMember, Text: "you are not in " + room}
	}
	if s.room == room {
		s.room = ""
		if rest := s.client.Rooms(); len(rest) > 0 {
			s.room = rest[0]
		}
	}
	text := "left " + room
	if s.room != "" {
		text += "; now talking in " + s.room
	}
	s.Send(Reply{Op: r.Op, Room: room, Text: text})
	return nil
}

// sanitize makes client text safe to show in other clients' terminals.
func sanitize(t string) string { return line.SanitizeString(t) }
