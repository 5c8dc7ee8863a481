package lineclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/lineclient"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testTimeout bounds every command a test runs; it only catches hangs.
const testTimeout = testkit.Timeout

// startServer runs a real server with its TCP door on a free loopback
// port, changed by opt if given, and stops it when the test ends.
func startServer(t *testing.T, opt func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}
	if opt != nil {
		opt(&cfg)
	}
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// run is one command run in-process.
type run struct {
	stdout, stderr testkit.Buffer
	err            error
	done           chan struct{}
	ctx            context.Context
	cancel         context.CancelFunc
}

// env returns an environment that sets SWITCHBOARD_SERVER to server
// (unset when empty).
func env(server string) func(string) string {
	return func(k string) string {
		if k == lineclient.EnvServer {
			return server
		}
		return ""
	}
}

// start runs cmd (lineclient.Pub or lineclient.Sub) on its own goroutine.
func start(t *testing.T, cmd func(context.Context, []string, lineclient.Env) error, stdin string, getenv func(string) string, args ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	r := &run{done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go func() {
		defer close(r.done)
		r.err = cmd(ctx, args, lineclient.Env{Stdin: strings.NewReader(stdin), Stdout: &r.stdout, Stderr: &r.stderr, Getenv: getenv})
	}()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// wait waits for the command to end and returns its error.
func (r *run) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(testTimeout + 5*time.Second):
		t.Fatal("the command did not end")
	}
	if errors.Is(r.ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("the command ran into the test's time bound (%v)\nstdout: %s\nstderr: %s", testTimeout, r.stdout.String(), r.stderr.String())
	}
	return r.err
}

// ready waits until a running sub says its subscriptions are active.
func (r *run) ready(t *testing.T) {
	t.Helper()
	testkit.Eventually(t, "sub to be ready", func() bool {
		select {
		case <-r.done:
			t.Fatalf("sub ended before it was ready: %v\nstderr: %s", r.err, r.stderr.String())
		default:
		}
		return strings.Contains(r.stderr.String(), "switchboard sub: subscribed to ")
	})
}

// listener subscribes a test client to pattern and returns it.
func listener(t *testing.T, addr, pattern string) *linetest.Client {
	t.Helper()
	c := linetest.Dial(t, addr)
	c.Send("/sub " + pattern)
	c.ExpectLine("* subscribed " + pattern)
	return c
}
