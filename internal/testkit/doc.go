// Package testkit is the shared kit of switchboard's tests: Eventually (poll
// a condition with one interval and one bounded timeout), Logs (an slog
// handler that records messages), and StartDoor (serve one door on a hub and
// session registry of its own, and shut it down in the server's order when
// the test ends). It is for tests only.
//
// The kit is split by what it makes a test compile, so that a door's tests
// link only that door:
//
//   - testkit (this package) imports the hub and the session layer, no door;
//   - testkit/natstest starts an embedded NATS server, for cluster tests.
//
// Package linetest (a line-protocol client) uses the same Timeout.
package testkit
