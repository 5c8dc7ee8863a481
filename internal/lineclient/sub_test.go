package lineclient_test

import (
	"encoding/json"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/lineclient"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// TestSub prints each message on its patterns, one a line, as the server
// sends it, and ends after --count messages.
func TestSub(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr := srv.TCPAddr()
	r := start(t, lineclient.Sub, "", env(addr), "alerts.*", "deploys", "--count", "3")
	r.ready(t)
	alice := linetest.DialNick(t, addr, "alice")
	alice.Send("/pub alerts.disk full", "/pub alerts.cpu.core0 not matched", "/pub deploys v2", "/pub alerts.net down", "/pub deploys after the count")
	if err := r.wait(t); err != nil {
		t.Fatalf("%v\nstderr: %s", err, r.stderr.String())
	}
	want := "[alerts.disk] alice: full\n[deploys] alice: v2\n[alerts.net] alice: down\n"
	if got := r.stdout.String(); got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if e := r.stderr.String(); !strings.Contains(e, "subscribed to alerts.*, deploys on "+addr) {
		t.Errorf("stderr %q does not say what it subscribed to", e)
	}
}

// TestSubJSON: --json prints one object a line, with the text exactly as
// sent (no HTML escaping).
func TestSubJSON(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr := srv.TCPAddr()
	r := start(t, lineclient.Sub, "", nil, "--server", addr, "--json", "--count", "2", "t.>")
	r.ready(t)
	bob := linetest.DialNick(t, addr, "bob")
	bob.Send(`/pub t.a a & "b" <c>`, "/pub t.b.c grüße\tok")
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	out := r.stdout.String()
	if strings.Contains(out, `\u00`) {
		t.Errorf("HTML-escaped output: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []map[string]string{
		{"topic": "t.a", "from": "bob", "text": `a & "b" <c>`},
		{"topic": "t.b.c", "from": "bob", "text": "grüße\tok"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines %q, want %d", len(lines), out, len(want))
	}
	for i, l := range lines {
		var got map[string]string
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if len(got) != len(want[i]) || got["topic"] != want[i]["topic"] || got["from"] != want[i]["from"] || got["text"] != want[i]["text"] {
			t.Errorf("line %d = %v, want %v", i, got, want[i])
		}
	}
}

// TestSubRefused: a pattern the server refuses ends sub with its error
// before anything is printed.
func TestSubRefused(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	for _, args := range [][]string{{"a.>.b"}, {"ok", "a..b"}, {"ok", "--group", "bad.group"}} {
		r := start(t, lineclient.Sub, "", env(srv.TCPAddr()), args...)
		err := r.wait(t)
		if err == nil || !strings.Contains(err.Error(), "subscribe: bad ") {
			t.Errorf("sub %q: err = %v, want the server's refusal", args, err)
		}
		if r.stdout.String() != "" {
			t.Errorf("sub %q printed %q", args, r.stdout.String())
		}
	}
}

// TestSubStops: interrupting sub is a clean exit; a server that goes away
// is an error, and its notice is shown.
func TestSubStops(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	r := start(t, lineclient.Sub, "", env(srv.TCPAddr()), "t")
	r.ready(t)
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("interrupted: err = %v, want nil", err)
	}

	gone := startServer(t, nil)
	r = start(t, lineclient.Sub, "", env(gone.TCPAddr()), "t")
	r.ready(t)
	if err := gone.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t); err == nil || !strings.Contains(err.Error(), "closed the connection") {
		t.Errorf("server gone: err = %v, want closed the connection", err)
	}
	if e := r.stderr.String(); !strings.Contains(e, "* server shutting down") {
		t.Errorf("stderr %q, want the server's notice", e)
	}
}

// TestSubGroup: two subs in one queue group share the messages of a
// topic, each one going to exactly one of them, in turn.
func TestSubGroup(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	addr := srv.TCPAddr()
	a := start(t, lineclient.Sub, "", env(addr), "jobs.*", "--group", "workers", "--count", "2")
	b := start(t, lineclient.Sub, "", env(addr), "jobs.*", "--group", "workers", "--count", "2")
	a.ready(t)
	b.ready(t)
	p := linetest.DialNick(t, addr, "boss")
	p.Send("/pub jobs.x 1", "/pub jobs.x 2", "/pub jobs.x 3", "/pub jobs.x 4")
	if err := a.wait(t); err != nil {
		t.Fatal(err)
	}
	if err := b.wait(t); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, out := range []string{a.stdout.String(), b.stdout.String()} {
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			seen[l]++
		}
	}
	if len(seen) != 4 {
		t.Errorf("got %v, want the 4 messages once each", seen)
	}
}

// TestSubKeepalive: a quiet sub keeps its connection on a server with
// --idle-timeout by pinging; without pings the server disconnects it.
func TestSubKeepalive(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *server.Config) { c.Limits.IdleTimeout = 500 * time.Millisecond })
	addr := srv.TCPAddr()
	silent := start(t, lineclient.Sub, "", env(addr), "t", "--keepalive", "0")
	pinging := start(t, lineclient.Sub, "", env(addr), "t", "--keepalive", "50ms", "--count", "1")
	silent.ready(t)
	pinging.ready(t)
	if err := silent.wait(t); err == nil || !strings.Contains(err.Error(), "idle timeout") {
		t.Errorf("without keepalive: err = %v, want the idle timeout", err)
	}
	// The silent one was cut after 500 ms; the pinging one, started with
	// it, has now been quiet at least as long and must still be there.
	time.Sleep(500 * time.Millisecond)
	p := linetest.Dial(t, addr)
	p.Send("/pub t still here")
	if err := pinging.wait(t); err != nil {
		t.Fatalf("with keepalive: %v", err)
	}
	if !strings.HasSuffix(pinging.stdout.String(), ": still here\n") {
		t.Errorf("stdout %q", pinging.stdout.String())
	}
}

// TestSubBadArguments: mistakes are refused before connecting.
func TestSubBadArguments(t *testing.T) {
	t.Parallel()
	dead := closedAddr(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "missing PATTERN"},
		{[]string{"--count", "-1", "t"}, "--count -1"},
		{[]string{"--keepalive", "-1s", "t"}, "--keepalive"},
		{[]string{"a b"}, "one word"},
		{[]string{"--group", "a b", "t"}, "one word"},
		{[]string{"t"}, "connection refused"},
	} {
		r := start(t, lineclient.Sub, "", env(dead), tt.args...)
		if err := r.wait(t); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sub %q: err = %v, want it to mention %q", tt.args, err, tt.want)
		}
	}
	r := start(t, lineclient.Sub, "", nil, "--help")
	if err := r.wait(t); !errors.Is(err, flag.ErrHelp) || !strings.Contains(r.stderr.String(), "Usage: switchboard sub") {
		t.Errorf("--help: err = %v, stderr %q", err, r.stderr.String())
	}
}
