package stress

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the stacks experiment.
const (
	DefaultStacksN     = 10_000
	DefaultStacksDepth = 256
	// framePadWords is the padding array in each recursive frame, in
	// uint64 words, so a frame is a bit over framePadWords*8 bytes.
	framePadWords = 16
	// maxShrinkGCs bounds the forced GCs of the shrink phase.
	maxShrinkGCs = 12
)

// StackDepthRow is the cost of N goroutines parked at one recursion depth.
type StackDepthRow struct {
	Depth int `json:"depth"`
	N     int `json:"n"`
	// StackBytesPerGoroutine is (stack bytes with all parked - baseline) / N.
	StackBytesPerGoroutine float64 `json:"stack_bytes_per_goroutine"`
	// RSSBytesPerGoroutine is (VmRSS with all parked - baseline) / N.
	RSSBytesPerGoroutine float64 `json:"rss_bytes_per_goroutine"`
	// StartingStackBytes is the runtime's starting stack size for recycled
	// g's when the row was measured (/gc/stack/starting-size:bytes).
	StartingStackBytes uint64 `json:"starting_stack_bytes"`
	// ParkNsPerGoroutine is time from first spawn until all parked, per
	// goroutine; it includes the stack copies of growth.
	ParkNsPerGoroutine float64 `json:"park_ns_per_goroutine"`
}

// StackShrinkStep is one reading of the shrink phase.
type StackShrinkStep struct {
	Step string `json:"step"`
	// StackBytesPerGoroutine is (stack bytes now - baseline) / N.
	StackBytesPerGoroutine float64 `json:"stack_bytes_per_goroutine"`
	// RSSBytes is VmRSS now (after debug.FreeOSMemory in GC steps).
	RSSBytes uint64 `json:"rss_bytes"`
}

// StacksReport is the result of [RunStacks].
type StacksReport struct {
	Experiment string `json:"experiment"`
	N          int    `json:"n"`
	MaxDepth   int    `json:"max_depth"`
	// FramePadBytes is the local array in each recursive frame.
	FramePadBytes int     `json:"frame_pad_bytes"`
	WallSeconds   float64 `json:"wall_seconds"`
	// BytesPerGoroutine is (VmRSS - baseline) / N with all N parked at MaxDepth.
	BytesPerGoroutine float64 `json:"bytes_per_goroutine"`
	PeakRSSBytes      uint64  `json:"peak_rss_bytes"`
	// Depths holds one row per depth measured (growth).
	Depths []StackDepthRow `json:"depths"`
	// Shrink follows goroutines that returned from MaxDepth and stay parked
	// while GCs are forced.
	Shrink []StackShrinkStep `json:"shrink"`
	// StartingStackBefore and StartingStackAfter are the runtime's starting
	// stack size (/gc/stack/starting-size:bytes) before and after a GC that
	// scanned the N deep stacks: since Go 1.19 it follows the average stack.
	StartingStackBefore uint64 `json:"starting_stack_bytes_before_gc"`
	StartingStackAfter  uint64 `json:"starting_stack_bytes_after_gc"`
	// AdaptiveRecycledStackBytes is the stack per goroutine of AdaptiveN
	// goroutines spawned after that GC that recycle dead g's;
	// AdaptiveNewStackBytes of AdaptiveN more spawned next: brand-new g's,
	// which always start at 2 KiB, unless dead g's are still left to reuse.
	AdaptiveRecycledStackBytes float64           `json:"adaptive_recycled_stack_bytes_per_goroutine"`
	AdaptiveNewStackBytes      float64           `json:"adaptive_new_stack_bytes_per_goroutine"`
	AdaptiveN                  int               `json:"adaptive_n"`
	OSThreads                  int               `json:"os_threads"`
	GOMAXPROCS                 int               `json:"gomaxprocs"`
	GCCycles                   uint64            `json:"gc_cycles"`
	Machine                    Machine           `json:"machine"`
	Sources                    map[string]string `json:"sources"`
}

