package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/config"
	"github.com/switchboard-hub/switchboard/internal/units"
)

// defaultTarget is switchboard's line protocol on its default TCP address.
const defaultTarget = "tcp://127.0.0.1:8082"

// maxConnsPerProcess keeps bench under a 20,000 open-file limit with room
// for the process's other descriptors.
const maxConnsPerProcess = 19000

// commonOpts are the flags every load scenario shares.
type commonOpts struct {
	targetStr   string
	target      target
	jsonOut     bool
	noProgress  bool
	serverPID   int
	timeout     time.Duration
	dialTimeout time.Duration
	topic       string
	sourcesStr  string
	sources     []net.IP
}

// register adds the shared flags to fs with the scenario's default timeout.
func (c *commonOpts) register(fs *flag.FlagSet, timeout time.Duration, topic string) {
	fs.StringVar(&c.targetStr, "target", defaultTarget, "server to measure: tcp://HOST:PORT (switchboard line protocol, also bare HOST:PORT), redis://HOST:PORT or nats://HOST:PORT")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON object on stdout instead of a table")
	fs.BoolVar(&c.noProgress, "no-progress", false, "show no progress on stderr (a bar on a terminal, a line every 5 s otherwise)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "PID of the server, for its CPU seconds and RSS (0: find the local process listening on the target)")
	fs.DurationVar(&c.timeout, "timeout", timeout, "hard bound on the whole run (default: long enough for the scenario's phases plus a minute)")
	fs.DurationVar(&c.dialTimeout, "dial-timeout", 10*time.Second, "bound on connecting and subscribing one client")
	fs.StringVar(&c.topic, "topic", topic, "topic (channel, subject) to use")
	fs.StringVar(&c.sourcesStr, "sources", "auto", "local source addresses: auto (127.0.0.2-127.0.0.9 for many loopback connections), none, or a comma-separated list of IPs")
}

// resolve validates the shared flags once parsed; conns is the number of
// connections the scenario will open.
func (c *commonOpts) resolve(conns int) error {
	t, err := parseTarget(c.targetStr)
	if err != nil {
		return err
	}
	c.target = t
	if c.timeout <= 0 {
		return errors.New("bench: --timeout must be positive")
	}
	if strings.ContainsAny(c.topic, " \t\r\n") || c.topic == "" {
		return fmt.Errorf("bench: bad --topic %q", c.topic)
	}
	switch c.sourcesStr {
	case "none", "":
	case "auto":
		// One source address has ~28k ephemeral ports, shared with
		// TIME_WAIT leftovers of earlier runs: spread large runs.
		if t.isLoopback() && conns > 4000 {
			for i := 2; i <= 9; i++ {
				c.sources = append(c.sources, net.IPv4(127, 0, 0, byte(i)))
			}
		}
	default:
		for _, s := range strings.Split(c.sourcesStr, ",") {
			ip := net.ParseIP(strings.TrimSpace(s))
			if ip == nil {
				return fmt.Errorf("bench: bad --sources address %q", s)
			}
			c.sources = append(c.sources, ip)
		}
	}
	return nil
}

// dialer returns a dialer for the resolved target with bufSize-byte readers.
func (c *commonOpts) dialer(bufSize int) *dialer {
	return &dialer{t: c.target, sources: c.sources, timeout: c.dialTimeout, bufSize: bufSize}
}

// parseFlags parses args with fs. -h prints the scenario's flags to
// stderr in the format of `switchboard serve --help`; a bad flag is an
// error naming it (config.Parse), without the usage.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	if err := config.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: switchboard bench %s [flags]\n\nFlags:\n", fs.Name())
			config.PrintFlags(stderr, fs)
			return err
		}
		return fmt.Errorf("bench %s: %w (see switchboard bench %s -h)", fs.Name(), err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench %s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// sizeVar declares a byte-count flag that takes units (64KiB, 1MiB).
func sizeVar(fs *flag.FlagSet, p *int, name string, def int, usage string) {
	*p = def
	fs.Var(units.NewSize(p), name, usage)
}

// flagSet reports whether the named flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// withTimeout bounds ctx by the run's --timeout.
func (c *commonOpts) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}
