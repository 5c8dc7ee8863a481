package tcpfront_test

import (
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

func TestCodec(t *testing.T) {
	t.Parallel()
	formats := frames.NewFormats()
	c, err := tcpfront.NewCodec(formats)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := formats.Register(tcpfront.FormatName); c.Format() != again || c.Format().Name() != "line" {
		t.Errorf("Format = %v, want the registered line format", c.Format())
	}
	msgs := []struct {
		m    *hub.Message
		want string
	}{
		{&hub.Message{Kind: hub.KindMessage, Topic: "a.b", From: "alice", Text: "hi: there"}, "[a.b] alice: hi: there\n"},
		{&hub.Message{Kind: hub.KindPrivate, From: "bob", To: "alice", Text: "psst"}, "(private) bob: psst\n"},
		{&hub.Message{Kind: hub.KindJoin, Topic: "lobby", From: "carol"}, "* carol joined lobby\n"},
		{&hub.Message{Kind: hub.KindPart, Topic: "lobby", From: "carol"}, "* carol left lobby\n"},
		{&hub.Message{Kind: hub.KindNick, From: "carol", Text: "caz"}, "* carol is now known as caz\n"},
	}
	for _, tt := range msgs {
		if got := string(c.Message(tt.m)); got != tt.want {
			t.Errorf("Message(%v) = %q, want %q", tt.m.Kind, got, tt.want)
		}
	}
	if got := string(c.Reply(session.Reply{Text: "joined lobby (1 here)"})); got != "* joined lobby (1 here)\n" {
		t.Errorf("info reply %q", got)
	}
	replies := []struct {
		r    session.Reply
		want string
	}{
		{session.Reply{Error: true, Code: session.CodeRateLimited, Text: "rate limited"}, "! rate limited\n"},
		{session.Reply{Op: session.OpSay, Error: true, Code: session.CodeNoRoom, Text: "join a room first"}, "! join a room first (/join ROOM), or /pub TOPIC TEXT\n"},
		{session.Reply{Op: session.OpSub, Error: true, Code: session.CodeAlreadySub, Text: "already subscribed"}, "! already subscribed; type /help for commands\n"},
		{session.Reply{Op: session.OpRooms, Text: "no rooms yet"}, "* no rooms yet; /join ROOM to start one\n"},
	}
	for _, tt := range replies {
		if got := string(c.Reply(tt.r)); got != tt.want {
			t.Errorf("Reply(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	help := string(c.Reply(session.Reply{Op: session.OpHelp, Commands: session.Commands()}))
	for _, want := range []string{
		"* commands (case-insensitive):\n",
		"*   /nick NAME            change your nick",
		"*   /sub PATTERN [GROUP] [since=POSITION]\n*                         subscribe to topics",
		"*   /ping [TOKEN]         answers pong",
		"*   //text                send text that starts with a slash\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}
