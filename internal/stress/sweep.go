package stress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// DefaultSweepTimeout bounds a whole sweep.
const DefaultSweepTimeout = 10 * time.Minute

// childEnv is set in the environment of the child processes a sweep runs,
// so a test binary can recognise them and act as the switchboard binary.
const childEnv = "SWITCHBOARD_STRESS_CHILD"

// sweepBytesPerGoroutineBudget is a generous per-goroutine memory estimate
// used to skip points that would not fit in available memory.
const sweepBytesPerGoroutineBudget = 10 * 1024

// SweepOptions configures [RunSweep]. Zero fields mean the defaults.
type SweepOptions struct {
	// Ns are the goroutine counts; default 1,000 10,000 100,000 1,000,000.
	Ns []int
	// PlotFile, if set, receives a PNG plot of the sweep.
	PlotFile string
	// InProcess runs every point in this process. By default each point runs
	// in a fresh child process (this executable, `stress <exp> --json`), so
	// that one point's leftovers (the runtime keeps every g it ever
	// allocated; VmHWM is per process) cannot flatter the next one.
	InProcess bool
	// Progress receives progress bars; nil shows none.
	Progress io.Writer
}

// SweepPoint is one N of the sweep: both experiments, or why it was skipped.
type SweepPoint struct {
	N          int               `json:"n"`
	Skipped    string            `json:"skipped,omitempty"`
	Goroutines *GoroutinesReport `json:"goroutines,omitempty"`
	Parked     *ParkedReport     `json:"parked,omitempty"`
}

// SweepReport is the result of [RunSweep].
type SweepReport struct {
	Experiment string `json:"experiment"`
	// N is the largest N measured.
	N           int     `json:"n"`
	WallSeconds float64 `json:"wall_seconds"`
	// PeakRSSBytes is the largest peak of any point (each in its own process).
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// OSThreads is the most threads any point used.
	OSThreads int `json:"os_threads"`
	// BytesPerGoroutine is the parked bytes per goroutine at the largest N.
	BytesPerGoroutine float64 `json:"bytes_per_goroutine"`
	// Isolation says how points were run.
	Isolation string       `json:"isolation"`
	Points    []SweepPoint `json:"points"`
	// Growth exponents: the slope of log(memory delta) against log(N) by
	// least squares. 1.0 means cost grows linearly with N.
	ParkedRSSGrowthExponent     float64 `json:"parked_rss_growth_exponent"`
	ParkedStackGrowthExponent   float64 `json:"parked_stack_growth_exponent"`
	GoroutinesRSSGrowthExponent float64 `json:"goroutines_peak_rss_growth_exponent"`
	// PlotFile is where the PNG went ("" if none).
	PlotFile string            `json:"plot_file,omitempty"`
	Machine  Machine           `json:"machine"`
	Sources  map[string]string `json:"sources"`
}

// defaultSweepNs are the values of N a sweep runs unless told otherwise.
func defaultSweepNs() []int { return []int{1_000, 10_000, 100_000, 1_000_000} }

// RunSweep runs the goroutines and parked experiments at every N of opt.Ns
// (skipping an N whose estimated memory exceeds half of MemAvailable) and
// fits how memory grows with N. With opt.PlotFile it also writes a PNG.
func RunSweep(ctx context.Context, opt SweepOptions) (SweepReport, error) {
	ns := opt.Ns
	if len(ns) == 0 {
		ns = defaultSweepNs()
	}
	r := SweepReport{Experiment: "sweep", Machine: currentMachine(), Isolation: "fresh child process per experiment and N"}
	run := runChild
	if opt.InProcess {
		run = runInProcess
		r.Isolation = "in-process (points share one runtime: later points reuse earlier goroutine descriptors)"
	}
	start := time.Now()
	bar := startProgress(opt.Progress, "sweep", int64(2*len(ns)))
	defer bar.done()
	budget := float64(sweepBytesPerGoroutineBudget)
	if r.Machine.Race {
		budget *= 8
	}
	for _, n := range ns {
		pt := SweepPoint{N: n}
		if avail := memAvailableBytes(); avail > 0 && float64(n)*budget > float64(avail)/2 {
			pt.Skipped = fmt.Sprintf("needs ~%s, only %s available", fmtTotal(float64(n)*budget), fmtTotal(avail))
			r.Points = append(r.Points, pt)
			bar.Add(2)
			continue
		}
		var g GoroutinesReport
		if err := run(ctx, "goroutines", n, &g); err != nil {
			return r, fmt.Errorf("sweep: goroutines n=%d: %w", n, err)
		}
		bar.Add(1)
		var p ParkedReport
		if err := run(ctx, "parked", n, &p); err != nil {
			return r, fmt.Errorf("sweep: parked n=%d: %w", n, err)
		}
		bar.Add(1)
		pt.Goroutines, pt.Parked = &g, &p
		r.Points = append(r.Points, pt)
		r.N = max(r.N, n)
		r.PeakRSSBytes = max(r.PeakRSSBytes, g.PeakRSSBytes, p.PeakRSSBytes)
		r.OSThreads = max(r.OSThreads, g.OSThreads, p.OSThreads)
		r.BytesPerGoroutine = p.BytesPerGoroutine
	}
	r.WallSeconds = time.Since(start).Seconds()
	r.fitGrowth()
	r.Sources = map[string]string{
		"points":                              "each point is a full goroutines / parked report; see their sources",
		"parked_rss_growth_exponent":          "least-squares slope of log(alive_rss - baseline_rss) vs log(n)",
		"parked_stack_growth_exponent":        "least-squares slope of log(stack_bytes_per_goroutine * n) vs log(n)",
		"goroutines_peak_rss_growth_exponent": "least-squares slope of log(peak_rss - baseline_rss) vs log(n)",
		"bytes_per_goroutine":                 "parked bytes_per_goroutine at the largest n",
	}
	if opt.PlotFile != "" {
		if err := writeSweepPlot(opt.PlotFile, r); err != nil {
			return r, fmt.Errorf("sweep: %w", err)
		}
		r.PlotFile = opt.PlotFile
	}
	return r, nil
}

