package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: durationText})), nil
	}
	return nil, fmt.Errorf("bad --log-format %q: use text or json", format)
}

// serveHead starts `switchboard serve --help`.
const serveHead = `Usage: switchboard [serve] [flags]

Runs the hub with everything in memory. Every flag can also be set through
the environment variable named below it; a flag given on the command line
wins over the environment.

Flags:
`

// serve runs the hub until a signal. The first signal starts a graceful
// shutdown; stop releases the handler so a second one kills the process.
func serve(ctx context.Context, stop func(), args []string, stderr io.Writer) error {
	var cfg server.Config
	var rt runtimeOpts
	opts := serveOptions(&cfg, &rt)
	if err := opts.Load(args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, serveHead)
			opts.Usage(stderr)
		}
		return err
	}
	log, err := newLogger(stderr, rt.logFormat, rt.logLevel)
	if err != nil {
		return err
	}
	if rt.gcPercent > 0 {
		// Fan-out allocates a message per publish and little else; a
		// larger heap target trades a few MiB for ~10 % less CPU in
		// the garbage collector (BENCHMARKS.md).
		debug.SetGCPercent(rt.gcPercent)
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal now terminates the process immediately
	log.Info("signal received; shutting down gracefully (send again to exit at once)", "timeout", cfg.ShutdownTimeout)
	timeout := cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = server.DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }()
	select {
	case err = <-shut:
	case <-time.After(timeout + shutdownGrace):
		// Shutdown cuts everything at the timeout, so this is a last
		// resort against a bug: the process exits regardless.
		log.Error("shutdown still running after --shutdown-timeout plus grace; exiting anyway", "grace", shutdownGrace)
		return nil
	}
	<-done
	if err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	return nil
}

// shutdownGrace is how long past --shutdown-timeout the process waits for
// the server's shutdown to return before it exits anyway.
const shutdownGrace = time.Second
