// Package lineclient is switchboard's command-line client, the
// `switchboard pub` and `switchboard sub` commands: publish from scripts and
// terminals, and print what arrives on patterns, one message a line, over
// the line protocol (docs/protocol.md, docs/cli.md).
//
// Entry points:
//   - Pub runs `switchboard pub [flags] TOPIC [TEXT|-]`.
//   - Sub runs `switchboard sub [flags] PATTERN...`.
//
// Both take their surroundings (standard streams, environment) in an Env,
// so tests run them in-process against a real server. Server lines are
// parsed by internal/wire/line, the same codec the server formats them with.
package lineclient
