// Package testkit is the shared kit of switchboard's tests: Eventually (poll
// a condition with one interval and one bounded timeout), Logs (an slog
// handler that records messages), Buffer (output a goroutine writes and
// the test reads), and StartDoor (serve one door on a hub and session
// registry of its own, and shut it down in the server's order when the
// test ends). It is for tests only.
//
// The kit is split by what it makes a test compile, so that a door's tests
// link only that door:
//
//   - testkit (this package) imports the hub and the session layer, no door;
//   - testkit/servertest starts a whole server (every door) on port 0, for
//     tests that cross doors (package crossdoor) or test the server;
//   - testkit/natstest starts an embedded NATS server, for cluster tests.
//
// The clients of the doors are packages of their own, beside the kit:
// linetest (line protocol) and webtest (WebSocket, SSE, HTTP publish); both
// use the same Timeout.
package testkit
