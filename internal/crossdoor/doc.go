// Package crossdoor holds the tests that cross doors: one scenario body
// (chat, slow consumer, shutdown drain, bad input, rate limit) run over
// every door through a small per-door client, clients of different doors
// meeting in one room, the browser end-to-end test and the fan-out
// benchmark of every door. They drive a whole server (package server,
// started on port 0 by testkit/servertest) black-box over the network.
// Each door's own tests stay in its package and compile only that door.
//
// The package has no code of its own: everything is in its tests.
package crossdoor
