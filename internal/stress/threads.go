package stress

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// DefaultThreads is the default N of the threads experiment, far below the
// runtime's default limit of 10,000 threads.
const DefaultThreads = 2000

// ErrTooManyThreads is returned when the threads experiment is asked for
// more OS threads than the machine's limits safely allow. Exceeding them
// would not fail gracefully: the Go runtime aborts the whole process when it
// cannot create a thread or passes debug.SetMaxThreads.
var ErrTooManyThreads = errors.New("stress: too many OS threads requested")

// ThreadsSide is one column of the threads experiment: N parked units that
// are either plain goroutines or goroutines locked to their own OS thread.
type ThreadsSide struct {
	// Mode is "goroutines" or "os_threads".
	Mode   string `json:"mode"`
	N      int    `json:"n"`
	Parked int    `json:"parked"`
	Ran    int    `json:"ran"`
	// ParkSeconds is from the first spawn until all N were parked;
	// NsPerSpawn is that divided by N (thread creation included).
	ParkSeconds float64 `json:"park_all_seconds"`
	NsPerSpawn  float64 `json:"ns_per_spawn"`
	// BytesPerUnit is (VmRSS with all parked - baseline) / N.
	BytesPerUnit float64 `json:"bytes_per_unit"`
	// StackBytesPerUnit is the Go-managed stack part (goroutine stacks,
	// and without cgo the g0 and signal stacks of each M).
	StackBytesPerUnit float64 `json:"stack_bytes_per_unit"`
	// HeapBytesPerUnit is the heap-object part (g, m descriptors...).
	HeapBytesPerUnit float64 `json:"heap_bytes_per_unit"`
	// VirtualBytesPerUnit is (VmSize delta) / N: address space reserved,
	// mostly pthread stacks of RLIMIT_STACK size, not resident.
	VirtualBytesPerUnit float64 `json:"virtual_bytes_per_unit"`
	// KernelStackBytesPerUnit is the system-wide KernelStack delta / N:
	// kernel memory per thread, outside the process's RSS. Noisy.
	KernelStackBytesPerUnit float64 `json:"kernel_stack_bytes_per_unit"`
	// ThreadsBaseline, ThreadsAlive and ThreadsAfterRelease are the
	// process's OS thread counts before, with all parked, and after release.
	ThreadsBaseline     int `json:"os_threads_baseline"`
	ThreadsAlive        int `json:"os_threads"`
	ThreadsAfterRelease int `json:"os_threads_after_release"`
	// ReleaseSeconds is from close(channel) until all N had returned.
	ReleaseSeconds float64 `json:"release_seconds"`
}

// ThreadsReport is the result of [RunThreads].
type ThreadsReport struct {
	Experiment  string  `json:"experiment"`
	N           int     `json:"n"`
	WallSeconds float64 `json:"wall_seconds"`
	// PeakRSSBytes is the process peak over both sides.
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// OSThreads is the most OS threads the process had (thread side).
	OSThreads int `json:"os_threads"`
	// BytesPerGoroutine and BytesPerThread repeat the two BytesPerUnit.
	BytesPerGoroutine float64     `json:"bytes_per_goroutine"`
	BytesPerThread    float64     `json:"bytes_per_thread"`
	Goroutines        ThreadsSide `json:"goroutine_side"`
	Threads           ThreadsSide `json:"thread_side"`
	// Limits are the machine limits read before the run; SafeMaxThreads is
	// the largest N this experiment accepts (half the tightest headroom),
	// and BindingLimit names that limit.
	Limits         Limits            `json:"limits"`
	SafeMaxThreads int               `json:"safe_max_threads"`
	BindingLimit   string            `json:"binding_limit"`
	GOMAXPROCS     int               `json:"gomaxprocs"`
	Machine        Machine           `json:"machine"`
	Sources        map[string]string `json:"sources"`
}

// safeThreadBound returns half the smallest headroom among the limits on
// creating threads, and the name of that limit.
func safeThreadBound(l Limits, threadsNow int) (int, string) {
	sysThreads, mapsNow := systemThreads(), selfMaps()
	type lim struct {
		name string
		room int64
	}
	cands := []lim{
		{"debug.SetMaxThreads", headroom(l.RuntimeMaxThreads, int64(threadsNow))},
		{"RLIMIT_NPROC", headroom(l.NprocSoft, max(l.CgroupPidsCurrent, sysThreads))},
		{"kernel.threads-max", headroom(l.ThreadsMax, sysThreads)},
		{"kernel.pid_max", headroom(l.PidMax, sysThreads)},
		{"cgroup pids.max", headroom(l.CgroupPidsMax, l.CgroupPidsCurrent)},
		{"vm.max_map_count (2 maps per pthread)", headroom(l.MaxMapCount, mapsNow) / 2},
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if c.room < best.room {
			best = c
		}
	}
	return int(max(0, best.room/2)), best.name
}

