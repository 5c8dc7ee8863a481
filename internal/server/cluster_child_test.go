package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// A node that must die without a goodbye (kill -9) runs in a process of
// its own: the test binary started again with childNodeEnv set, which runs
// one node instead of the tests (see TestMain). The child prints its TCP
// address on stdout and shuts down gracefully when its stdin closes, so it
// never outlives the test.

// childNodeEnv carries "NATS-URL NODE-NAME" to a child node.
const childNodeEnv = "SWITCHBOARD_TEST_CHILD_NODE"

// childNodeConfig is the cluster configuration of child nodes, the same
// as startNode's.
func childNodeConfig(url, name string) server.Config {
	return server.Config{
		TCP: tcpfront.Config{Addr: "127.0.0.1:0"},
		Cluster: server.ClusterConfig{Config: natsbp.Config{
			URLs: []string{url}, ClusterName: "test", NodeName: name,
			Heartbeat: 100 * time.Millisecond, PeerTimeout: 600 * time.Millisecond,
			MaxBackoff: 200 * time.Millisecond,
		}},
	}
}

// runChildNode is the child's main.
func runChildNode() int {
	url, name, _ := strings.Cut(os.Getenv(childNodeEnv), " ")
	srv, err := server.New(childNodeConfig(url, name), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child node:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	fmt.Printf("addr %s\n", srv.TCPAddr())
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it (or dies)
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	_ = srv.Shutdown(sctx)
	cancel()
	<-served
	return 0
}

// childNode is a node in a process of its own.
type childNode struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

// startChildNode starts node name on url in a child process.
func startChildNode(t *testing.T, url, name string) *childNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childNodeEnv+"="+url+" "+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childNode{cmd: cmd, stdin: stdin}
	t.Cleanup(c.kill)
	got := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(stdout).ReadString('\n')
		got <- l
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-got:
		addr, ok := strings.CutPrefix(strings.TrimSpace(l), "addr ")
		if !ok {
			t.Fatalf("child node %s: got %q, want its address", name, l)
		}
		c.addr = addr
	case <-time.After(timeout):
		t.Fatalf("child node %s did not start", name)
	}
	return c
}

// kill ends the child at once, without a goodbye (kill -9), and reaps it.
func (c *childNode) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
	_ = c.stdin.Close()
}
