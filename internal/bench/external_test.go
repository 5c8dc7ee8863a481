package bench

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// startExternal starts a redis-server or nats-server found on PATH on a
// free loopback port and returns its address and PID; the test is skipped
// when the binary is absent.
func startExternal(t *testing.T, bin string, args func(port int) []string) (string, int) {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s not on PATH", bin)
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
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start listening on %s", bin, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, cmd.Process.Pid
}

func testExternal(t *testing.T, scheme, addr string, pid int) {
	var rep fanoutReport
	runJSON(t, &rep, "fanout", "--target", scheme+"://"+addr, "-k", "4", "-p", "2", "--count", "300",
		"--server-pid", strconv.Itoa(pid), "--no-progress", "--drain", "20s")
	if rep.Lost != 0 || rep.Delivered != 300*4 || rep.Gaps != 0 || rep.OutOfOrder != 0 || rep.PublishErrors != 0 {
		t.Errorf("fanout against %s: %+v", scheme, rep)
	}
	if rep.ServerPID != pid || rep.ServerInProcess || rep.ServerCPUSeconds == nil || *rep.ServerCPUSeconds < 0 {
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

func TestNATS(t *testing.T) {
	t.Parallel()
	addr, pid := startExternal(t, "nats-server", func(port int) []string {
		return []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}
	})
	testExternal(t, "nats", addr, pid)
}
