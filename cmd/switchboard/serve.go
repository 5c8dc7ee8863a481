package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

// serveFlags binds the serve flags to a server.Config.
func serveFlags(fs *flag.FlagSet, cfg *server.Config, logFormat, logLevel *string, gcPercent *int) {
	fs.StringVar(&cfg.TCPAddr, "tcp-addr", ":8082", "TCP (line protocol) listen address")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", ":8080", "HTTP (web) listen address; empty disables the web door")
	fs.StringVar(&cfg.Banner, "banner", "", "welcome sentence of the TCP banner (default \"Welcome to the concurrent server!\")")
	fs.IntVar(&cfg.MaxLine, "max-line", 4096, "longest accepted line in bytes, not counting the line ending")
	fs.IntVar(&cfg.MaxPending, "max-pending", 1<<20, "per-client outbound queue limit in bytes; over it the client is disconnected as a slow consumer")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 0, "per-client publish limit in messages per second; 0 = off")
	fs.IntVar(&cfg.RateBurst, "rate-burst", 10, "burst allowed above --rate-limit")
	fs.IntVar(&cfg.MaxConns, "max-conns", 0, "maximum concurrent connections over all doors; 0 = unlimited")
	fs.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", 0, "maximum concurrent connections per client IP; 0 = unlimited")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", 0, "disconnect clients that send nothing for this long; 0 = never")
	fs.IntVar(&cfg.TCPSendBuffer, "tcp-sndbuf", 0, "socket send buffer for TCP clients in bytes (SO_SNDBUF; Linux doubles it); 0 = the kernel's autotuning (up to a few MiB)")
	fs.DurationVar(&cfg.TCPKeepAlive, "tcp-keepalive", 15*time.Second, "TCP keepalive probe interval for TCP clients (dead peers are found after ~10 unanswered probes); negative = off")
	fs.DurationVar(&cfg.ParkAfter, "park-after", time.Second, "idle time after which a TCP connection gives up its goroutine and waits in an epoll set (Linux); negative (e.g. -1s) = never")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown lets queues drain")
	fs.IntVar(gcPercent, "gc-percent", 200, "garbage collector target (runtime/debug.SetGCPercent): heap growth in percent before a collection; 0 = Go's default or $GOGC")
	fs.StringVar(logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(logLevel, "log-level", "info", "log level: debug, info, warn or error")
	webFlags(fs, &cfg.Web)
	clusterFlags(fs, &cfg.Cluster)
}

// envName is the environment variable that sets a flag, e.g.
// SWITCHBOARD_TCP_ADDR for --tcp-addr.
func envName(flagName string) string {
	return "SWITCHBOARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its
// environment variable, if set.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// flagUsage prints a flag set's flags with defaults and environment names.
func flagUsage(fs *flag.FlagSet, w io.Writer, head string) func() {
	return func() {
		fmt.Fprint(w, head)
		fs.VisitAll(func(f *flag.Flag) {
			def := f.DefValue
			if def == "" {
				def = `""`
			}
			fmt.Fprintf(w, "  --%s\n        %s\n        default %s, env %s\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
}

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

// serve runs the hub until a signal. The first signal starts a graceful
// shutdown; stop releases the handler so a second one kills the process.
func serve(ctx context.Context, stop func(), args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg server.Config
	var logFormat, logLevel string
	var gcPercent int
	serveFlags(fs, &cfg, &logFormat, &logLevel, &gcPercent)
	fs.Usage = flagUsage(fs, stderr, "Usage: switchboard [serve] [flags]\n\nRuns the hub with everything in memory. Every flag can also be set through the environment variable named below it.\n\nFlags:\n")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	if err := applyEnv(fs); err != nil {
		return err
	}
	log, err := newLogger(stderr, logFormat, logLevel)
	if err != nil {
		return err
	}
	if gcPercent > 0 {
		// Fan-out allocates a message per publish and little else; a
		// larger heap target trades a few MiB for ~10 % less CPU in
		// the garbage collector (BENCHMARKS.md).
		debug.SetGCPercent(gcPercent)
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
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	<-done
	if err != nil {
		log.Warn("shutdown incomplete", "err", err)
	}
	return nil
}
