package crossdoor_test

import (
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/servertest"
)

func TestMain(m *testing.M) { testkit.VerifyTestMain(m) }

// waitFor bounds every wait; it only catches hangs.
const waitFor = testkit.Timeout

// testServer is a whole server, TCP and web doors, on loopback port 0.
type testServer struct {
	*servertest.Server
	base string // http://127.0.0.1:PORT
}

// startServer starts a server with both doors; mod, if not nil, adjusts
// the configuration first.
func startServer(t testing.TB, mod func(*server.Config)) *testServer {
	t.Helper()
	cfg := server.Config{}
	cfg.Web.Addr = servertest.Loopback
	if mod != nil {
		mod(&cfg)
	}
	s := servertest.Start(t, cfg)
	return &testServer{Server: s, base: s.HTTP}
}

// stop shuts the server down gracefully and waits for it; safe to call
// twice.
func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	if err := ts.Stop(); err != nil {
		t.Error(err)
	}
}

// tcpClient is the shared line-protocol client with a wait that skips
// lines until one matches.
type tcpClient struct{ *linetest.Client }

func dialTCP(t testing.TB, ts *testServer) *tcpClient {
	t.Helper()
	return &tcpClient{linetest.Dial(t, ts.TCP)}
}

func (c *tcpClient) send(l string) {
	c.T.Helper()
	c.Send(l)
}

// expect reads lines until one satisfies match and returns it.
func (c *tcpClient) expect(what string, match func(string) bool) string {
	c.T.Helper()
	var seen []string
	for i := 0; i < 100000; i++ {
		l := c.Next()
		if match(l) {
			return l
		}
		seen = append(seen, l)
	}
	c.T.Fatalf("%s: waiting for %s: seen %q", c.Nick, what, seen)
	return ""
}

// isMessage reports whether a line-protocol line is a message ("[topic]
// nick: text" or "(private) ..."), not a notice.
func isMessage(l string) bool { return strings.HasPrefix(l, "[") || strings.HasPrefix(l, "(") }
