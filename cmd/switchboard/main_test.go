package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// TestMain runs the tests, or, when a test re-executes this binary with
// BE_SWITCHBOARD_MAIN=1, the real main with the arguments it was given, so
// that tests can check exit statuses.
func TestMain(m *testing.M) {
	if os.Getenv("BE_SWITCHBOARD_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestEnvName(t *testing.T) {
	opts := serveOptions(&server.Config{}, &runtimeOpts{})
	for flagName, want := range map[string]string{
		"tcp-addr":         "SWITCHBOARD_TCP_ADDR",
		"max-conns-per-ip": "SWITCHBOARD_MAX_CONNS_PER_IP",
		"cluster":          "SWITCHBOARD_CLUSTER",
	} {
		if opts.Lookup(flagName) == nil {
			t.Errorf("no option %q", flagName)
		}
		if got := opts.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

// envMap is a lookupEnv over a fixed map.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestFlagsFromEnv checks that the environment sets flags the command line
// leaves alone, that the command line wins, and that every group of the
// server configuration is reached.
func TestFlagsFromEnv(t *testing.T) {
	env := map[string]string{
		"SWITCHBOARD_TCP_ADDR":      "127.0.0.1:9999",
		"SWITCHBOARD_MAX_PENDING":   "4KiB",
		"SWITCHBOARD_BANNER":        "hello there",
		"SWITCHBOARD_TCP_KEEPALIVE": "2m",
		"SWITCHBOARD_TCP_SNDBUF":    "32768",
		"SWITCHBOARD_MAX_CONNS":     "7",
		"SWITCHBOARD_MAX_BODY":      "1MB",
		"SWITCHBOARD_CLUSTER":       "nats://a:4222, nats://b:4222",
		"SWITCHBOARD_LOG_LEVEL":     "debug",
	}
	var cfg server.Config
	var rt runtimeOpts
	opts := serveOptions(&cfg, &rt)
	if err := opts.Load([]string{"--banner", "from flag"}, envMap(env)); err != nil {
		t.Fatal(err)
	}
	if cfg.TCP.Addr != "127.0.0.1:9999" || cfg.Session.MaxPending != 4096 || cfg.TCP.SendBuffer != 32768 ||
		cfg.TCP.KeepAlive != 2*time.Minute || cfg.Limits.MaxConns != 7 || cfg.Web.MaxBody != 1_000_000 || rt.logLevel != "debug" {
		t.Errorf("env not applied: %+v %+v", cfg, rt)
	}
	if len(cfg.Cluster.URLs) != 2 || cfg.Cluster.URLs[1] != "nats://b:4222" {
		t.Errorf("cluster URLs = %q", cfg.Cluster.URLs)
	}
	if cfg.TCP.Banner != "from flag" {
		t.Errorf("command line should win over env, banner = %q", cfg.TCP.Banner)
	}
	if cfg.Web.Addr != webfront.DefaultAddr || cfg.Session.RateBurst != session.DefaultRateBurst {
		t.Errorf("defaults not applied: http %q burst %d", cfg.Web.Addr, cfg.Session.RateBurst)
	}
	env["SWITCHBOARD_MAX_CONNS"] = "lots"
	err := serveOptions(&server.Config{}, &runtimeOpts{}).Load(nil, envMap(env))
	if err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_MAX_CONNS") || !strings.Contains(err.Error(), "want an integer") {
		t.Errorf("bad env value should name the variable and the form, got %v", err)
	}
}

// TestSizesTakeUnits: docs/configuration.md's example works.
func TestSizesTakeUnits(t *testing.T) {
	var cfg server.Config
	if err := serveOptions(&cfg, &runtimeOpts{}).Load([]string{"--max-pending", "64KiB", "--tcp-sndbuf", "16384", "--max-ws-message", "1MiB"}, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Session.MaxPending != 64<<10 || cfg.TCP.SendBuffer != 16384 || cfg.Web.MaxMessage != 1<<20 {
		t.Errorf("max-pending %d, tcp-sndbuf %d, max-ws-message %d", cfg.Session.MaxPending, cfg.TCP.SendBuffer, cfg.Web.MaxMessage)
	}
}

// TestHelpShowsDefaultsOnce: every default is printed once, on the option's
// default line, never again in its usage text (the banner used to show two).
func TestHelpShowsDefaultsOnce(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), func() {}, []string{"serve", "--help"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	help := stderr.String()
	if n := strings.Count(help, tcpfront.DefaultBanner); n != 1 {
		t.Errorf("banner default shown %d times:\n%s", n, help)
	}
	for _, o := range serveOptions(&server.Config{}, &runtimeOpts{}).Options() {
		if strings.Contains(o.Usage, "(default") {
			t.Errorf("--%s usage repeats a default: %q", o.Name, o.Usage)
		}
		entry := "  --" + o.Name + " "
		if !strings.Contains(help, entry) && !strings.Contains(help, "  --"+o.Name+"\n") {
			t.Errorf("--%s missing from help", o.Name)
		}
	}
	if !strings.Contains(help, "--max-pending size\n") || !strings.Contains(help, "default 1MiB, env SWITCHBOARD_MAX_PENDING") {
		t.Errorf("size options should print with units:\n%s", help)
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr bool
		out     string // expected in stdout
		errOut  string // expected in stderr
	}{
		{args: []string{"version"}, out: "switchboard "},
		{args: []string{"help"}, out: "switchboard bench"},
		{args: []string{"frobnicate"}, wantErr: true, errOut: "Usage"},
		{args: []string{"serve", "--help"}, wantErr: true, errOut: "env SWITCHBOARD_TCP_ADDR"},
		{args: []string{"bench", "fanout", "-h"}, errOut: "  --k\n        subscribers (K); a comma-separated list (1,10,100) runs a sweep, one table row per point\n        default 10\n"},
		{args: []string{"stress", "parked", "-h"}, errOut: "  --n int\n        how many units to run\n"},
		{args: []string{"serve", "--log-level", "loud", "--tcp-addr", "127.0.0.1:0", "--http-addr", ""}, wantErr: true},
		{args: []string{"serve", "--max-line", "-1", "--tcp-addr", "127.0.0.1:0", "--http-addr", ""}, wantErr: true},
		{args: []string{"serve", "--rate-limit", "-1", "--tcp-addr", "127.0.0.1:0", "--http-addr", ""}, wantErr: true},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), func() {}, tt.args, &stdout, &stderr)
		if (err != nil) != tt.wantErr {
			t.Errorf("%v: err = %v", tt.args, err)
		}
		if !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.errOut) {
			t.Errorf("%v: stdout %q, stderr %q", tt.args, stdout.String(), stderr.String())
		}
	}
}

