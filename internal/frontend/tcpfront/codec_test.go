package tcpfront_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

func TestCodec(t *testing.T) {
	t.Parallel()
	var c tcpfront.Codec
	if c.Slot() != session.SlotLine {
		t.Errorf("Slot = %d, want SlotLine", c.Slot())
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
	if got := string(c.Reply(session.Reply{Error: true, Text: "rate limited"})); got != "! rate limited\n" {
		t.Errorf("error reply %q", got)
	}
}
