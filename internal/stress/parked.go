package stress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// DefaultParked is the default N of the parked experiment.
const DefaultParked = 100_000

// ParkedReport is the result of [RunParked]. Per-goroutine byte figures are
// (value with all N parked - value at baseline) / N, the baseline taken after
// runtime.GC and debug.FreeOSMemory.
type ParkedReport struct {
	Experiment string `json:"experiment"`
	// N is how many goroutines were launched; Parked how many reached the
	// channel receive; Ran how many ran after the channel was closed.
	N      int `json:"n"`
	Parked int `json:"parked"`
	Ran    int `json:"ran"`
	// WallSeconds covers spawn, park, measure and release.
	WallSeconds float64 `json:"wall_seconds"`
	// SpawnSeconds is the launching loop; ParkSeconds until all had parked.
	SpawnSeconds        float64 `json:"spawn_seconds"`
	SpawnNsPerGoroutine float64 `json:"spawn_ns_per_goroutine"`
	ParkSeconds         float64 `json:"park_all_seconds"`
	// ReleaseSeconds is from close(channel) until every goroutine had run.
	ReleaseSeconds        float64 `json:"release_seconds"`
	ReleaseNsPerGoroutine float64 `json:"release_ns_per_goroutine"`
	// RSS before, with all parked, and the peak of the whole run.
	BaselineRSSBytes uint64 `json:"baseline_rss_bytes"`
	AliveRSSBytes    uint64 `json:"alive_rss_bytes"`
	PeakRSSBytes     uint64 `json:"peak_rss_bytes"`
	// BytesPerGoroutine is (alive RSS - baseline RSS) / N: what the OS sees.
	BytesPerGoroutine float64 `json:"bytes_per_goroutine"`
	// StackBytesPerGoroutine is the goroutine-stack part, from runtime/metrics.
	StackBytesPerGoroutine float64 `json:"stack_bytes_per_goroutine"`
	// HeapBytesPerGoroutine is the heap-object part: the g descriptor, the
	// closure, the channel wait record (sudog), the allgs slot.
	HeapBytesPerGoroutine float64 `json:"heap_bytes_per_goroutine"`
	// RuntimeBytesPerGoroutine is all runtime-mapped memory (minus released).
	RuntimeBytesPerGoroutine float64 `json:"runtime_bytes_per_goroutine"`
	// RetainedHeapBytesPerGoroutine is (heap objects after all exited + GC -
	// baseline) / N: the g descriptors the runtime keeps for reuse.
	RetainedHeapBytesPerGoroutine float64 `json:"retained_heap_bytes_per_goroutine"`
	// StackBytesAfterExit is stack memory after all exited and a GC, minus baseline.
	StackBytesAfterExit int64             `json:"stack_bytes_after_exit"`
	OSThreads           int               `json:"os_threads"`
	OSThreadsBaseline   int               `json:"os_threads_baseline"`
	GOMAXPROCS          int               `json:"gomaxprocs"`
	GCCycles            uint64            `json:"gc_cycles"`
	Machine             Machine           `json:"machine"`
	Sources             map[string]string `json:"sources"`
}