// TestServeUntilSignal runs serve as main does and cancels its context, as
// the first SIGINT would: it must shut down gracefully and return nil.
func TestServeUntilSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{b: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func() {}, []string{"serve", "--tcp-addr", "127.0.0.1:0", "--http-addr", "", "--log-format", "json"}, &bytes.Buffer{}, stderr)
	}()
	// The bound address is logged; wait for it, then connect once.
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		addr = boundAddr(stderr.String())
	}
	if addr == "" {
		t.Fatalf("bound address never logged: %s", stderr.String())
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 200)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "* Welcome") {
		t.Fatalf("banner: %q, %v", buf[:n], err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after the signal")
	}
	rest, _ := readAll(c)
	if !strings.Contains(rest, "* server shutting down") {
		t.Errorf("client was not told: %q", rest)
	}
}

// TestBadValueNamesFlag: a bad value is one error line naming the flag and
// the expected form; the usage is not dumped.
func TestBadValueNamesFlag(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--max-pending", "12XB"},
		{"bench", "fanout", "--buf", "lots"},
		{"stress", "parked", "-n", "lots"},
	} {
		var stderr bytes.Buffer
		err := run(context.Background(), func() {}, args, &bytes.Buffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), "invalid value ") || !strings.Contains(err.Error(), " for --") || !strings.Contains(err.Error(), ": want ") {
			t.Errorf("%q: err = %v", args, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("%q: usage dumped:\n%s", args, stderr.String())
		}
	}
	err := run(context.Background(), func() {}, []string{"serve", "--max-pending", "12XB"}, &bytes.Buffer{}, &bytes.Buffer{})
	if want := `invalid value "12XB" for --max-pending: want a size such as 65536, 64KiB or 1MiB`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
