// Package identity says who a client is and what it may do: users from the
// config file (a name, a token and permissions), JWTs signed by a key the
// operator trusts, verified TLS client certificates, and the anonymous
// client. It knows nothing about doors or sessions; the session layer asks
// it once per credential (Store.Authenticate) and once per operation
// (Perms).
//
// Permissions follow NATS: lists of subject patterns to publish and
// subscribe to, and lists that deny; deny wins, and an empty allow list
// allows nothing. A subscription whose pattern only overlaps a denied
// subject is allowed, and the messages from the denied subjects are
// filtered out when they are delivered (Perms.MayReceive).
package identity
