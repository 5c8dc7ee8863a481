package session

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// Op is an operation a client asks for. The vocabulary is the line
// protocol's; other doors map their own syntax onto it, which is how every
// door exposes the same operations with the same rules.
type Op = line.Op

// Request is one operation with its arguments, as decoded by a front end.
type Request struct {
	Op    Op
	Arg   string // nick, room, pattern or topic
	Arg2  string // queue group for OpSub
	Text  string // message text for OpSay, OpMsg, OpPub; token for OpPing
	Token string // unused by the line protocol; echoed in replies by others
}

// RoomCount is one room and how many members it has.
type RoomCount struct {
	Room    string `json:"room"`
	Members int    `json:"members"`
}

// Reply is everything a session tells its client apart from messages:
// answers to requests and unsolicited notices. Text is the human-readable
// form (the whole reply on the line protocol); the other fields give the
// same facts structured, for formats such as JSON.
type Reply struct {
	Op      Op          // the request answered; 0 for notices
	Error   bool        // an error rather than information
	Text    string      // human-readable text
	Final   CloseReason // set on the notice that ends a session
	Nick    string      // the nick concerned, if any
	Room    string      // the room concerned, if any
	Topic   string      // the topic or pattern concerned, if any
	Group   string      // the queue group concerned, if any
	Count   int         // a member count, if meaningful
	Members []string    // for who
	Rooms   []RoomCount // for rooms
}

// HelpLines is the help text of the line protocol, one line per entry.
var HelpLines = []string{
	"commands (case-insensitive):",
	"  /nick NAME            change your nick (1-32 of A-Z a-z 0-9 _ -)",
	"  /join ROOM            join a room and talk in it; plain text goes to your current room",
	"  /part [ROOM]          leave a room (default: the current one)",
	"  /rooms                list rooms and their member counts",
	"  /who [ROOM]           list a room's members (default: the current one)",
	"  /msg NICK TEXT        private message",
	"  /sub PATTERN [GROUP]  subscribe to topics: a.b, a.* (one word), a.> (the rest); GROUP shares the work",
	"  /unsub PATTERN        drop a subscription",
	"  /pub TOPIC TEXT       publish TEXT on TOPIC (no reply unless it fails)",
	"  /ping                 answers * pong once everything before it has been answered",
	"  /quit                 leave",
	"  //text                send text that starts with a slash",
}

// Do carries out one request and queues its reply, if any. It must be
// called from the front end's reader goroutine. Publishing requests (say,
// pub, msg) are answered only on error, so they can run at full rate.
func (s *Session) Do(r Request) {
	if s.batch != nil && s.batch.taken {
		// Whatever this request delivers must not overtake the
		// broadcast the batch took from the hub.
		s.deliverTaken()
	}
	switch r.Op {
	case line.OpSay:
		if s.room == "" {
			s.reply(r, true, "join a room first (/join ROOM), or /pub TOPIC TEXT")
			return
		}
		s.publish(r, s.room, r.Text)
	case line.OpPub:
		s.publish(r, r.Arg, r.Text)
	case line.OpHelp:
		for _, l := range HelpLines {
			s.Send(Reply{Op: r.Op, Text: l})
		}
	case line.OpNick:
		s.nick(r)
	case line.OpJoin:
		s.join(r)
	case line.OpPart:
		s.part(r)
	case line.OpRooms:
		s.rooms(r)
	case line.OpWho:
		s.who(r)
	case line.OpMsg:
		if !s.allow(r) {
			return
		}
		err := s.client.Private(r.Arg, sanitize(r.Text))
		switch {
		case errors.Is(err, hub.ErrNoSuchNick):
			s.reply(r, true, "no such nick "+r.Arg)
		case errors.Is(err, hub.ErrSelf):
			s.reply(r, true, "that is you")
		case err != nil:
			s.reply(r, true, userError(err))
		default:
			s.Send(Reply{Op: r.Op, Nick: r.Arg, Text: "sent to " + r.Arg})
		}
	case line.OpSub:
		if err := s.client.Subscribe(r.Arg, r.Arg2); err != nil {
			s.reply(r, true, userError(err))
			return
		}
		text := "subscribed " + r.Arg
		if r.Arg2 != "" {
			text += " (group " + r.Arg2 + ")"
		}
		s.Send(Reply{Op: r.Op, Topic: r.Arg, Group: r.Arg2, Text: text})
	case line.OpUnsub:
		if err := s.client.Unsubscribe(r.Arg); err != nil {
			s.reply(r, true, "not subscribed to "+r.Arg)
			return
		}
		s.Send(Reply{Op: r.Op, Topic: r.Arg, Text: "unsubscribed " + r.Arg})
	case line.OpPing:
		text := "pong"
		if r.Text != "" {
			text += " " + sanitize(r.Text)
		}
		s.Send(Reply{Op: r.Op, Text: text})
	case line.OpQuit:
		s.CloseGracefully(ReasonClientQuit)
	default:
		s.reply(r, true, "unknown operation; type /help for commands")
	}
}

