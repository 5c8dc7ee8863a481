package tcpfront_test

import (
	"fmt"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// timeout bounds every wait; it only catches hangs and is never a
// measurement.
const timeout = testkit.Timeout

// reservedNicks are the nicks the server keeps for itself (server.New
// reserves the same), so the door's tests see the same refusals.
var reservedNicks = []string{"http", "server"}

// testServer is the TCP door alone, on its own hub and registry, listening
// on 127.0.0.1:0 and served until the test ends. The door's tests do not
// go through package server, so they do not compile the web door.
type testServer struct {
	*testkit.Served
	front *tcpfront.Front
	reg   *session.Registry
	addr  string
	logs  *testkit.Logs
}

// startServer starts the door with cfg (Addr is forced to 127.0.0.1:0)
// and no connection limits.
func startServer(t testing.TB, cfg tcpfront.Config) *testServer {
	t.Helper()
	return startServerLimits(t, cfg, session.Limits{})
}

// startServerLimits starts the door with cfg and the registry's limits.
func startServerLimits(t testing.TB, cfg tcpfront.Config, limits session.Limits) *testServer {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	logs := &testkit.Logs{}
	cfg.Logger = logs.Logger()
	reg := session.NewRegistry(hub.New(hub.Config{ReservedNicks: reservedNicks}), limits)
	f, err := tcpfront.Listen(cfg, reg)
	if err != nil {
		t.Fatalf("tcpfront.Listen: %v", err)
	}
	return &testServer{Served: testkit.ServeDoor(t, reg, f), front: f, reg: reg, addr: f.Addr().String(), logs: logs}
}

// Registry returns the door's session registry.
func (s *testServer) Registry() *session.Registry { return s.reg }

// Hub returns the door's hub.
func (s *testServer) Hub() *hub.Hub { return s.reg.Hub() }

// parked returns how many of the door's connections are parked.
func (s *testServer) parked() int { return s.front.Stats().Parked }

// waitParked waits until n connections are parked.
func (s *testServer) waitParked(t testing.TB, n int) {
	t.Helper()
	testkit.Eventually(t, fmt.Sprintf("the door to report %d parked", n), func() bool { return s.parked() == n })
}

// withSession returns cfg with the session settings sc.
func withSession(sc session.Config) tcpfront.Config { return tcpfront.Config{Session: sc} }

// client is the shared line-protocol test client.
type client = linetest.Client

// dialRaw connects without reading anything.
func dialRaw(t testing.TB, addr string) *client { return linetest.DialRaw(t, addr) }

// dial connects and reads the banner, learning the guest nick.
func dial(t testing.TB, addr string) *client { return linetest.Dial(t, addr) }

// dialNick connects and takes nick.
func dialNick(t testing.TB, addr, nick string) *client { return linetest.DialNick(t, addr, nick) }