// runInProcess runs one experiment in this process.
func runInProcess(ctx context.Context, exp string, n int, out any) error {
	opt := Options{N: n}
	var err error
	switch exp {
	case "goroutines":
		*out.(*GoroutinesReport), err = RunGoroutines(ctx, opt)
	case "parked":
		*out.(*ParkedReport), err = RunParked(ctx, opt)
	default:
		err = fmt.Errorf("%w: no experiment %q", ErrUsage, exp)
	}
	return err
}

// runChild runs `<this executable> stress <exp> -n N --json --quiet` and
// decodes its report.
func runChild(ctx context.Context, exp string, n int, out any) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	timeout := DefaultTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Second, time.Until(dl))
	}
	cmd := exec.CommandContext(ctx, exe, "stress", exp, "-n", strconv.Itoa(n), "--json", "--quiet",
		"--timeout", timeout.Round(time.Second).String())
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("child %s stress %s (use --in-process if this binary cannot run `stress`): %w: %s",
			exe, exp, err, lastLine(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("decode child report: %w: %s", err, lastLine(stdout.String()))
	}
	return nil
}

// lastLine returns the last non-empty line of s, trimmed, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// fitGrowth fills the growth exponents from the measured points.
func (r *SweepReport) fitGrowth() {
	var pr, ps, gr [][2]float64
	for _, pt := range r.Points {
		if pt.Parked == nil || pt.Goroutines == nil {
			continue
		}
		n := float64(pt.N)
		pr = append(pr, [2]float64{n, pt.Parked.BytesPerGoroutine * n})
		ps = append(ps, [2]float64{n, pt.Parked.StackBytesPerGoroutine * n})
		gr = append(gr, [2]float64{n, pt.Goroutines.BytesPerGoroutine * n})
	}
	r.ParkedRSSGrowthExponent = logSlope(pr)
	r.ParkedStackGrowthExponent = logSlope(ps)
	r.GoroutinesRSSGrowthExponent = logSlope(gr)
}

// logSlope is the least-squares slope of log(y) on log(x) over points with
// positive y; NaN-free: it returns 0 with fewer than two usable points.
func logSlope(pts [][2]float64) float64 {
	var xs, ys []float64
	for _, p := range pts {
		if p[0] > 0 && p[1] > 0 {
			xs, ys = append(xs, math.Log(p[0])), append(ys, math.Log(p[1]))
		}
	}
	if len(xs) < 2 {
		return 0
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i], my+ys[i]
	}
	mx, my = mx/float64(len(xs)), my/float64(len(xs))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// WriteTable writes one row per N and the fitted growth.
func (r SweepReport) WriteTable(w io.Writer) error {
	t := &table{
		title: "stress sweep: cost against N (" + r.Isolation + ")",
		header: []string{"N", "goroutines wall", "spawn/g", "peak RSS Δ", "B/g launched", "peak live",
			"parked spawn/g", "RSS Δ alive", "B/g parked", "stack B/g", "heap B/g", "release/g", "threads"},
	}
	for _, pt := range r.Points {
		if pt.Skipped != "" {
			t.add(fmtInt(int64(pt.N)), "skipped: "+pt.Skipped)
			continue
		}
		g, p := pt.Goroutines, pt.Parked
		t.add(fmtInt(int64(pt.N)), fmtSec(g.WallSeconds), fmtNs(g.SpawnNsPerGoroutine),
			fmtTotal(float64(g.PeakRSSBytes)-float64(g.BaselineRSSBytes)), fmtBytes(g.BytesPerGoroutine),
			fmtInt(int64(g.PeakLiveGoroutines)),
			fmtNs(p.SpawnNsPerGoroutine), fmtTotal(float64(p.AliveRSSBytes)-float64(p.BaselineRSSBytes)),
			fmtBytes(p.BytesPerGoroutine), fmtBytes(p.StackBytesPerGoroutine), fmtBytes(p.HeapBytesPerGoroutine),
			fmtNs(p.ReleaseNsPerGoroutine), fmtInt(int64(max(g.OSThreads, p.OSThreads))))
	}
	t.note("growth exponent (1.00 = linear): parked RSS %.2f, parked stacks %.2f, goroutines peak RSS %.2f",
		r.ParkedRSSGrowthExponent, r.ParkedStackGrowthExponent, r.GoroutinesRSSGrowthExponent)
	t.note("goroutines columns: peak RSS Δ = VmHWM - baseline VmRSS; B/g launched = that / N; peak live = sampled %s", metricGoroutines)
	t.note("parked columns: RSS Δ alive = VmRSS with all parked - baseline; B/g = that / N; stack and heap B/g from runtime/metrics deltas / N")
	t.note("spawn/g = go-statement loop time / N; release/g = close(ch) until all ran / N; threads = /proc/self/status Threads")
	if r.PlotFile != "" {
		t.note("plot written to %s", r.PlotFile)
	}
	t.note("%s", machineNote(r.Machine))
	return t.write(w)
}