// RunParked keeps opt.N goroutines alive at once, all blocked receiving from
// one channel, measures what each costs, then closes the channel and times
// how long until every one has run. It always waits for all of them.
func RunParked(ctx context.Context, opt Options) (ParkedReport, error) {
	n := opt.N
	if n <= 0 {
		n = DefaultParked
	}
	r := ParkedReport{Experiment: "parked", Machine: currentMachine()}
	p := newProbe()
	base, resetOK, err := baseline(p)
	if err != nil {
		return r, err
	}
	smp := startSampler(5 * time.Millisecond)
	g := newParkGroup()
	bar := startProgress(opt.Progress, "parking", int64(n))
	start := time.Now()
	spawn := g.spawn(ctx, n, bar, nil)
	waitErr := g.awaitParked(ctx, bar, p, base)
	parkDur := time.Since(start)
	bar.done()
	alive, readErr := p.read()
	release := g.releaseAll()
	wall := time.Since(start)
	peak, _ := smp.stop()
	end, _ := p.read()
	settle()
	after, _ := p.read()
	if err := errors.Join(waitErr, readErr); err != nil {
		return r, fmt.Errorf("parked: %w", err)
	}

	r.N = g.n
	r.Parked = int(g.ready.Load())
	r.Ran = int(g.ran.Load())
	r.WallSeconds = wall.Seconds()
	r.SpawnSeconds = spawn.Seconds()
	r.SpawnNsPerGoroutine = nsPer(spawn, r.N)
	r.ParkSeconds = parkDur.Seconds()
	r.ReleaseSeconds = release.Seconds()
	r.ReleaseNsPerGoroutine = nsPer(release, r.N)
	r.BaselineRSSBytes = base.RSSBytes
	r.AliveRSSBytes = alive.RSSBytes
	var rssSrc string
	r.PeakRSSBytes, rssSrc = peakRSS(resetOK, end, peak)
	r.BytesPerGoroutine = perUnit(alive.RSSBytes, base.RSSBytes, r.N)
	r.StackBytesPerGoroutine = perUnit(alive.StackBytes, base.StackBytes, r.N)
	r.HeapBytesPerGoroutine = perUnit(alive.HeapObjectBytes, base.HeapObjectBytes, r.N)
	r.RuntimeBytesPerGoroutine = perUnit(alive.RuntimeBytes, base.RuntimeBytes, r.N)
	r.RetainedHeapBytesPerGoroutine = perUnit(after.HeapObjectBytes, base.HeapObjectBytes, r.N)
	r.StackBytesAfterExit = delta(after.StackBytes, base.StackBytes)
	r.OSThreads = max(end.Threads, peak.Threads)
	r.OSThreadsBaseline = base.Threads
	r.GOMAXPROCS = r.Machine.GOMAXPROCS
	r.GCCycles = end.GCCycles - base.GCCycles
	r.Sources = map[string]string{
		"wall_seconds":                      srcClock,
		"release_seconds":                   srcClock + ", close(ch) until wg.Wait returned",
		"baseline_rss_bytes":                srcRSS + " after runtime.GC + debug.FreeOSMemory",
		"alive_rss_bytes":                   srcRSS + " with all n parked",
		"peak_rss_bytes":                    rssSrc,
		"bytes_per_goroutine":               "(alive_rss_bytes - baseline_rss_bytes) / n",
		"stack_bytes_per_goroutine":         "(" + srcStacks + " alive - baseline) / n",
		"heap_bytes_per_goroutine":          "(" + srcHeapObj + " alive - baseline) / n",
		"runtime_bytes_per_goroutine":       "(" + srcRuntime + " alive - baseline) / n",
		"retained_heap_bytes_per_goroutine": "(" + srcHeapObj + " after exit + GC - baseline) / n",
		"stack_bytes_after_exit":            srcStacks + " after exit + GC - baseline",
		"os_threads":                        srcThreads,
		"gc_cycles":                         srcGC + ", delta",
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("parked: stopped after %d of %d: %w", r.N, n, ctx.Err())
	}
	return r, nil
}

// WriteTable writes the human-readable report.
func (r ParkedReport) WriteTable(w io.Writer) error {
	t := kvTable(fmt.Sprintf("stress parked: %s goroutines alive at once, all blocked on one channel", fmtInt(int64(r.N))))
	s := r.Sources
	t.add("goroutines parked / ran after release", fmt.Sprintf("%s / %s", fmtInt(int64(r.Parked)), fmtInt(int64(r.Ran))), "atomic counters")
	t.add("time per spawn (go statement)", fmtNs(r.SpawnNsPerGoroutine), srcClock)
	t.add("time until all parked", fmtSec(r.ParkSeconds), srcClock)
	t.add("release: close(ch) until all ran", fmtSec(r.ReleaseSeconds), s["release_seconds"])
	t.add("release time per goroutine", fmtNs(r.ReleaseNsPerGoroutine), "release_seconds / n")
	t.add("baseline RSS", fmtTotal(r.BaselineRSSBytes), s["baseline_rss_bytes"])
	t.add("RSS with all parked", fmtTotal(r.AliveRSSBytes), s["alive_rss_bytes"])
	t.add("peak RSS", fmtTotal(r.PeakRSSBytes), s["peak_rss_bytes"])
	t.add("bytes per parked goroutine (RSS)", fmtBytes(r.BytesPerGoroutine), s["bytes_per_goroutine"])
	t.add("  of which stack", fmtBytes(r.StackBytesPerGoroutine), s["stack_bytes_per_goroutine"])
	t.add("  of which heap objects", fmtBytes(r.HeapBytesPerGoroutine), s["heap_bytes_per_goroutine"])
	t.add("runtime-mapped bytes per goroutine", fmtBytes(r.RuntimeBytesPerGoroutine), s["runtime_bytes_per_goroutine"])
	t.add("heap kept per goroutine after exit+GC", fmtBytes(r.RetainedHeapBytesPerGoroutine), s["retained_heap_bytes_per_goroutine"])
	t.add("stack bytes left after exit+GC", fmtTotal(float64(r.StackBytesAfterExit)), s["stack_bytes_after_exit"])
	t.add("OS threads (before -> after)", fmt.Sprintf("%d -> %d", r.OSThreadsBaseline, r.OSThreads), s["os_threads"])
	t.add("GOMAXPROCS", fmtInt(int64(r.GOMAXPROCS)), "runtime.GOMAXPROCS(0)")
	t.add("GC cycles during run", fmtInt(int64(r.GCCycles)), s["gc_cycles"])
	t.note("%s", machineNote(r.Machine))
	return t.write(w)
}