// systemThreads reads the system-wide thread count from /proc/loadavg.
func systemThreads() int64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0
	}
	_, total, _ := strings.Cut(f[3], "/")
	n, _ := strconv.ParseInt(total, 10, 64)
	return n
}

// selfMaps counts this process's memory mappings.
func selfMaps() int64 {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0
	}
	return int64(bytes.Count(b, []byte{'\n'}))
}

// RunThreads parks opt.N plain goroutines, then opt.N goroutines that each
// lock their OS thread (runtime.LockOSThread, never unlocked, so each thread
// exits with its goroutine), and compares what a unit costs in time, memory
// and threads. It refuses (ErrTooManyThreads) an N above half the tightest
// machine limit rather than let the runtime abort the process.
func RunThreads(ctx context.Context, opt Options) (ThreadsReport, error) {
	n := opt.N
	if n <= 0 {
		n = DefaultThreads
	}
	r := ThreadsReport{Experiment: "threads", N: n, Machine: currentMachine(), Limits: readLimits()}
	r.GOMAXPROCS = r.Machine.GOMAXPROCS
	p := newProbe()
	now, err := p.read()
	if err != nil {
		return r, fmt.Errorf("threads: %w", err)
	}
	r.SafeMaxThreads, r.BindingLimit = safeThreadBound(r.Limits, now.Threads)
	if n > r.SafeMaxThreads {
		return r, fmt.Errorf("%w: asked for %d, safe maximum here is %d (half the headroom under %s; limits: %s)",
			ErrTooManyThreads, n, r.SafeMaxThreads, r.BindingLimit, limitsLine(r.Limits))
	}
	r.Sources = map[string]string{
		"ns_per_spawn":                "(" + srcClock + ", first spawn until all parked) / n",
		"bytes_per_unit":              "(" + srcRSS + " with all parked - baseline) / n",
		"stack_bytes_per_unit":        "(" + srcStacks + " delta) / n",
		"heap_bytes_per_unit":         "(" + srcHeapObj + " delta) / n",
		"virtual_bytes_per_unit":      "(" + srcVMSize + " delta) / n",
		"kernel_stack_bytes_per_unit": "(" + srcKernStack + " delta) / n",
		"os_threads":                  srcThreads,
		"release_seconds":             srcClock + ", close(ch) until all returned",
	}
	start := time.Now()
	var peak uint64
	for _, lock := range []bool{false, true} {
		side, pk, err := runThreadSide(ctx, p, n, lock, opt.Progress)
		peak = max(peak, pk)
		if lock {
			r.Threads = side
		} else {
			r.Goroutines = side
		}
		if err != nil {
			return r, fmt.Errorf("threads: %s side: %w", side.Mode, err)
		}
	}
	r.WallSeconds = time.Since(start).Seconds()
	r.PeakRSSBytes = peak
	r.Sources["peak_rss_bytes"] = srcHWM + " (max over both sides)"
	r.OSThreads = max(r.Threads.ThreadsAlive, r.Goroutines.ThreadsAlive)
	r.BytesPerGoroutine = r.Goroutines.BytesPerUnit
	r.BytesPerThread = r.Threads.BytesPerUnit
	return r, nil
}

// runThreadSide measures one side: n parked goroutines, locked to their OS
// thread or not. It returns the side and the peak RSS during it.
func runThreadSide(ctx context.Context, p *probe, n int, lock bool, w io.Writer) (ThreadsSide, uint64, error) {
	side := ThreadsSide{Mode: "goroutines"}
	var body func()
	g := newParkGroup()
	if lock {
		side.Mode = "os_threads"
		body = func() {
			runtime.LockOSThread() // never unlocked: the thread exits with us
			g.park()
		}
	}
	base, resetOK, err := baseline(p)
	if err != nil {
		return side, 0, err
	}
	ks0 := kernelStackBytes()
	bar := startProgress(w, side.Mode, int64(n))
	start := time.Now()
	g.spawn(ctx, n, bar, body)
	waitErr := g.incomplete(ctx, n)
	if waitErr == nil {
		waitErr = g.awaitParked(ctx, bar, p, base)
	}
	if waitErr == nil && lock {
		// Each parked locked goroutine holds its own thread; add sysmon and
		// the thread running this code. (Idle threads from before are reused,
		// so the increase over the baseline can be a little less than n.)
		waitErr = waitThreads(ctx, p, func(t int) bool { return t >= g.n+2 })
	}
	park := time.Since(start)
	bar.done()
	alive, readErr := p.read()
	ks1 := kernelStackBytes()
	release := g.releaseAll()
	if lock {
		// Threads of locked goroutines exit asynchronously; wait a bit.
		_ = waitThreads(ctx, p, func(t int) bool { return t < alive.Threads-g.n/2 })
	}
	end, _ := p.read()
	if err := errors.Join(waitErr, readErr); err != nil {
		return side, 0, err
	}
	side.N = g.n
	side.Parked = int(g.ready.Load())
	side.Ran = int(g.ran.Load())
	side.ParkSeconds = park.Seconds()
	side.NsPerSpawn = nsPer(park, g.n)
	side.BytesPerUnit = perUnit(alive.RSSBytes, base.RSSBytes, g.n)
	side.StackBytesPerUnit = perUnit(alive.StackBytes, base.StackBytes, g.n)
	side.HeapBytesPerUnit = perUnit(alive.HeapObjectBytes, base.HeapObjectBytes, g.n)
	side.VirtualBytesPerUnit = perUnit(alive.VMSizeBytes, base.VMSizeBytes, g.n)
	side.KernelStackBytesPerUnit = perUnit(ks1, ks0, g.n)
	side.ThreadsBaseline = base.Threads
	side.ThreadsAlive = alive.Threads
	side.ThreadsAfterRelease = end.Threads
	side.ReleaseSeconds = release.Seconds()
	pk, _ := peakRSS(resetOK, end, alive)
	return side, pk, nil
}

