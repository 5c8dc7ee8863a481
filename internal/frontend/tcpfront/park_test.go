package tcpfront_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

// parkAfter is short so that connections park between every step below;
// waitParked sleeps a few times longer. The sleeps only make parking
// happen; what is asserted is behaviour, never time.
const parkAfter = 10 * time.Millisecond

func waitParked() { time.Sleep(5 * parkAfter) }

// TestParkedConnections runs the usual scenarios with connections that
// park whenever they are idle: a parked connection must wake for input,
// for messages (written by the session's writer), for its peer hanging up,
// for server shutdown and for its idle timeout.
func TestParkedConnections(t *testing.T) {
	t.Parallel()
	t.Run("chat across parking", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, server.Config{ParkAfter: parkAfter})
		alice, bob := dialNick(t, srv.addr, "alice"), dialNick(t, srv.addr, "bob")
		alice.Send("/join lobby")
		alice.Expect("* joined lobby")
		bob.Send("/join lobby")
		bob.Expect("* joined lobby (2 here)")
		alice.ExpectLine("* bob joined lobby")
		for i := 0; i < 3; i++ {
			waitParked()
			alice.Send("hello " + strings.Repeat("!", i))
			bob.ExpectLine("[lobby] alice: hello " + strings.Repeat("!", i))
			waitParked()
			bob.Send("/who")
			bob.ExpectLine("* lobby: alice, bob (2)")
		}
	})
	t.Run("peer hangs up while parked", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, server.Config{ParkAfter: parkAfter})
		c := dial(t, srv.addr)
		c.Ping()
		waitParked()
		_ = c.Conn.Close()
		eventually(t, "session gone", func() bool { return srv.Registry().Len() == 0 })
	})
	t.Run("shutdown reaches parked clients", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, server.Config{ParkAfter: parkAfter})
		var cs []*client
		for i := 0; i < 20; i++ {
			c := dial(t, srv.addr)
			c.Ping()
			cs = append(cs, c)
		}
		waitParked()
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
		srv := startServer(t, server.Config{ParkAfter: parkAfter, IdleTimeout: 300 * time.Millisecond})
		c := dial(t, srv.addr)
		c.ExpectLine("! idle timeout, disconnecting")
		c.ExpectEOF()
	})
	t.Run("partial line across parking", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, server.Config{ParkAfter: parkAfter})
		c := dial(t, srv.addr)
		c.Write("/pi")
		waitParked()
		c.Write("ng split\n")
		c.ExpectLine("* pong split")
	})
}
