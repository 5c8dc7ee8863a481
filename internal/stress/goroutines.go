package stress

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultGoroutines is the default N of the goroutines experiment: the seed
// lesson's 100,000.
const DefaultGoroutines = 100_000

// GoroutinesReport is the result of [RunGoroutines]. Byte figures are deltas
// against a baseline taken after runtime.GC and debug.FreeOSMemory.
type GoroutinesReport struct {
	Experiment string `json:"experiment"`
	// N is how many goroutines were launched.
	N int `json:"n"`
	// Completed is how many signalled the WaitGroup (must equal N).
	Completed int `json:"completed"`
	// WallSeconds is from the first go statement until wg.Wait returned.
	WallSeconds float64 `json:"wall_seconds"`
	// SpawnSeconds is the time the launching loop spent in go statements.
	SpawnSeconds        float64 `json:"spawn_seconds"`
	SpawnNsPerGoroutine float64 `json:"spawn_ns_per_goroutine"`
	WallNsPerGoroutine  float64 `json:"wall_ns_per_goroutine"`
	// BaselineRSSBytes and PeakRSSBytes bracket the run.
	BaselineRSSBytes uint64 `json:"baseline_rss_bytes"`
	PeakRSSBytes     uint64 `json:"peak_rss_bytes"`
	// PeakLiveGoroutines is the most goroutines seen alive at once (sampled):
	// short-lived goroutines are not all alive together.
	PeakLiveGoroutines uint64 `json:"peak_live_goroutines"`
	// PeakStackBytes and PeakHeapObjectBytes are sampled maxima (absolute).
	PeakStackBytes      uint64 `json:"peak_stack_bytes"`
	PeakHeapObjectBytes uint64 `json:"peak_heap_object_bytes"`
	// BytesPerGoroutine is (peak RSS - baseline RSS) / N: the memory the
	// burst cost, per goroutine launched.
	BytesPerGoroutine float64 `json:"bytes_per_goroutine"`
	// BytesPerLiveGoroutine is (peak RSS - baseline RSS) / PeakLiveGoroutines.
	BytesPerLiveGoroutine float64 `json:"bytes_per_live_goroutine"`
	// RetainedHeapBytesPerGoroutine is (heap objects after all exited and a
	// GC - baseline) / N: the runtime keeps every g it ever made for reuse.
	RetainedHeapBytesPerGoroutine float64 `json:"retained_heap_bytes_per_goroutine"`
	// OSThreads is the process's thread count at the end (Go never ends
	// idle threads, so this is the most it used); baseline is before.
	OSThreads         int `json:"os_threads"`
	OSThreadsBaseline int `json:"os_threads_baseline"`
	GOMAXPROCS        int `json:"gomaxprocs"`
	// GCCycles is how many GC cycles completed during the run.
	GCCycles uint64 `json:"gc_cycles"`
	// Samples is how many snapshots the sampler took.
	Samples int               `json:"samples"`
	Machine Machine           `json:"machine"`
	Sources map[string]string `json:"sources"`
}

