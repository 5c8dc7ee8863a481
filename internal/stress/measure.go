package stress

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// Names of the runtime/metrics samples a probe reads. They are listed once
// so that reports can cite the exact metric a figure came from.
const (
	metricStacks     = "/memory/classes/heap/stacks:bytes"
	metricHeapObj    = "/memory/classes/heap/objects:bytes"
	metricTotal      = "/memory/classes/total:bytes"
	metricReleased   = "/memory/classes/heap/released:bytes"
	metricGoroutines = "/sched/goroutines:goroutines"
	metricWaiting    = "/sched/goroutines/waiting:goroutines"
	metricGCCycles   = "/gc/cycles/total:gc-cycles"
	metricStartStack = "/gc/stack/starting-size:bytes"
)

// Source descriptions used in tables and in the JSON "sources" object.
const (
	srcRSS        = "VmRSS, /proc/self/status"
	srcHWM        = "VmHWM, /proc/self/status (peak reset via /proc/self/clear_refs)"
	srcHWMSampled = "max of sampled VmRSS, /proc/self/status (clear_refs unavailable)"
	srcVMSize     = "VmSize, /proc/self/status"
	srcThreads    = "Threads, /proc/self/status"
	srcStacks     = "runtime/metrics " + metricStacks
	srcHeapObj    = "runtime/metrics " + metricHeapObj
	srcRuntime    = "runtime/metrics " + metricTotal + " minus " + metricReleased
	srcGoroutines = "runtime/metrics " + metricGoroutines
	srcGC         = "runtime/metrics " + metricGCCycles
	srcClock      = "time.Now (monotonic clock)"
	srcKernStack  = "KernelStack, /proc/meminfo (system-wide: noisy)"
)

// Snapshot is one reading of the process's memory and scheduler state,
// combining the kernel's view (/proc/self/status) with the runtime's own
// accounting (runtime/metrics). A Snapshot is a plain value.
type Snapshot struct {
	// At is when the snapshot was taken.
	At time.Time
	// RSSBytes is VmRSS: resident memory right now.
	RSSBytes uint64
	// HWMBytes is VmHWM: peak resident memory since start or the last reset.
	HWMBytes uint64
	// VMSizeBytes is VmSize: mapped virtual address space.
	VMSizeBytes uint64
	// Threads is the number of OS threads in the process.
	Threads int
	// StackBytes is heap memory reserved for goroutine stacks (and, without
	// cgo, for OS thread g0 and signal stacks).
	StackBytes uint64
	// HeapObjectBytes is memory occupied by live and not-yet-swept heap objects.
	HeapObjectBytes uint64
	// RuntimeBytes is all memory mapped by the Go runtime minus what it has
	// returned to the OS.
	RuntimeBytes uint64
	// Goroutines is the number of live goroutines.
	Goroutines uint64
	// Waiting is the number of goroutines blocked (parked).
	Waiting uint64
	// GCCycles is the number of completed GC cycles since start.
	GCCycles uint64
}

// probe reads snapshots. It owns a reusable runtime/metrics sample slice and
// is not safe for concurrent use.
type probe struct {
	samples []metrics.Sample
}

func newProbe() *probe {
	names := []string{metricStacks, metricHeapObj, metricTotal, metricReleased,
		metricGoroutines, metricWaiting, metricGCCycles}
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	return &probe{samples: s}
}

// read takes a snapshot. Errors reading /proc leave the kernel fields zero;
// the runtime fields are always filled.
func (p *probe) read() (Snapshot, error) {
	metrics.Read(p.samples)
	var s Snapshot
	s.At = time.Now()
	val := func(i int) uint64 {
		if p.samples[i].Value.Kind() == metrics.KindUint64 {
			return p.samples[i].Value.Uint64()
		}
		return 0
	}
	s.StackBytes = val(0)
	s.HeapObjectBytes = val(1)
	s.RuntimeBytes = val(2) - val(3)
	s.Goroutines = val(4)
	s.Waiting = val(5)
	s.GCCycles = val(6)
	st, err := readProcStatus()
	if err != nil {
		return s, err
	}
	s.RSSBytes = st["VmRSS"]
	s.HWMBytes = st["VmHWM"]
	s.VMSizeBytes = st["VmSize"]
	s.Threads = int(st["Threads"])
	return s, nil
}

