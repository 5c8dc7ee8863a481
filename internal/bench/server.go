package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// serverProbe samples the measured server's CPU time and RSS when its PID
// is known.
type serverProbe struct {
	pid       int  // 0: unknown, no figures
	inProcess bool // the server runs inside this process: CPU includes bench
}

// checkReachable dials the target once before anything else, so that a
// run against a server that is not there fails first and clearly, not after
// warnings about its PID.
func checkReachable(ctx context.Context, t target, timeout time.Duration) error {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return fmt.Errorf("cannot reach %s (is the server running?): %w", t, err)
	}
	_ = c.Close()
	return nil
}

// findServer resolves the server's PID: the --server-pid flag if given,
// otherwise the local process listening on the target address (which may
// be this very process when a test runs the server in-process). A warning
// goes to stderr when no PID is found, since server figures are then absent.
func findServer(pidFlag int, t target, stderr io.Writer) serverProbe {
	pid := pidFlag
	if pid == 0 && t.isLoopback() {
		var err error
		pid, err = findListenerPID(t.addr)
		if err != nil {
			fmt.Fprintf(stderr, "bench: cannot find the server's PID: %v\n", err)
		}
	}
	if pid == 0 {
		fmt.Fprintf(stderr, "bench: server PID unknown (pass --server-pid); no server CPU/RSS figures\n")
		return serverProbe{}
	}
	if _, err := readProc(pid); err != nil {
		fmt.Fprintf(stderr, "bench: cannot sample server PID %d: %v\n", pid, err)
		return serverProbe{}
	}
	return serverProbe{pid: pid, inProcess: pid == os.Getpid()}
}

// sample reads the server's figures; ok is false when unknown.
func (sp serverProbe) sample() (procSample, bool) {
	if sp.pid == 0 {
		return procSample{}, false
	}
	s, err := readProc(sp.pid)
	return s, err == nil
}

// serverFigures are the server-side columns common to every report.
// Pointers are null in JSON when the server's PID is unknown.
type serverFigures struct {
	ServerPID        int      `json:"server_pid"`
	ServerInProcess  bool     `json:"server_in_process"`
	ServerCPUSeconds *float64 `json:"server_cpu_seconds"`
	ServerRSSBytes   *int64   `json:"server_rss_bytes"`
	LoadAvg1m        float64  `json:"load_avg_1m"`
}

// loadAvg1 returns the 1-minute load average, 0 if unreadable; reports
// carry it because the figures are only as quiet as the machine was.
func loadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
