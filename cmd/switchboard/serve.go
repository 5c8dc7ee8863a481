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
	"reflect"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/switchboard-hub/switchboard/internal/config"
	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// parseLogging checks the log settings; errors name the flag and the
// accepted values.
func parseLogging(format, level string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("bad --log-level %q: use debug, info, warn or error", level)
	}
	if format != "text" && format != "json" {
		return 0, fmt.Errorf("bad --log-format %q: use text or json", format)
	}
	return lv, nil
}

// newLogger returns the process's logger; its level is lv's, which a
// reload may change.
func newLogger(w io.Writer, format, level string, lv *slog.LevelVar) (*slog.Logger, error) {
	l, err := parseLogging(format, level)
	if err != nil {
		return nil, err
	}
	lv.Set(l)
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv, ReplaceAttr: durationText})), nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), nil
}

// serveHead starts `switchboard serve --help`.
const serveHead = `Usage: switchboard [serve] [flags]

Runs the hub with everything in memory. Every flag can also be set through
the environment variable named below it, and in the --config file as a
top-level key without the dashes; a flag wins over the environment, which
wins over the file.

Flags:
`

// loaded is one load of serve's settings: the values and the table that
// set them.
type loaded struct {
	cfg  server.Config
	rt   runtimeOpts
	opts *config.Set
}

// loadServe reads serve's settings from args, the environment and the
// config file, and checks them.
func loadServe(args []string) (*loaded, error) {
	l := &loaded{}
	l.opts = serveOptions(&l.cfg, &l.rt)
	if err := l.opts.Load(args, os.LookupEnv); err != nil {
		return l, err
	}
	l.rt.tables.apply(&l.cfg)
	return l, l.check()
}

// check validates the loaded settings beyond their syntax.
func (l *loaded) check() error {
	rules, err := l.rt.tables.historyRules()
	if err != nil {
		return err
	}
	l.cfg.History.Rules = append(l.cfg.History.Rules, rules...)
	if err := l.cfg.Validate(); err != nil {
		return err
	}
	_, err = parseLogging(l.rt.logFormat, l.rt.logLevel)
	return err
}

// serve runs the hub until a signal. The first SIGINT or SIGTERM starts a
// graceful shutdown; stop releases the handler so a second one kills the
// process. SIGHUP reloads the settings (see reload).
func serve(ctx context.Context, stop func(), args []string, stderr io.Writer) error {
	run, err := loadServe(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, serveHead)
			run.opts.Usage(stderr)
		}
		return err
	}
	var level slog.LevelVar
	log, err := newLogger(stderr, run.rt.logFormat, run.rt.logLevel, &level)
	if err != nil {
		return err
	}
	if run.rt.gcPercent > 0 {
		// Fan-out allocates a message per publish and little else; a
		// larger heap target trades a few MiB for ~10 % less CPU in
		// the garbage collector (BENCHMARKS.md).
		debug.SetGCPercent(run.rt.gcPercent)
	}
	// Catch SIGHUP before the doors open, so that a reload sent as soon
	// as the server is up never falls to the default action (exit).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	srv, err := server.New(run.cfg, log)
	if err != nil {
		return err
	}
	if path := run.rt.configFile; path != "" {
		log.Info("config file loaded", "file", path)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			return err
		case <-hup:
			reload(args, run, srv, &level, log)
		case <-ctx.Done():
			waiting = false
		}
	}
	stop() // a second signal now terminates the process immediately
	log.Info("signal received; shutting down gracefully (send again to exit at once)", "timeout", run.cfg.ShutdownTimeout)
	timeout := run.cfg.ShutdownTimeout
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

// reload reads the settings again, as at start (the same command line, the
// environment, the config file as it is now), and applies those that can
// change while the server runs (the options marked Reloadable: limits and
// the log level), logging each change as "key: old -> new" with secrets
// redacted. A change to any other setting is logged as needing a restart
// and not applied. If the new settings do not load or validate, the error
// is logged and the running settings stay. run is updated to what runs.
func reload(args []string, run *loaded, srv *server.Server, level *slog.LevelVar, log *slog.Logger) {
	next, err := loadServe(args)
	if err != nil {
		log.Error("config reload failed; keeping the running config", "err", err)
		return
	}
	changes := config.Diff(run.opts, next.opts)
	// The server takes only the reloadable parts of next.cfg.
	if err := srv.Reload(next.cfg); err != nil {
		log.Error("config reload failed; keeping the running config", "err", err)
		return
	}
	lv, _ := parseLogging(next.rt.logFormat, next.rt.logLevel) // checked by loadServe
	level.Set(lv)
	if err := run.opts.Adopt(next.opts); err != nil {
		log.Error("config reload: recording the new settings", "err", err)
	}
	applied := 0
	for _, c := range changes {
		if c.Reloadable {
			applied++
			log.Info("config changed", "setting", c.Name, "change", c.String())
		} else {
			log.Warn("config change needs a restart; the running value stays", "setting", c.Name, "change", c.String())
		}
	}
	restart := len(changes) - applied
	for _, c := range authChanges(run.cfg.Auth, next.cfg.Auth) {
		applied++
		log.Info("config changed", "setting", c)
	}
	run.cfg.Auth = next.cfg.Auth
	if !slices.Equal(run.cfg.History.Rules, next.cfg.History.Rules) {
		// The store is built at start: its rules stay.
		restart++
		log.Warn("config change needs a restart; the running value stays", "setting", "[[history]]", "change", fmt.Sprintf("%d rules -> %d", len(run.cfg.History.Rules), len(next.cfg.History.Rules)))
	}
	log.Info("config reloaded", "changed", applied, "need_restart", restart)
}

// checkConfig runs `switchboard check-config FILE`: it reads FILE as serve
// would (strictly: unknown keys and tables, wrong types and bad values are
// errors with their line), checks the settings it gives, prints every
// problem to stderr and fails if there is any.
func checkConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || len(args[0]) == 0 || args[0][0] == '-' {
		fmt.Fprintln(stderr, "Usage: switchboard check-config FILE")
		return errors.New("check-config: want one FILE")
	}
	path := args[0]
	l := &loaded{}
	l.opts = serveOptions(&l.cfg, &l.rt)
	err := l.opts.LoadFile(path)
	if err == nil {
		l.rt.tables.apply(&l.cfg)
		err = l.check()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return fmt.Errorf("check-config: %s is not valid", path)
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return nil
}

// authChanges describes what a reload changes in the [[user]] and
// [anonymous] tables, one entry per user added, removed or changed,
// without any token.
func authChanges(old, next server.AuthConfig) []string {
	var out []string
	byName := map[string]identity.User{}
	for _, u := range old.Users {
		byName[u.Name] = u
	}
	for _, u := range next.Users {
		o, ok := byName[u.Name]
		switch {
		case !ok:
			out = append(out, "user "+u.Name+" added")
		case !reflect.DeepEqual(o, u):
			out = append(out, "user "+u.Name+" changed")
		}
		delete(byName, u.Name)
	}
	for name := range byName {
		out = append(out, "user "+name+" removed")
	}
	if !reflect.DeepEqual(old.Anonymous, next.Anonymous) {
		out = append(out, "anonymous permissions changed")
	}
	slices.Sort(out)
	return out
}
