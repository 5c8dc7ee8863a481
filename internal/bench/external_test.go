package bench

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/natstest"
)

// startExternal starts a server program found on PATH (redis-server) on a
// free loopback port and returns its address and PID. Without the program
// the test is skipped, except under CI, where it fails (.ci/run installs
// it).
func startExternal(t *testing.T, bin string, args func(port int) []string) (string, int) {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		testkit.Unavailable(t, bin+" is not on PATH (apt-get install "+bin+")")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, args(port)...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	testkit.Eventually(t, bin+" to listen on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, cmd.Process.Pid
}

// testExternal runs fanout and conns against the server at addr, whose
// process is pid (this process for an embedded server).
func testExternal(t *testing.T, scheme, addr string, pid int) {
	var rep fanoutReport
	runJSON(t, &rep, "fanout", "--target", scheme+"://"+addr, "-k", "4", "-p", "2", "--count", "300",
		"--server-pid", strconv.Itoa(pid), "--no-progress", "--drain", "20s")
	if rep.Lost != 0 || rep.Delivered != 300*4 || rep.Gaps != 0 || rep.OutOfOrder != 0 || rep.PublishErrors != 0 {
		t.Errorf("fanout against %s: %+v", scheme, rep)
	}
	inProcess := pid == os.Getpid()
	if rep.ServerPID != pid || rep.ServerInProcess != inProcess || rep.ServerCPUSeconds == nil || *rep.ServerCPUSeconds < 0 {
		t.Errorf("server figures for %s: %+v", scheme, rep.serverFigures)
	}
	checkLatency(t, rep.latencyFigures, rep.Delivered)

	var cr connsReport
	runJSON(t, &cr, "conns", "--target", scheme+"://"+addr, "-n", "10", "-b", "3", "--settle", "10ms", "--idle", "0",
		"--gap", "1ms", "--no-progress")
	if cr.BroadcastsComplete != 3 || cr.Delivered != 30 || cr.Lost != 0 {
		t.Errorf("conns against %s: %+v", scheme, cr)
	}
	if cr.ServerPID != pid {
		t.Errorf("conns against %s found PID %d, want %d by its listener", scheme, cr.ServerPID, pid)
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	addr, pid := startExternal(t, "redis-server", func(port int) []string {
		return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}
	})
	testExternal(t, "redis", addr, pid)
}

// TestNATS runs against an embedded NATS server (package natsembed, the
// nats-server code itself), so it needs no install; its process is this
// one.
func TestNATS(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	testExternal(t, "nats", ns.Addr(), os.Getpid())
}
