package main

import (
	"bytes"
	"context"
	"flag"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"tcp-addr":         "SWITCHBOARD_TCP_ADDR",
		"max-conns-per-ip": "SWITCHBOARD_MAX_CONNS_PER_IP",
		"cluster":          "SWITCHBOARD_CLUSTER",
	} {
		if got := envName(flagName); got != want {
			t.Errorf("envName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

// TestFlagsFromEnv checks that the environment sets flags the command line
// leaves alone, and that the command line wins.
func TestFlagsFromEnv(t *testing.T) {
	t.Setenv("SWITCHBOARD_TCP_ADDR", "127.0.0.1:9999")
	t.Setenv("SWITCHBOARD_MAX_PENDING", "4096")
	t.Setenv("SWITCHBOARD_BANNER", "hello there")
	t.Setenv("SWITCHBOARD_TCP_KEEPALIVE", "2m")
	t.Setenv("SWITCHBOARD_TCP_SNDBUF", "32768")
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var cfg server.Config
	var lf, ll string
	var gc int
	serveFlags(fs, &cfg, &lf, &ll, &gc)
	if err := fs.Parse([]string{"--banner", "from flag"}); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if cfg.TCPAddr != "127.0.0.1:9999" || cfg.MaxPending != 4096 {
		t.Errorf("env not applied: tcp=%q pending=%d", cfg.TCPAddr, cfg.MaxPending)
	}
	if cfg.TCPSendBuffer != 32768 {
		t.Errorf("SWITCHBOARD_TCP_SNDBUF not applied: %d", cfg.TCPSendBuffer)
	}
	if cfg.TCPKeepAlive != 2*time.Minute {
		t.Errorf("SWITCHBOARD_TCP_KEEPALIVE not applied: %v", cfg.TCPKeepAlive)
	}
	if cfg.Banner != "from flag" {
		t.Errorf("command line should win over env, banner = %q", cfg.Banner)
	}
	t.Setenv("SWITCHBOARD_MAX_CONNS", "lots")
	if err := applyEnv(fs); err == nil || !strings.Contains(err.Error(), "SWITCHBOARD_MAX_CONNS") {
		t.Errorf("bad env value should name the variable, got %v", err)
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
		{args: []string{"serve", "--log-level", "loud", "--tcp-addr", "127.0.0.1:0", "--http-addr", ""}, wantErr: true},
		{args: []string{"serve", "--max-line", "-1", "--tcp-addr", "127.0.0.1:0", "--http-addr", ""}, wantErr: true},
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
