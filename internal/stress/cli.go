package stress

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/config"
)

// ErrUsage is returned (wrapped) for bad command lines: unknown experiment,
// unknown flag, stray arguments, impossible values.
var ErrUsage = errors.New("stress: bad usage")

// DefaultTimeout bounds every experiment unless --timeout says otherwise.
const DefaultTimeout = 2 * time.Minute

// reporter is what every experiment returns: a value that renders itself
// as a human table; the same value is encoded as JSON for --json.
type reporter interface {
	WriteTable(w io.Writer) error
}

// cliConfig collects the parsed flags of one invocation.
type cliConfig struct {
	opt     Options
	sweep   SweepOptions
	json    bool
	quiet   bool
	timeout time.Duration
}

// experiment is one `switchboard stress <name>` subcommand.
type experiment struct {
	name    string
	args    string // extra usage text
	summary string
	defN    int
	defTime time.Duration
	flags   func(fs *flag.FlagSet, c *cliConfig)
	run     func(ctx context.Context, c *cliConfig) (reporter, error)
}

// experiments lists the subcommands. It builds a fresh slice on each call:
// the package keeps no mutable globals.
func experiments() []experiment {
	return []experiment{
		{name: "goroutines", defN: DefaultGoroutines, defTime: DefaultTimeout,
			summary: "launch N short-lived goroutines; time per spawn, peak memory, OS threads, GC cycles",
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				return RunGoroutines(ctx, c.opt)
			}},
		{name: "parked", defN: DefaultParked, defTime: DefaultTimeout,
			summary: "keep N goroutines blocked on one channel; bytes per parked goroutine; time to release all",
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				return RunParked(ctx, c.opt)
			}},
		{name: "stacks", defN: DefaultStacksN, defTime: DefaultTimeout, args: " [--depth D]",
			summary: "park N goroutines at growing recursion depths; stack growth, then shrink after return",
			flags: func(fs *flag.FlagSet, c *cliConfig) {
				fs.IntVar(&c.opt.Depth, "depth", DefaultStacksDepth, "deepest recursion, in frames of ~"+strconv.Itoa(framePadWords*8)+" B")
			},
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				return RunStacks(ctx, c.opt)
			}},
		{name: "threads", defN: DefaultThreads, defTime: DefaultTimeout,
			summary: "N parked goroutines vs N goroutines locked to OS threads, within machine limits",
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				return RunThreads(ctx, c.opt)
			}},
		{name: "conns", defN: DefaultConns, defTime: DefaultTimeout, args: " --addr HOST:PORT [--http ADDR]",
			summary: "N subscribed TCP clients against a running server, one broadcast, server memory per conn",
			flags: func(fs *flag.FlagSet, c *cliConfig) {
				fs.StringVar(&c.opt.Addr, "addr", DefaultConnsAddr, "switchboard line-protocol address")
				fs.StringVar(&c.opt.HTTPAddr, "http", "", "switchboard web address for /api/stats (empty: skip)")
			},
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				return RunConns(ctx, c.opt)
			}},
		{name: "sweep", defTime: DefaultSweepTimeout, args: " [--ns 1000,10000,...] [--plot FILE]",
			summary: "goroutines and parked at N = 1k..1M: cost grows linearly; table and PNG plot",
			flags: func(fs *flag.FlagSet, c *cliConfig) {
				fs.Var(nsFlag{&c.sweep.Ns}, "ns", "comma-separated values of N; k and m suffixes (10k, 1m) allowed")
				fs.StringVar(&c.sweep.PlotFile, "plot", "", "write a PNG plot to this file")
				fs.BoolVar(&c.sweep.InProcess, "in-process", false, "run every point in this process instead of a fresh child process (less accurate)")
			},
			run: func(ctx context.Context, c *cliConfig) (reporter, error) {
				c.sweep.Progress = c.opt.Progress
				return RunSweep(ctx, c.sweep)
			}},
	}
}

// Main runs `switchboard stress <experiment> [flags]`; args are the words
// after "stress". The report goes to stdout (a table, or exactly one JSON
// object with --json); progress goes to stderr. No arguments or "help"
// prints usage. Errors for bad command lines wrap ErrUsage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	exps := experiments()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		return usage(stdout, exps)
	}
	var exp *experiment
	for i := range exps {
		if exps[i].name == args[0] {
			exp = &exps[i]
		}
	}
	if exp == nil {
		_ = usage(stderr, exps)
		return fmt.Errorf("%w: unknown experiment %q", ErrUsage, args[0])
	}
	c := &cliConfig{}
	fs := flag.NewFlagSet("switchboard stress "+exp.name, flag.ContinueOnError)
	if exp.defN > 0 {
		fs.IntVar(&c.opt.N, "n", exp.defN, "how many units to run")
	}
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&c.quiet, "quiet", false, "show no progress on stderr (a bar on a terminal, a line every 5 s otherwise)")
	fs.DurationVar(&c.timeout, "timeout", exp.defTime, "stop the experiment after this long")
	if exp.flags != nil {
		exp.flags(fs, c)
	}
	if err := config.Parse(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage: switchboard stress %s [-n N]%s [--json] [--timeout D] [--quiet]\n\n%s\n\nFlags:\n", exp.name, exp.args, exp.summary)
			config.PrintFlags(stderr, fs)
			return nil
		}
		return fmt.Errorf("%w: %v (see switchboard stress %s -h)", ErrUsage, err, exp.name)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	if c.opt.N < 0 || c.opt.Depth < 0 || c.timeout <= 0 {
		return fmt.Errorf("%w: -n, --depth must be >= 0 and --timeout > 0", ErrUsage)
	}
	if !c.quiet {
		c.opt.Progress = stderr
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	rep, err := exp.run(ctx, c)
	if err != nil {
		return err
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	return rep.WriteTable(stdout)
}

// usage lists the experiments.
func usage(w io.Writer, exps []experiment) error {
	var b strings.Builder
	b.WriteString("usage: switchboard stress <experiment> [flags]\n\n")
	b.WriteString("Measure what goroutines, stacks, OS threads and connections really cost.\n\nexperiments:\n")
	for _, e := range exps {
		fmt.Fprintf(&b, "  %-11s %s\n", e.name, e.summary)
	}
	b.WriteString("\ncommon flags: -n N, --json, --timeout D, --quiet\n")
	b.WriteString("run `switchboard stress <experiment> -h` for an experiment's flags.\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write usage: %w", err)
	}
	return nil
}

// nsFlag is the --ns flag: a list of N, shown as the sweep's default
// list while unset.
type nsFlag struct{ p *[]int }

func (f nsFlag) String() string {
	ns := defaultSweepNs()
	if f.p != nil && len(*f.p) > 0 {
		ns = *f.p
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// TypeName names the value's type in usage texts.
func (nsFlag) TypeName() string { return "list" }

func (f nsFlag) Set(s string) error {
	ns, err := parseNs(s)
	if err != nil {
		return err
	}
	*f.p = ns
	return nil
}

// parseNs parses a comma-separated list of positive integers; "k" and "m"
// suffixes are accepted (10k, 1m).
func parseNs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		mul := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mul, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mul, f = 1_000_000, strings.TrimSuffix(f, "m")
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad N %q in list", f)
		}
		out = append(out, v*mul)
	}
	return out, nil
}
