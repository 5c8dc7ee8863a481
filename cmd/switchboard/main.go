// Command switchboard is a real-time message hub: terminal users, browsers
// and services meet on the same rooms and topics. See README.md.
//
// Usage:
//
//	switchboard [serve] [flags]   run the hub (the default)
//	switchboard bench ...         measure a hub (or redis, nats) under load
//	switchboard stress ...        the goroutine experiments, measured
//	switchboard pub TOPIC [TEXT]  publish a message (or each line of stdin)
//	switchboard sub PATTERN...    print the messages on patterns
//	switchboard check-config FILE validate a config file
//	switchboard version           print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand. stop releases the signal handler, so a
// second signal kills the process at once.
func run(ctx context.Context, stop func(), args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, stop, args, stderr)
	case "bench":
		return benchMain(ctx, args, stdout, stderr)
	case "stress":
		return stressMain(ctx, args, stdout, stderr)
	case "pub":
		return pubMain(ctx, args, stdout, stderr)
	case "sub":
		return subMain(ctx, args, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "switchboard", versionString())
		return nil
	case "help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `switchboard — a real-time message hub

Usage:
  switchboard [serve] [flags]   run the hub (the default); see switchboard serve --help
  switchboard bench SCENARIO    load-test a hub, redis or nats; see switchboard bench help
  switchboard stress EXPERIMENT the goroutine experiments, measured; see switchboard stress help
  switchboard pub TOPIC [TEXT]  publish TEXT, or each line of stdin, on TOPIC; see switchboard pub -h
  switchboard sub PATTERN...    print every message on the patterns, one a line; see switchboard sub -h
  switchboard check-config FILE validate a config file (exit 1 on any problem)
  switchboard version           print the version
`)
}

// durationText is the JSON log handler's ReplaceAttr: it writes durations
// as text ("10s", "1.5ms"), as the text handler does, instead of integer
// nanoseconds.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v + " " + bi.GoVersion
		}
	}
	return "dev"
}
