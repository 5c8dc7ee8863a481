// Package stress turns the folklore about goroutines into measurements
// anyone can repeat: what a goroutine really costs, how stacks grow and
// shrink, how many OS threads the runtime uses, what an OS thread costs
// instead, and what a live connection costs a running switchboard server.
//
// The entry point for the switchboard binary is [Main], which parses the
// words after `switchboard stress` and runs one experiment. Each experiment
// is also callable on its own, for tests and for other tools:
//
//   - [RunGoroutines]: launch N short-lived goroutines (the seed lesson's
//     "100,000 goroutines" exercise) and measure time, peak memory, threads.
//   - [RunParked]: keep N goroutines parked on one channel, measure bytes per
//     parked goroutine, then release them all and time the wake-up.
//   - [RunStacks]: recurse to several depths before parking to show stack
//     growth, then return and force GCs to show the shrink.
//   - [RunThreads]: the same parked workload on N locked OS threads, side by
//     side with goroutines, within the machine's stated limits.
//   - [RunConns]: N TCP clients subscribed to a running server, one
//     broadcast, the server's memory per connection from /api/stats.
//   - [RunSweep]: goroutines and parked at growing N, to show cost is linear,
//     with an optional PNG plot.
//
// Every figure is read from the runtime (runtime/metrics) or the kernel
// (/proc/self/status, /proc/meminfo) and each report names its sources.
// Experiments never leave goroutines, threads or connections behind: each
// one waits for everything it started before it returns, even on timeout.
package stress
