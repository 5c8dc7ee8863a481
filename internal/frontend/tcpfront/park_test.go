package tcpfront_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// parkAfter is short so that connections park between every step below.
// Each step waits until the door reports the connections parked
// (Front.Stats), so the tests fail if parking does not happen.
const parkAfter = 10 * time.Millisecond

// TestParkedConnections runs the usual scenarios with connections that
// park whenever they are idle: a parked connection must wake for input,
// for messages (written by the session's writer), for its peer hanging up,
// for server shutdown and for its idle timeout.
func TestParkedConnections(t *testing.T) {
	t.Parallel()
	t.Run("chat across parking", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, tcpfront.Config{ParkAfter: parkAfter})
		alice, bob := dialNick(t, srv.addr, "alice"), dialNick(t, srv.addr, "bob")
		alice.Send("/join lobby")
		alice.Expect("* joined lobby")
		bob.Send("/join lobby")
		bob.Expect("* joined lobby (2 here)")
		alice.ExpectLine("* bob joined lobby")
		for i := 0; i < 3; i++ {
			srv.waitParked(t, 2)
			alice.Send("hello " + strings.Repeat("!", i))
			bob.ExpectLine("[lobby] alice: hello " + strings.Repeat("!", i))
			srv.waitParked(t, 2)
			bob.Send("/who")
			bob.ExpectLine("* lobby: alice, bob (2)")
		}
	})
	t.Run("peer hangs up while parked", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, tcpfront.Config{ParkAfter: parkAfter})
		c := dial(t, srv.addr)
		c.Ping()
		srv.waitParked(t, 1)
		_ = c.Conn.Close()
		testkit.Eventually(t, "session gone", func() bool { return srv.Registry().Len() == 0 })
		if n := srv.parked(); n != 0 {
			t.Errorf("%d connections still parked after the peer hung up", n)
		}
	})
	t.Run("shutdown reaches parked clients", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, tcpfront.Config{ParkAfter: parkAfter})
		var cs []*client
		for i := 0; i < 20; i++ {
			c := dial(t, srv.addr)
			c.Ping()
			cs = append(cs, c)
		}
		srv.waitParked(t, len(cs))
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(t.Context()) }()
		for _, c := range cs {
			c.ExpectLine("* server shutting down")
			c.ExpectEOF()
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
	t.Run("idle timeout while parked", func(t *testing.T) {
		t.Parallel()
		srv := startServerLimits(t, tcpfront.Config{ParkAfter: parkAfter}, session.Limits{IdleTimeout: 300 * time.Millisecond})
		c := dial(t, srv.addr)
		c.ExpectLine("! idle timeout, disconnecting; nothing from the client for 300ms (--idle-timeout)")
		c.ExpectEOF()
		// The connection sent nothing after its banner: it parked once and
		// the parker's poller woke it when the session closed it.
		if st := srv.front.Stats(); st.Parks != 1 {
			t.Errorf("the connection parked %d times before its idle timeout, want 1", st.Parks)
		}
	})
	t.Run("partial line across parking", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, tcpfront.Config{ParkAfter: parkAfter})
		c := dial(t, srv.addr)
		srv.waitParked(t, 1)
		parks := srv.front.Stats().Parks
		c.Write("/pi")
		// Woken by the first half, which it reads and keeps, then parked
		// again before the second half arrives.
		testkit.Eventually(t, "the connection to park again", func() bool { return srv.front.Stats().Parks > parks })
		srv.waitParked(t, 1)
		c.Write("ng split\n")
		c.ExpectLine("* pong split")
	})
}