func (s *Session) reply(r Request, isErr bool, text string) {
	s.Send(Reply{Op: r.Op, Error: isErr, Text: text, Topic: r.Arg})
}

// allow applies the rate limit to a publishing request, telling the client
// when it refuses.
func (s *Session) allow(r Request) bool {
	if s.limiter == nil || s.limiter.Allow() {
		return true
	}
	s.reg.stats.rateLimited.Add(1)
	s.reply(r, true, "rate limited")
	return false
}

func (s *Session) publish(r Request, topic, text string) {
	if !s.allow(r) {
		return
	}
	tag, at := s.publishTag()
	if _, err := s.client.PublishTagged(topic, sanitize(text), tag, at); err != nil {
		s.reply(r, true, userError(err))
		return
	}
	s.reg.stats.published.Add(1)
}

func (s *Session) nick(r Request) {
	err := s.client.SetNick(r.Arg)
	switch {
	case errors.Is(err, hub.ErrNickTaken):
		s.reply(r, true, "nick "+r.Arg+" is taken")
	case err != nil:
		s.reply(r, true, userError(err))
	default:
		s.Send(Reply{Op: r.Op, Nick: r.Arg, Text: "you are now " + r.Arg})
	}
}

func (s *Session) join(r Request) {
	n, err := s.client.Join(r.Arg)
	switch {
	case errors.Is(err, hub.ErrAlreadyMember):
		s.room = r.Arg
		n = len(s.reg.hub.Who(r.Arg))
		s.Send(Reply{Op: r.Op, Room: r.Arg, Count: n, Text: fmt.Sprintf("now talking in %s (%d here)", r.Arg, n)})
	case err != nil:
		s.reply(r, true, userError(err))
	default:
		s.room = r.Arg
		s.Send(Reply{Op: r.Op, Room: r.Arg, Count: n, Text: fmt.Sprintf("joined %s (%d here)", r.Arg, n)})
	}
}

func (s *Session) part(r Request) {
	room := r.Arg
	if room == "" {
		room = s.room
	}
	if room == "" {
		s.reply(r, true, "you are not in a room")
		return
	}
	if err := s.client.Part(room); err != nil {
		s.reply(r, true, "you are not in "+room)
		return
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
}

func (s *Session) rooms(r Request) {
	all := s.reg.hub.Rooms()
	list := make([]RoomCount, 0, len(all))
	for room, n := range all {
		list = append(list, RoomCount{Room: room, Members: n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Room < list[j].Room })
	var b strings.Builder
	switch len(list) {
	case 0:
		b.WriteString("no rooms yet; /join ROOM to start one")
	case 1:
		b.WriteString("1 room: ")
	default:
		b.WriteString(strconv.Itoa(len(list)) + " rooms: ")
	}
	for i, rc := range list {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%d)", rc.Room, rc.Members)
	}
	s.Send(Reply{Op: r.Op, Rooms: list, Count: len(list), Text: b.String()})
}

func (s *Session) who(r Request) {
	room := r.Arg
	if room == "" {
		room = s.room
	}
	if room == "" {
		s.reply(r, true, "which room? /who ROOM (you are not in one)")
		return
	}
	if err := hub.ValidateTopic(room); err != nil {
		s.reply(r, true, userError(err))
		return
	}
	nicks := s.reg.hub.Who(room)
	text := fmt.Sprintf("%s: %s (%d)", room, strings.Join(nicks, ", "), len(nicks))
	if len(nicks) == 0 {
		text = room + ": nobody here"
	}
	s.Send(Reply{Op: r.Op, Room: room, Members: nicks, Count: len(nicks), Text: text})
}

// CurrentRoom returns the room plain text goes to, or "".
func (s *Session) CurrentRoom() string { return s.room }

// sanitize makes client text safe to show in other clients' terminals.
func sanitize(t string) string { return line.SanitizeString(t) }

// userError turns a hub error into text for the client: the hub's
// "hub: " prefix is dropped and a pointer to /help added.
func userError(err error) string {
	return strings.TrimPrefix(err.Error(), "hub: ") + "; type /help for commands"
}
