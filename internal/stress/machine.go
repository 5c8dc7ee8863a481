package stress

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// Machine describes where a measurement ran, so that figures are never
// quoted without their context. It is a plain value.
type Machine struct {
	// GoVersion is runtime.Version().
	GoVersion string `json:"go_version"`
	// OS and Arch are GOOS and GOARCH.
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// NumCPU is the number of logical CPUs usable by the process.
	NumCPU int `json:"num_cpu"`
	// GOMAXPROCS is the number of Ps: OS threads that may run Go code at once.
	GOMAXPROCS int `json:"gomaxprocs"`
	// CgoEnabled is the CGO_ENABLED build setting ("" if unknown). With cgo,
	// OS threads get their stacks from pthread_create (RLIMIT_STACK sized);
	// without it the runtime allocates 16 KB g0 stacks itself.
	CgoEnabled string `json:"cgo_enabled"`
	// Race reports whether the binary was built with the race detector,
	// which inflates every per-goroutine figure.
	Race bool `json:"race"`
}

// currentMachine reads the Machine description of this process.
func currentMachine() Machine {
	m := Machine{
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Race:       raceEnabled,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "CGO_ENABLED":
				m.CgoEnabled = s.Value
			case "-race":
				m.Race = m.Race || s.Value == "true"
			}
		}
	}
	return m
}

// Unlimited is the value a Limits field holds when the limit is not set.
const Unlimited = -1

// Limits are the machine limits that bound how many OS threads and file
// descriptors an experiment may use. Fields are -1 ([Unlimited]) when the
// limit is unset, 0 when it could not be read.
type Limits struct {
	// StackRlimitBytes is the soft RLIMIT_STACK (`ulimit -s`): the default
	// stack size glibc reserves (virtual memory) for each new pthread.
	StackRlimitBytes int64 `json:"rlimit_stack_bytes"`
	// NprocSoft is the soft RLIMIT_NPROC (`ulimit -u`): threads per user.
	NprocSoft int64 `json:"rlimit_nproc"`
	// NofileSoft and NofileHard are RLIMIT_NOFILE (`ulimit -n`). Go raises
	// the soft limit to the hard one at start-up.
	NofileSoft int64 `json:"rlimit_nofile_soft"`
	NofileHard int64 `json:"rlimit_nofile_hard"`
	// ThreadsMax is /proc/sys/kernel/threads-max (system-wide).
	ThreadsMax int64 `json:"kernel_threads_max"`
	// PidMax is /proc/sys/kernel/pid_max (every thread takes a pid).
	PidMax int64 `json:"kernel_pid_max"`
	// MaxMapCount is /proc/sys/vm/max_map_count (each pthread stack is a mapping plus a guard page).
	MaxMapCount int64 `json:"vm_max_map_count"`
	// CgroupPidsMax and CgroupPidsCurrent are the cgroup v2 pids controller
	// limit and usage (tasks, i.e. threads, in the whole container).
	CgroupPidsMax     int64 `json:"cgroup_pids_max"`
	CgroupPidsCurrent int64 `json:"cgroup_pids_current"`
	// RuntimeMaxThreads is debug.SetMaxThreads: beyond it the Go runtime
	// crashes the process on purpose.
	RuntimeMaxThreads int64 `json:"runtime_max_threads"`
}

// readLimits gathers Limits from getrlimit, /proc and /sys.
func readLimits() Limits {
	l := Limits{
		ThreadsMax:        readIntFile("/proc/sys/kernel/threads-max"),
		PidMax:            readIntFile("/proc/sys/kernel/pid_max"),
		MaxMapCount:       readIntFile("/proc/sys/vm/max_map_count"),
		CgroupPidsMax:     readIntFile("/sys/fs/cgroup/pids.max"),
		CgroupPidsCurrent: readIntFile("/sys/fs/cgroup/pids.current"),
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_STACK, &rl) == nil {
		l.StackRlimitBytes = rlim(rl.Cur)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		l.NofileSoft, l.NofileHard = rlim(rl.Cur), rlim(rl.Max)
	}
	l.NprocSoft = procLimit("Max processes")
	// SetMaxThreads has no getter: set and immediately restore.
	prev := debug.SetMaxThreads(10000)
	debug.SetMaxThreads(prev)
	l.RuntimeMaxThreads = int64(prev)
	return l
}

// rlim converts an rlimit value, mapping RLIM_INFINITY to Unlimited.
func rlim(v uint64) int64 {
	if v == ^uint64(0) || v > 1<<62 {
		return Unlimited
	}
	return int64(v)
}

// readIntFile reads a file holding one integer or "max".
func readIntFile(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return Unlimited
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// procLimit reads the soft value of one row of /proc/self/limits.
func procLimit(name string) int64 {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, name))
		if len(f) == 0 {
			return 0
		}
		if f[0] == "unlimited" {
			return Unlimited
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		return n
	}
	return 0
}

// headroom returns limit-used, or a very large number when unlimited/unknown.
func headroom(limit, used int64) int64 {
	if limit <= 0 {
		return 1 << 40
	}
	return limit - used
}