// readProcStatus parses the numeric fields of /proc/self/status; sizes given
// in kB are converted to bytes.
func readProcStatus() (map[string]uint64, error) {
	return readKV("/proc/self/status")
}

// readKV parses a "Key:   value [kB]" file such as /proc/self/status or
// /proc/meminfo.
func readKV(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make(map[string]uint64, 64)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		out[k] = n
	}
	return out, nil
}

// kernelStackBytes reads the system-wide KernelStack figure: kernel memory
// for thread stacks, which never shows up in a process's VmRSS.
func kernelStackBytes() uint64 {
	m, err := readKV("/proc/meminfo")
	if err != nil {
		return 0
	}
	return m["KernelStack"]
}

// memAvailableBytes reads MemAvailable from /proc/meminfo (0 if unknown).
func memAvailableBytes() uint64 {
	m, err := readKV("/proc/meminfo")
	if err != nil {
		return 0
	}
	return m["MemAvailable"]
}

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0), so that a
// later VmHWM reading is the peak of this experiment, not of the process.
func resetPeakRSS() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak rss: %w", err)
	}
	return nil
}

// settle collects garbage, returns free memory to the OS and resets the peak
// RSS, giving an experiment a clean baseline. It reports whether the peak
// reset worked (if not, peaks must come from sampling).
func settle() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return resetPeakRSS() == nil
}

// baseline settles the process and takes the starting snapshot.
func baseline(p *probe) (Snapshot, bool, error) {
	ok := settle()
	s, err := p.read()
	if err != nil {
		return s, ok, fmt.Errorf("baseline: %w", err)
	}
	return s, ok, nil
}

// perUnit returns (after-before)/n as a float, allowing negative deltas (a
// measurement can drop below its baseline; hiding that would be dishonest).
func perUnit(after, before uint64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return (float64(after) - float64(before)) / float64(n)
}

// delta returns after-before as a signed number.
func delta(after, before uint64) int64 {
	return int64(after) - int64(before)
}

// sampler polls snapshots in its own goroutine and keeps the maxima, so that
// experiments whose peak is transient (goroutines that exit quickly) still
// report it. Start it with startSampler and always call stop.
type sampler struct {
	quit    chan struct{}
	done    chan struct{}
	peak    Snapshot // written only by the sampling goroutine until done closes
	n       int
	stopped bool // touched only by the owner
}

func startSampler(every time.Duration) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go s.loop(every)
	return s
}

func (s *sampler) loop(every time.Duration) {
	defer close(s.done)
	p := newProbe()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if snap, err := p.read(); err == nil {
			s.merge(snap)
		}
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) merge(x Snapshot) {
	s.n++
	pk := &s.peak
	pk.RSSBytes = max(pk.RSSBytes, x.RSSBytes)
	pk.HWMBytes = max(pk.HWMBytes, x.HWMBytes)
	pk.VMSizeBytes = max(pk.VMSizeBytes, x.VMSizeBytes)
	pk.Threads = max(pk.Threads, x.Threads)
	pk.StackBytes = max(pk.StackBytes, x.StackBytes)
	pk.HeapObjectBytes = max(pk.HeapObjectBytes, x.HeapObjectBytes)
	pk.RuntimeBytes = max(pk.RuntimeBytes, x.RuntimeBytes)
	pk.Goroutines = max(pk.Goroutines, x.Goroutines)
	pk.Waiting = max(pk.Waiting, x.Waiting)
	pk.GCCycles = max(pk.GCCycles, x.GCCycles)
}

// stop ends sampling, merges one final reading and returns the per-field
// maxima and the number of samples taken. Calling it again is harmless.
func (s *sampler) stop() (Snapshot, int) {
	if s.stopped {
		return s.peak, s.n
	}
	s.stopped = true
	close(s.quit)
	<-s.done
	if snap, err := newProbe().read(); err == nil {
		s.merge(snap)
	}
	return s.peak, s.n
}

// peakRSS picks the best available peak: VmHWM if the reset worked,
// otherwise the sampled maximum of VmRSS. It returns the value and its source.
func peakRSS(resetOK bool, end, sampled Snapshot) (uint64, string) {
	if resetOK && end.HWMBytes > 0 {
		return max(end.HWMBytes, sampled.RSSBytes), srcHWM
	}
	return max(sampled.RSSBytes, end.RSSBytes), srcHWMSampled
}
