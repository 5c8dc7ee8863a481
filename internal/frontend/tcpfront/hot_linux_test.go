package tcpfront_test

import (
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
)

// TestActiveConnectionHandlesItsOwnInput checks where a connection's input
// is handled once it has been active: on the connection's own goroutine
// when it parks (no job per readable event for the door's workers), and on
// a worker every time when parking is off, where a grown stack would stay
// with the idle connection for good. Each /ping is a round trip, so each
// is a readable event of its own.
func TestActiveConnectionHandlesItsOwnInput(t *testing.T) {
	t.Parallel()
	const pings = 50
	for _, tc := range []struct {
		name      string
		parkAfter time.Duration
		minJobs   uint64 // worker jobs the pings may cost, at least
		maxJobs   uint64 // and at most
	}{
		{"parking on: the connection's goroutine reads", time.Hour, 0, 0},
		{"parking off: a worker reads every time", -1, pings, pings},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, tcpfront.Config{ParkAfter: tc.parkAfter})
			c := dial(t, srv.addr)
			c.Ping() // the first input goes to a worker either way
			before := srv.front.Stats().Jobs
			for range pings {
				c.Ping()
			}
			if jobs := srv.front.Stats().Jobs - before; jobs < tc.minJobs || jobs > tc.maxJobs {
				t.Errorf("%d pings cost %d worker jobs, want %d to %d", pings, jobs, tc.minJobs, tc.maxJobs)
			}
		})
	}
}
