package lineclient_test

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/lineclient"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// TestPub publishes the words after the topic as one message, and lines of
// stdin one message each, in order, skipping blank lines.
func TestPub(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr := srv.TCPAddr()
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string // texts, in order
	}{
		{"text", "", []string{"--server", addr, "alerts.disk", "disk", "91%", "full"}, []string{"disk 91% full"}},
		{"flags after the arguments", "", []string{"alerts.disk", "hi", "--server", addr}, []string{"hi"}},
		{"-- ends the flags", "", []string{"--server", addr, "--", "alerts.disk", "--not-a-flag"}, []string{"--not-a-flag"}},
		{"stdin with -", "one\n\n  \ntwo\r\nthree & <four>", []string{"--server", addr, "alerts.disk", "-"}, []string{"one", "two", "three & <four>"}},
		{"stdin without TEXT", "only\n", []string{"--server", addr, "alerts.disk"}, []string{"only"}},
	}
	for _, tt := range tests {
		l := listener(t, addr, "alerts.>")
		r := start(t, lineclient.Pub, tt.stdin, nil, tt.args...)
		if err := r.wait(t); err != nil {
			t.Fatalf("%s: %v\nstderr: %s", tt.name, err, r.stderr.String())
		}
		got := l.Ping() // pub waited for its own barrier, so all is here
		if len(got) != len(tt.want) {
			t.Fatalf("%s: got %q, want texts %q", tt.name, got, tt.want)
		}
		for i, w := range tt.want {
			if !strings.HasPrefix(got[i], "[alerts.disk] guest-") || !strings.HasSuffix(got[i], ": "+w) {
				t.Errorf("%s: message %d is %q, want text %q", tt.name, i, got[i], w)
			}
		}
	}
}

// TestPubNick: --nick publishes under that nick; a taken nick fails
// before anything is published.
func TestPubNick(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr := srv.TCPAddr()
	l := listener(t, addr, "deploys")
	r := start(t, lineclient.Pub, "", nil, "--server", addr, "--nick", "deploy-bot", "deploys", "v2 is out")
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	l.ExpectLine("[deploys] deploy-bot: v2 is out")

	l.Send("/nick taken")
	l.ExpectLine("* you are now taken")
	r = start(t, lineclient.Pub, "", nil, "--server", addr, "--nick", "taken", "deploys", "never")
	if err := r.wait(t); err == nil || !strings.Contains(err.Error(), "nick taken is taken") {
		t.Errorf("err = %v, want the server's nick-taken error", err)
	}
	l.Quiet()
}

// TestPubErrorReplies: any "! " reply makes pub fail, after every message
// was handled; the replies are printed on stderr.
func TestPubErrorReplies(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *server.Config) { c.TCP.MaxLine = 64 })
	addr := srv.TCPAddr()
	l := listener(t, addr, "ok")
	tests := []struct {
		name, stdin string
		args        []string
		stderr      string
		delivered   []string
	}{
		{"bad topic", "", []string{"a..b", "x"}, "! bad topic", nil},
		{"wildcard topic", "", []string{"a.*", "x"}, "! bad topic", nil},
		{"line too long, the others go through", "first\n" + strings.Repeat("x", 100) + "\nlast\n", []string{"ok", "-"}, "! line too long", []string{"first", "last"}},
	}
	for _, tt := range tests {
		r := start(t, lineclient.Pub, tt.stdin, env(addr), tt.args...)
		err := r.wait(t)
		if err == nil || !strings.Contains(err.Error(), "the server refused 1 of ") {
			t.Errorf("%s: err = %v, want the server's error", tt.name, err)
		}
		if !strings.Contains(r.stderr.String(), tt.stderr) {
			t.Errorf("%s: stderr %q, want it to hold %q", tt.name, r.stderr.String(), tt.stderr)
		}
		got := l.Ping()
		if len(got) != len(tt.delivered) {
			t.Fatalf("%s: delivered %q, want %q", tt.name, got, tt.delivered)
		}
		for i, w := range tt.delivered {
			if !strings.HasSuffix(got[i], ": "+w) {
				t.Errorf("%s: got %q, want text %q", tt.name, got[i], w)
			}
		}
	}
}

// TestPubRateLimited: messages over the server's rate limit are refused,
// and pub says so with a non-zero exit.
func TestPubRateLimited(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *server.Config) { c.Session.RateLimit = 0.5; c.Session.RateBurst = 2 })
	r := start(t, lineclient.Pub, "1\n2\n3\n4\n", env(srv.TCPAddr()), "t")
	if err := r.wait(t); err == nil || !strings.Contains(err.Error(), "refused 2 of 4 message(s)") || strings.Count(r.stderr.String(), "! rate limited") != 2 {
		t.Errorf("err = %v, want 2 rate-limit errors for 4 messages", err)
	}
}

// TestPubServerAddress: --server wins over SWITCHBOARD_SERVER, which wins
// over the default; a server that is not there is a clear error.
func TestPubServerAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr, dead := srv.TCPAddr(), closedAddr(t)
	l := listener(t, addr, "t")
	for _, tt := range []struct {
		name   string
		getenv func(string) string
		args   []string
		ok     bool
	}{
		{"env", env(addr), []string{"t", "x"}, true},
		{"flag over env", env(dead), []string{"--server", addr, "t", "x"}, true},
		{"env not there", env(dead), []string{"t", "x"}, false},
	} {
		r := start(t, lineclient.Pub, "", tt.getenv, tt.args...)
		err := r.wait(t)
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.ok:
			l.Expect("[t] ")
		case err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "is the server running"):
			t.Errorf("%s: err = %v, want a clear connection refused", tt.name, err)
		}
	}
}

// TestPubBadArguments: mistakes are refused before connecting.
func TestPubBadArguments(t *testing.T) {
	t.Parallel()
	dead := closedAddr(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "missing TOPIC"},
		{[]string{"a b", "x"}, "one word"},
		{[]string{"t", "two\nlines"}, "line break"},
		{[]string{"t", " "}, "TEXT is empty"},
		{[]string{"--timeout", "0s", "t", "x"}, "--timeout"},
		{[]string{"--server", "", "t", "x"}, "--server is empty"},
		{[]string{"--nick", "a b", "t", "x"}, "one word"},
		{[]string{"--bogus", "t", "x"}, "unknown flag --bogus"},
	} {
		r := start(t, lineclient.Pub, "", env(dead), tt.args...)
		if err := r.wait(t); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("pub %q: err = %v, want it to mention %q", tt.args, err, tt.want)
		}
	}
	r := start(t, lineclient.Pub, "", nil, "-h")
	if err := r.wait(t); !errors.Is(err, flag.ErrHelp) || !strings.Contains(r.stderr.String(), "Usage: switchboard pub") || !strings.Contains(r.stderr.String(), "--server") {
		t.Errorf("-h: err = %v, stderr %q", err, r.stderr.String())
	}
}
