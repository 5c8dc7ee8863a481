// Package hub is switchboard's message hub: topics, subscriptions with
// NATS-style wildcards and queue groups, rooms with presence, nicks and
// private messages. It matches; it does not deliver what is published on
// this node. It does no I/O and knows nothing about sockets, batching,
// wire formats or the caller's clock.
//
// Entry points: New creates a Hub; Hub.Connect registers one client and
// returns its Client handle, through which the client names itself, joins
// rooms and subscribes. Client.Publish (and Hub.Publish for clients without
// a handle) stamps a message with its topic's sequence number and returns
// its local recipients as a Route, an immutable snapshot; the publisher
// delivers to them (package session does, batching the writes). What the
// hub routes on its own — room events, private messages, messages from
// other nodes — it gives to each recipient's Subscriber.Deliver, which
// must never block. Hub.Rooms and Hub.Who answer presence queries. A
// Backplane, when set, extends the hub to other nodes.
//
// Concurrency: every exported method of Hub and Client is safe for concurrent
// use. Publishing takes no exclusive lock: it reads an immutable, cached list
// of matching subscriptions per topic, which subscription changes
// invalidate, and no hub lock is held while a Subscriber is called.
// See DEVELOPING.md for the lock order.
package hub