// descend recurses depth frames, each holding a small array, then calls
// bottom. It cannot be inlined or flattened, so the stack really grows.
//
//go:noinline
func descend(depth int, bottom func()) uint64 {
	var pad [framePadWords]uint64
	pad[depth%framePadWords] = uint64(depth)
	if depth <= 0 {
		bottom()
		return pad[0]
	}
	return descend(depth-1, bottom) + pad[(depth*7)%framePadWords]
}

// stackDepths returns the depths to measure up to max: 0, then powers of
// four from 16, then max itself.
func stackDepths(maxDepth int) []int {
	ds := []int{0}
	for d := 16; d < maxDepth; d *= 4 {
		ds = append(ds, d)
	}
	if maxDepth > 0 {
		ds = append(ds, maxDepth)
	}
	return ds
}

// RunStacks shows goroutine stacks growing with recursion depth and
// shrinking after the recursion returns: for each depth it parks opt.N
// goroutines at that depth and measures stack bytes per goroutine; then it
// parks opt.N goroutines at opt.Depth, lets them return to the top of their
// stack, and forces GCs, reading stack bytes after each one. Every goroutine
// it starts has finished when it returns.
func RunStacks(ctx context.Context, opt Options) (StacksReport, error) {
	n, maxDepth := opt.N, opt.Depth
	if n <= 0 {
		n = DefaultStacksN
	}
	if maxDepth <= 0 {
		maxDepth = DefaultStacksDepth
	}
	r := StacksReport{Experiment: "stacks", N: n, MaxDepth: maxDepth,
		FramePadBytes: framePadWords * 8, Machine: currentMachine()}
	p := newProbe()
	start := time.Now()
	first, resetOK, err := baseline(p)
	if err != nil {
		return r, err
	}
	smp := startSampler(10 * time.Millisecond)
	defer smp.stop()

	depths := stackDepths(maxDepth)
	bar := startProgress(opt.Progress, "stacks", int64(len(depths)+2))
	defer bar.done()
	for _, d := range depths {
		row, err := measureDepth(ctx, p, n, d)
		if err != nil {
			return r, fmt.Errorf("stacks: depth %d: %w", d, err)
		}
		r.Depths = append(r.Depths, row)
		bar.Add(1)
	}
	if err := runShrink(ctx, p, n, maxDepth, &r); err != nil {
		return r, fmt.Errorf("stacks: shrink: %w", err)
	}
	bar.Add(2)
	end, err := p.read()
	if err != nil {
		return r, fmt.Errorf("stacks: %w", err)
	}
	peak, _ := smp.stop()
	r.WallSeconds = time.Since(start).Seconds()
	var rssSrc string
	r.PeakRSSBytes, rssSrc = peakRSS(resetOK, end, peak)
	r.OSThreads = max(end.Threads, peak.Threads)
	r.GOMAXPROCS = r.Machine.GOMAXPROCS
	r.GCCycles = end.GCCycles - first.GCCycles
	r.Sources = map[string]string{
		"stack_bytes_per_goroutine":                   "(" + srcStacks + " with all parked - baseline) / n; baseline after GC + FreeOSMemory",
		"rss_bytes_per_goroutine":                     "(" + srcRSS + " with all parked - baseline) / n",
		"bytes_per_goroutine":                         "rss_bytes_per_goroutine at max_depth",
		"park_ns_per_goroutine":                       srcClock + ", first spawn until all parked, / n",
		"shrink":                                      srcStacks + " and " + srcRSS + ", read after each step as labelled (baseline before spawning)",
		"adaptive_recycled_stack_bytes_per_goroutine": "(" + srcStacks + " delta) / adaptive_n, goroutines reusing dead g's after a GC that scanned the deep stacks",
		"adaptive_new_stack_bytes_per_goroutine":      "(" + srcStacks + " delta) / adaptive_n, goroutines needing new g's after the same GC",
		"starting_stack_bytes":                        "runtime/metrics " + metricStartStack,
		"peak_rss_bytes":                              rssSrc,
		"os_threads":                                  srcThreads,
	}
	return r, nil
}

