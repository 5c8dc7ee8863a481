// Package tlsconf builds and reloads the server side of TLS for every door:
// one *tls.Config whose certificate and client CA pool can be swapped while
// the server runs. Entry points: New with Options, then Server.Config for
// the doors' listeners, Server.Reload on SIGHUP, and PeerName for the
// identity a verified client certificate carries. SelfSigned makes a
// certificate in memory for trials.
//
// Every handshake reads the current certificate (and pool) through one
// atomic pointer, so a reload reaches new handshakes at once and never
// touches a connection already established. TLS 1.2 is the minimum
// version. Only crypto/tls and crypto/x509 are used.
package tlsconf
