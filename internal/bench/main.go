package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// usage is printed by `switchboard bench`, `bench help` and on bad input.
const usage = `usage: switchboard bench SCENARIO [flags]

Scenarios:
  fanout    K subscribers and P publishers on one topic: delivered and
            published messages/s, loss, latency, server CPU per delivery
            (bench fanout -k 100 -p 1 --size 64 --duration 5s [--rate N])
  latency   fanout at a fixed publish rate (open loop): latency histogram
            (bench latency -k 10 --rate 10000 --duration 5s)
  conns     N idle subscribed connections: server RSS per connection, then
            B broadcasts timed until the last subscriber has each
            (bench conns -n 19000 -b 20 --idle 15s)
  summarize medians of run reports (--json output files) into compare.json
            and compare.md (bench summarize --dir bench-results/runs)
  plot      draw compare.json as a PNG: deliveries per server CPU-second
            against K (bench plot --in compare.json --out fanout.png)

Targets (--target): tcp://HOST:PORT or HOST:PORT (switchboard's line
protocol, default tcp://127.0.0.1:8082), redis://HOST:PORT, nats://HOST:PORT.
Common flags: --json, --server-pid PID, --timeout D, --no-progress,
--topic T, --sources auto|none|IP,IP...
Run "switchboard bench SCENARIO -h" for a scenario's flags.
`

// ErrUsage is returned (wrapped) when the arguments name no known scenario;
// the usage text has already been printed to stderr.
var ErrUsage = errors.New("bench: unknown scenario")

// Main runs `switchboard bench` with args, the words after "bench". Reports
// go to stdout (a table, or one JSON object with --json); progress, warnings
// and usage go to stderr. Every scenario stops by itself within its
// --timeout or when ctx is done.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	var err error
	switch args[0] {
	case "fanout":
		err = fanoutMain(ctx, "fanout", args[1:], stdout, stderr)
	case "latency":
		err = fanoutMain(ctx, "latency", args[1:], stdout, stderr)
	case "conns":
		err = connsMain(ctx, args[1:], stdout, stderr)
	case "plot":
		err = plotMain(args[1:], stdout, stderr)
	case "summarize":
		err = summarizeMain(args[1:], stdout, stderr)
	default:
		_, _ = io.WriteString(stderr, usage)
		return fmt.Errorf("%w %q", ErrUsage, args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