// measureDepth parks n goroutines at depth d and reads the per-goroutine
// stack and RSS deltas.
func measureDepth(ctx context.Context, p *probe, n, d int) (StackDepthRow, error) {
	row := StackDepthRow{Depth: d, N: n}
	base, _, err := baseline(p)
	if err != nil {
		return row, err
	}
	row.StartingStackBytes = readMetricUint(metricStartStack)
	g := newParkGroup()
	defer g.releaseAll()
	start := time.Now()
	g.spawn(ctx, n, nil, func() { descend(d, g.park) })
	if err := g.incomplete(ctx, n); err != nil {
		return row, err
	}
	if err := g.awaitParked(ctx, nil, p, base); err != nil {
		return row, err
	}
	parked := time.Since(start)
	alive, err := p.read()
	if err != nil {
		return row, err
	}
	row.N = g.n
	row.StackBytesPerGoroutine = perUnit(alive.StackBytes, base.StackBytes, g.n)
	row.RSSBytesPerGoroutine = perUnit(alive.RSSBytes, base.RSSBytes, g.n)
	row.ParkNsPerGoroutine = nsPer(parked, g.n)
	return row, nil
}

// runShrink parks n goroutines at depth d, probes the adaptive starting
// stack, lets them return to the top and forces GCs until stack memory
// stops changing, recording each step into r.
func runShrink(ctx context.Context, p *probe, n, d int, r *StacksReport) error {
	base, _, err := baseline(p)
	if err != nil {
		return err
	}
	var (
		deep       atomic.Int64
		unwind     = make(chan struct{})
		unwindOnce sync.Once
		g          = newParkGroup()
	)
	doUnwind := func() { unwindOnce.Do(func() { close(unwind) }) }
	defer func() { doUnwind(); g.releaseAll() }()
	g.spawn(ctx, n, nil, func() {
		descend(d, func() { deep.Add(1); <-unwind })
		g.park()
	})
	if err := g.incomplete(ctx, n); err != nil {
		return err
	}
	if err := waitCount(ctx, &deep, int64(g.n)); err != nil {
		return err
	}
	step := func(name string) error {
		s, err := p.read()
		if err != nil {
			return err
		}
		r.Shrink = append(r.Shrink, StackShrinkStep{Step: name,
			StackBytesPerGoroutine: perUnit(s.StackBytes, base.StackBytes, g.n), RSSBytes: s.RSSBytes})
		return nil
	}
	if err := step(fmt.Sprintf("parked at depth %d", d)); err != nil {
		return err
	}
	s, err := p.read()
	if err != nil {
		return err
	}
	r.BytesPerGoroutine = perUnit(s.RSSBytes, base.RSSBytes, g.n)
	if err := probeAdaptive(ctx, p, max(1, n/10), r); err != nil {
		return err
	}

	doUnwind()
	if err := g.awaitParked(ctx, nil, p, base); err != nil {
		return err
	}
	if err := step("returned to top, before any GC"); err != nil {
		return err
	}
	prev, same := -1.0, 0
	for i := 1; i <= maxShrinkGCs && same < 2; i++ {
		runtime.GC()
		if err := step(fmt.Sprintf("after runtime.GC #%d", i)); err != nil {
			return err
		}
		cur := r.Shrink[len(r.Shrink)-1].StackBytesPerGoroutine
		if cur == prev {
			same++
		} else {
			same = 0
		}
		prev = cur
	}
	debug.FreeOSMemory()
	if err := step("after debug.FreeOSMemory (RSS returned)"); err != nil {
		return err
	}
	g.releaseAll()
	settle()
	return step("all exited, after GC")
}