// waitThreads polls the thread count until ok or two seconds pass.
func waitThreads(ctx context.Context, p *probe, ok func(int) bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, err := p.read()
		if err != nil {
			return err
		}
		if ok(s.Threads) || time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for threads: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// limitsLine renders the limits in one line for errors and footnotes.
func limitsLine(l Limits) string {
	f := func(v int64) string {
		switch v {
		case Unlimited:
			return "unlimited"
		case 0:
			return "unknown"
		}
		return fmtInt(v)
	}
	stack := f(l.StackRlimitBytes)
	if l.StackRlimitBytes > 0 {
		stack = fmtTotal(l.StackRlimitBytes)
	}
	return fmt.Sprintf("ulimit -s %s, ulimit -u %s, threads-max %s, pid_max %s, cgroup pids.max %s (in use %s), max_map_count %s, debug.SetMaxThreads %s",
		stack, f(l.NprocSoft), f(l.ThreadsMax), f(l.PidMax), f(l.CgroupPidsMax), f(l.CgroupPidsCurrent),
		f(l.MaxMapCount), f(l.RuntimeMaxThreads))
}

// WriteTable writes goroutines and OS threads side by side.
func (r ThreadsReport) WriteTable(w io.Writer) error {
	t := &table{
		title:  fmt.Sprintf("stress threads: %s parked goroutines vs %s goroutines locked to their own OS thread", fmtInt(int64(r.N)), fmtInt(int64(r.N))),
		header: []string{"quantity", "goroutines", "OS threads", "source"},
	}
	g, th, s := r.Goroutines, r.Threads, r.Sources
	t.add("parked / ran after release", fmtInt(int64(g.Parked))+" / "+fmtInt(int64(g.Ran)), fmtInt(int64(th.Parked))+" / "+fmtInt(int64(th.Ran)), "atomic counters")
	t.add("time per spawn (until parked)", fmtNs(g.NsPerSpawn), fmtNs(th.NsPerSpawn), s["ns_per_spawn"])
	t.add("RSS bytes per unit", fmtBytes(g.BytesPerUnit), fmtBytes(th.BytesPerUnit), s["bytes_per_unit"])
	t.add("  Go-managed stack per unit", fmtBytes(g.StackBytesPerUnit), fmtBytes(th.StackBytesPerUnit), s["stack_bytes_per_unit"])
	t.add("  heap objects per unit", fmtBytes(g.HeapBytesPerUnit), fmtBytes(th.HeapBytesPerUnit), s["heap_bytes_per_unit"])
	t.add("virtual memory per unit", fmtBytes(g.VirtualBytesPerUnit), fmtBytes(th.VirtualBytesPerUnit), s["virtual_bytes_per_unit"])
	t.add("kernel stack per unit", fmtBytes(g.KernelStackBytesPerUnit), fmtBytes(th.KernelStackBytesPerUnit), s["kernel_stack_bytes_per_unit"])
	t.add("OS threads before / parked / after", fmtInts(" / ", g.ThreadsBaseline, g.ThreadsAlive, g.ThreadsAfterRelease),
		fmtInts(" / ", th.ThreadsBaseline, th.ThreadsAlive, th.ThreadsAfterRelease), s["os_threads"])
	t.add("release until all returned", fmtSec(g.ReleaseSeconds), fmtSec(th.ReleaseSeconds), s["release_seconds"])
	t.note("limits: %s", limitsLine(r.Limits))
	t.note("safe maximum for this experiment: %s threads (half the headroom under %s)", fmtInt(int64(r.SafeMaxThreads)), r.BindingLimit)
	t.note("peak RSS %s; GOMAXPROCS %d; wall %s", fmtTotal(r.PeakRSSBytes), r.GOMAXPROCS, fmtWall(r.WallSeconds))
	t.note("%s", machineNote(r.Machine))
	return t.write(w)
}
