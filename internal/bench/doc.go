// Package bench is switchboard's load generator, behind `switchboard bench`.
//
// It measures one server at a time with scenarios written once over a small
// client interface, so the same run can be pointed at switchboard's line
// protocol, at Redis (RESP2 pub/sub) or at NATS and the three are measured
// by one tool with equally minimal raw-socket clients:
//
//   - fanout: K subscribers, P publishers, payload size, duration or count,
//     optional fixed publish rate; reports delivered and published
//     messages/s, loss, slow-consumer disconnects and a latency histogram.
//   - latency: fanout at a fixed rate, open loop, for the latency histogram.
//   - conns: N idle subscribed connections (spread over 127.0.0.2-9 source
//     addresses), server RSS per connection, then B broadcasts each timed
//     until the last of the N subscribers has it.
//   - summarize: medians of many runs' --json reports into compare.json
//     and a markdown table (used by scripts/bench-compare.sh).
//   - plot: draws compare.json as a PNG chart of deliveries per server
//     CPU-second against K, one line per server.
//
// When it knows the server's PID (--server-pid, or found through the
// listening socket when the server is local) it samples the server's CPU
// seconds and RSS from /proc around the measured window, so "deliveries per
// server CPU-second" and "bytes per connection" come out directly.
//
// Entry point: Main, wired to `switchboard bench` by cmd/switchboard.
//
// Files by job: main.go (dispatch, usage), flags.go (shared flags),
// target*.go (the three protocol clients behind one interface),
// resp.go and natsproto.go (streaming readers), payload.go (sequence and
// timestamp inside the payload), fanout.go, conns.go, latency.go (sharded
// HDR histograms), parallel.go (bounded parallel dialing), proc.go and
// server.go (/proc sampling, rlimit, PID discovery), report.go (JSON and
// table), progress.go, summary.go and plot.go.
//
// The generator shares the machine with the server, so it is written to be
// cheap: one goroutine and one bufio.Reader per connection, one timestamp
// per socket read rather than per message, latency samples buffered per
// subscriber and added to one of a few sharded histograms a batch at a
// time, publish commands batched into one write, and a per-subscriber
// in-flight window instead of unbounded queues.
package bench