// RunGoroutines launches opt.N goroutines that each do a tiny unit of work
// and signal a WaitGroup, the seed lesson's stress exercise, and measures the
// burst: time per spawn, peak memory, threads, GC cycles. It returns after
// every goroutine it launched has finished, even if ctx ends first (then N
// is how many were launched before the stop).
func RunGoroutines(ctx context.Context, opt Options) (GoroutinesReport, error) {
	n := opt.N
	if n <= 0 {
		n = DefaultGoroutines
	}
	r := GoroutinesReport{Experiment: "goroutines", Machine: currentMachine()}
	p := newProbe()
	base, resetOK, err := baseline(p)
	if err != nil {
		return r, err
	}
	smp := startSampler(2 * time.Millisecond)
	bar := startProgress(opt.Progress, "goroutines", int64(n))

	var (
		wg   sync.WaitGroup
		sum  atomic.Uint64
		done atomic.Int64
	)
	start := time.Now()
	launched := 0
	for ; launched < n; launched++ {
		if launched&4095 == 0 {
			if ctx.Err() != nil {
				break
			}
			bar.Set(int64(launched))
		}
		wg.Add(1)
		go tinyWork(uint64(launched), &sum, &done, &wg)
	}
	spawn := time.Since(start)
	wg.Wait()
	wall := time.Since(start)
	bar.done()
	peak, samples := smp.stop()
	end, err := p.read()
	if err != nil {
		return r, fmt.Errorf("goroutines: %w", err)
	}
	settle()
	after, err := p.read()
	if err != nil {
		return r, fmt.Errorf("goroutines: %w", err)
	}

	r.N = launched
	r.Completed = int(done.Load())
	r.WallSeconds = wall.Seconds()
	r.SpawnSeconds = spawn.Seconds()
	r.SpawnNsPerGoroutine = nsPer(spawn, launched)
	r.WallNsPerGoroutine = nsPer(wall, launched)
	r.BaselineRSSBytes = base.RSSBytes
	var rssSrc string
	r.PeakRSSBytes, rssSrc = peakRSS(resetOK, end, peak)
	r.PeakLiveGoroutines = peak.Goroutines - min(peak.Goroutines, base.Goroutines)
	r.PeakStackBytes = peak.StackBytes
	r.PeakHeapObjectBytes = peak.HeapObjectBytes
	r.BytesPerGoroutine = perUnit(r.PeakRSSBytes, base.RSSBytes, launched)
	if r.PeakLiveGoroutines > 0 {
		r.BytesPerLiveGoroutine = perUnit(r.PeakRSSBytes, base.RSSBytes, int(r.PeakLiveGoroutines))
	}
	r.RetainedHeapBytesPerGoroutine = perUnit(after.HeapObjectBytes, base.HeapObjectBytes, launched)
	r.OSThreads = max(end.Threads, peak.Threads)
	r.OSThreadsBaseline = base.Threads
	r.GOMAXPROCS = r.Machine.GOMAXPROCS
	r.GCCycles = end.GCCycles - base.GCCycles
	r.Samples = samples
	r.Sources = map[string]string{
		"wall_seconds":                      srcClock,
		"spawn_seconds":                     srcClock + ", around the launching loop only",
		"peak_rss_bytes":                    rssSrc,
		"baseline_rss_bytes":                srcRSS + " after runtime.GC + debug.FreeOSMemory",
		"peak_live_goroutines":              srcGoroutines + ", sampled every 2ms, minus baseline",
		"peak_stack_bytes":                  srcStacks + ", sampled max",
		"peak_heap_object_bytes":            srcHeapObj + ", sampled max",
		"bytes_per_goroutine":               "(peak_rss_bytes - baseline_rss_bytes) / n",
		"bytes_per_live_goroutine":          "(peak_rss_bytes - baseline_rss_bytes) / peak_live_goroutines",
		"retained_heap_bytes_per_goroutine": "(" + srcHeapObj + " after all exited + GC - baseline) / n",
		"os_threads":                        srcThreads,
		"gc_cycles":                         srcGC + ", delta",
	}
	if ctx.Err() != nil {
		return r, fmt.Errorf("goroutines: stopped after %d of %d: %w", launched, n, ctx.Err())
	}
	return r, nil
}

// tinyWork is the unit of work: mix a number (so the compiler cannot drop
// it), publish the result, count and signal.
func tinyWork(x uint64, sum *atomic.Uint64, done *atomic.Int64, wg *sync.WaitGroup) {
	for range 8 {
		x ^= x >> 33
		x *= 0xff51afd7ed558ccd
	}
	sum.Add(x)
	done.Add(1)
	wg.Done()
}

// WriteTable writes the human-readable report.
func (r GoroutinesReport) WriteTable(w io.Writer) error {
	t := kvTable(fmt.Sprintf("stress goroutines: %s goroutines launched, each does a tiny job and calls wg.Done", fmtInt(int64(r.N))))
	s := r.Sources
	t.add("goroutines completed", fmtInt(int64(r.Completed)), "atomic counter")
	t.add("wall time", fmtSec(r.WallSeconds), s["wall_seconds"])
	t.add("time per spawn (go statement)", fmtNs(r.SpawnNsPerGoroutine), s["spawn_seconds"])
	t.add("wall time per goroutine", fmtNs(r.WallNsPerGoroutine), "wall_seconds / n")
	t.add("baseline RSS", fmtTotal(r.BaselineRSSBytes), s["baseline_rss_bytes"])
	t.add("peak RSS", fmtTotal(r.PeakRSSBytes), s["peak_rss_bytes"])
	t.add("peak live goroutines", fmtInt(int64(r.PeakLiveGoroutines)), s["peak_live_goroutines"])
	t.add("goroutine stacks at peak", fmtTotal(r.PeakStackBytes), s["peak_stack_bytes"])
	t.add("heap objects at peak", fmtTotal(r.PeakHeapObjectBytes), s["peak_heap_object_bytes"])
	t.add("bytes per goroutine launched", fmtBytes(r.BytesPerGoroutine), s["bytes_per_goroutine"])
	t.add("bytes per live goroutine", fmtBytes(r.BytesPerLiveGoroutine), s["bytes_per_live_goroutine"])
	t.add("heap kept per goroutine after exit+GC", fmtBytes(r.RetainedHeapBytesPerGoroutine), s["retained_heap_bytes_per_goroutine"])
	t.add("OS threads (before -> after)", fmt.Sprintf("%d -> %d", r.OSThreadsBaseline, r.OSThreads), s["os_threads"])
	t.add("GOMAXPROCS", fmtInt(int64(r.GOMAXPROCS)), "runtime.GOMAXPROCS(0)")
	t.add("GC cycles during run", fmtInt(int64(r.GCCycles)), s["gc_cycles"])
	t.note("%s", machineNote(r.Machine))
	t.note("short-lived goroutines are not all alive at once: compare peak live goroutines with n.")
	return t.write(w)
}
