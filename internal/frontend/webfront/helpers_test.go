package webfront_test

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// waitFor bounds every wait; it only catches hangs.
const waitFor = testkit.Timeout

// testServer is the web door alone, on its own hub and registry, listening
// on 127.0.0.1:0 and served until the test ends. The door's tests do not
// go through package server, so they do not compile the TCP door; tests
// that cross doors live in package crossdoor.
type testServer struct {
	*testkit.Served
	front *webfront.Front
	reg   *session.Registry
	base  string // http://127.0.0.1:PORT
}

// startServer starts the door; mod, if not nil, adjusts its config first
// (Addr is forced to 127.0.0.1:0).
func startServer(t testing.TB, mod func(*webfront.Config)) *testServer {
	t.Helper()
	var cfg webfront.Config
	if mod != nil {
		mod(&cfg)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = (&testkit.Logs{}).Logger()
	// The hub reserves the HTTP sender's nick, as the server's does.
	h := hub.New(hub.Config{ReservedNicks: []string{webfront.HTTPSender}})
	// HTTP publishers are rate limited per address like sessions, as the
	// server sets it up.
	reg := session.NewRegistry(h, session.Limits{VisitorRate: cfg.Session.RateLimit, VisitorBurst: cfg.Session.RateBurst})
	f, err := webfront.Listen(cfg, h, reg)
	if err != nil {
		t.Fatalf("webfront.Listen: %v", err)
	}
	return &testServer{Served: testkit.ServeDoor(t, reg, f), front: f, reg: reg, base: "http://" + f.Addr().String()}
}

// Registry returns the door's session registry.
func (ts *testServer) Registry() *session.Registry { return ts.reg }

// Hub returns the door's hub.
func (ts *testServer) Hub() *hub.Hub { return ts.reg.Hub() }

// tokens puts the shorthand publish and subscribe tokens in force, as the
// server does for --publish-token and --subscribe-token.
func (ts *testServer) tokens(t testing.TB, pub, sub string) {
	t.Helper()
	st, err := identity.New(identity.Config{PublishToken: pub, SubscribeToken: sub})
	if err != nil {
		t.Fatal(err)
	}
	ts.reg.SetIdentities(st)
}
