// Package hub is switchboard's message hub: topics, subscriptions with
// NATS-style wildcards and queue groups, rooms with presence, nicks, private
// messages and fan-out. It does no I/O and knows nothing about sockets; front
// ends reach it through sessions, and sessions receive from it through the
// Subscriber interface, whose Deliver must never block.
//
// Entry points: New creates a Hub; Hub.Connect registers one client and
// returns its Client handle, through which the client names itself, joins
// rooms, subscribes and publishes. Hub.Rooms and Hub.Who answer presence
// queries. A Backplane, when set, extends the hub to other nodes.
//
// Concurrency: every exported method of Hub and Client is safe for concurrent
// use. Publishing takes no exclusive lock: it reads an immutable, cached list
// of matching subscriptions per topic, which subscription changes invalidate.
// See DEVELOPING.md for the lock order.
package hub