// probeAdaptive shows the adaptive starting stack (Go 1.19+): each GC sets
// the size new goroutines start with to the average stack in use, but only
// goroutines that recycle a dead g get it; a brand-new g always starts at
// the 2 KiB minimum. It is called while n deep goroutines are parked:
// k goroutines run and exit (leaving k dead g's), a GC scans the deep
// stacks, then k parked goroutines reuse the dead g's and k more need new
// g's. Their stack bytes per goroutine go into r.
func probeAdaptive(ctx context.Context, p *probe, k int, r *StacksReport) error {
	r.StartingStackBefore = readMetricUint(metricStartStack)
	prime := newParkGroup()
	prime.spawn(ctx, k, nil, nil)
	if err := prime.awaitParked(ctx, nil, p, Snapshot{}); err != nil {
		prime.releaseAll()
		return err
	}
	prime.releaseAll()
	runtime.GC() // scans the deep stacks: the starting size jumps
	r.StartingStackAfter = readMetricUint(metricStartStack)
	r.AdaptiveN = k
	for i, dst := range []*float64{&r.AdaptiveRecycledStackBytes, &r.AdaptiveNewStackBytes} {
		before, err := p.read()
		if err != nil {
			return err
		}
		grp := newParkGroup()
		defer grp.releaseAll()
		grp.spawn(ctx, k, nil, nil)
		if err := grp.awaitParked(ctx, nil, p, before); err != nil {
			return fmt.Errorf("adaptive probe %d: %w", i, err)
		}
		after, err := p.read()
		if err != nil {
			return err
		}
		*dst = perUnit(after.StackBytes, before.StackBytes, grp.n)
	}
	return nil
}

// readMetricUint reads one uint64 runtime/metrics value (0 if unsupported).
func readMetricUint(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// waitCount polls c every millisecond until it reaches want or ctx ends.
func waitCount(ctx context.Context, c *atomic.Int64, want int64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c.Load() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d goroutines (%d arrived): %w", want, c.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// WriteTable writes the human-readable report: growth, then shrink.
func (r StacksReport) WriteTable(w io.Writer) error {
	t := &table{
		title: fmt.Sprintf("stress stacks: %s goroutines parked at each recursion depth (frame pad %d B)",
			fmtInt(int64(r.N)), r.FramePadBytes),
		header: []string{"depth", "stack bytes/goroutine", "RSS bytes/goroutine", "time to park/goroutine", "runtime starting stack"},
	}
	for _, d := range r.Depths {
		t.add(fmtInt(int64(d.Depth)), fmtBytes(d.StackBytesPerGoroutine), fmtBytes(d.RSSBytesPerGoroutine),
			fmtNs(d.ParkNsPerGoroutine), fmtBytes(float64(d.StartingStackBytes)))
	}
	t.note("stack bytes: %s", r.Sources["stack_bytes_per_goroutine"])
	t.note("RSS bytes: %s", r.Sources["rss_bytes_per_goroutine"])
	t.note("stacks are power-of-two sized and grow by copying to a stack twice as large.")
	if err := t.write(w); err != nil {
		return err
	}
	s := &table{
		title:  fmt.Sprintf("shrink: %s goroutines return from depth %d and stay parked; GCs forced", fmtInt(int64(r.N)), r.MaxDepth),
		header: []string{"step", "stack bytes/goroutine", "process RSS"},
	}
	for _, st := range r.Shrink {
		s.add(st.Step, fmtBytes(st.StackBytesPerGoroutine), fmtTotal(st.RSSBytes))
	}
	s.note("source: %s", r.Sources["shrink"])
	s.note("the GC halves a stack when under a quarter of it is in use, never below 2 KiB; freed stack memory stays\n  with the runtime (RSS does not drop) until the scavenger or debug.FreeOSMemory returns it.")
	s.note("adaptive start: a GC that scanned the deep stacks moved the starting stack size from %s to %s (%s);",
		fmtBytes(float64(r.StartingStackBefore)), fmtBytes(float64(r.StartingStackAfter)), r.Sources["starting_stack_bytes"])
	s.note("  then %s goroutines reusing dead g's got %s of stack each; %s more (brand-new g's once no dead g is left) got %s each",
		fmtInt(int64(r.AdaptiveN)), fmtBytes(r.AdaptiveRecycledStackBytes), fmtInt(int64(r.AdaptiveN)), fmtBytes(r.AdaptiveNewStackBytes))
	s.note("peak RSS %s (%s); OS threads %d; GOMAXPROCS %d; GC cycles %d; wall %s",
		fmtTotal(r.PeakRSSBytes), r.Sources["peak_rss_bytes"], r.OSThreads, r.GOMAXPROCS, r.GCCycles, fmtWall(r.WallSeconds))
	s.note("%s", machineNote(r.Machine))
	return s.write(w)
}
