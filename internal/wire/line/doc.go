// Package line is the codec of switchboard's line protocol: the plain-text,
// newline-delimited protocol that terminal users speak with nc or telnet and
// that programs (including switchboard bench) speak just as well.
//
// The package is pure: it parses and formats byte slices and does no I/O, so
// the TCP front end, the bench client and the fuzz tests all share one
// implementation. docs/protocol.md is the reference for the protocol itself.
//
// Entry points:
//   - ParseCommand turns one client line into a Command.
//   - AppendInfo, AppendError, AppendMessage and AppendPrivate format the four
//     kinds of server line.
//   - ParseServerLine is the client-side inverse, used by bench and tests.
//   - Sanitize makes untrusted text safe to show in another user's terminal.
package line
