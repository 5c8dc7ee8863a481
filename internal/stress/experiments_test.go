package stress

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Memory bounds below hold with and without -race. Measured here at
// N=10,000: a parked goroutine costs ~2.8 KiB of RSS normally and ~20 KiB
// with -race (the detector keeps shadow state per goroutine), so 1-64 KiB
// passes both while still failing for nonsense: a wrong divisor (off by
// 10x or more), a missing baseline, or a negative delta.

// requiredJSON are the fields every experiment's JSON must carry.
var requiredJSON = []string{"n", "wall_seconds", "peak_rss_bytes", "os_threads"}

// TestExperiments runs each goroutine experiment at small N through Main
// and checks that the report is sane and internally consistent. Timing is
// never asserted; only counts and memory figures with generous bounds.
func TestExperiments(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		out   func() any
		extra []string // more required numeric JSON fields
		check func(t *testing.T, rep any)
	}{
		{
			name:  "goroutines",
			args:  []string{"goroutines", "-n", "10000"},
			out:   func() any { return new(GoroutinesReport) },
			extra: []string{"bytes_per_goroutine", "gomaxprocs", "gc_cycles", "spawn_ns_per_goroutine", "peak_stack_bytes", "peak_heap_object_bytes"},
			check: func(t *testing.T, rep any) {
				r := rep.(*GoroutinesReport)
				if r.N != 10000 || r.Completed != r.N {
					t.Errorf("n=%d completed=%d, want both 10000", r.N, r.Completed)
				}
				if r.OSThreads < 1 || r.OSThreads > r.N/10 {
					t.Errorf("os_threads = %d, want far below n=%d", r.OSThreads, r.N)
				}
				if r.PeakRSSBytes < r.BaselineRSSBytes {
					t.Errorf("peak RSS %d below baseline %d", r.PeakRSSBytes, r.BaselineRSSBytes)
				}
				if r.PeakLiveGoroutines > uint64(r.N)+100 {
					t.Errorf("peak live goroutines %d exceeds n=%d", r.PeakLiveGoroutines, r.N)
				}
				between(t, "bytes_per_goroutine", r.BytesPerGoroutine, 0, 64*1024)
				if r.GOMAXPROCS != r.Machine.GOMAXPROCS || r.GOMAXPROCS < 1 {
					t.Errorf("gomaxprocs %d vs machine %d", r.GOMAXPROCS, r.Machine.GOMAXPROCS)
				}
			},
		},
		{
			name:  "parked",
			args:  []string{"parked", "-n", "10000"},
			out:   func() any { return new(ParkedReport) },
			extra: []string{"bytes_per_goroutine", "stack_bytes_per_goroutine", "heap_bytes_per_goroutine", "release_seconds", "gc_cycles"},
			check: func(t *testing.T, rep any) {
				r := rep.(*ParkedReport)
				if r.N != 10000 || r.Parked != r.N || r.Ran != r.N {
					t.Errorf("n=%d parked=%d ran=%d: every parked goroutine must be accounted for", r.N, r.Parked, r.Ran)
				}
				// A parked goroutine holds at least a 2 KiB stack and a g.
				between(t, "bytes_per_goroutine", r.BytesPerGoroutine, 1024, 64*1024)
				between(t, "stack_bytes_per_goroutine", r.StackBytesPerGoroutine, 1024, 64*1024)
				between(t, "heap_bytes_per_goroutine", r.HeapBytesPerGoroutine, 0, 16*1024)
				if r.OSThreads > r.N/10 {
					t.Errorf("os_threads = %d for %d parked goroutines", r.OSThreads, r.N)
				}
				if r.AliveRSSBytes < r.BaselineRSSBytes || r.PeakRSSBytes < r.AliveRSSBytes {
					t.Errorf("RSS baseline %d, alive %d, peak %d out of order", r.BaselineRSSBytes, r.AliveRSSBytes, r.PeakRSSBytes)
				}
			},
		},
		{
			name:  "stacks",
			args:  []string{"stacks", "-n", "2000", "--depth", "128"},
			out:   func() any { return new(StacksReport) },
			extra: []string{"bytes_per_goroutine", "max_depth", "starting_stack_bytes_after_gc"},
			check: func(t *testing.T, rep any) {
				r := rep.(*StacksReport)
				if len(r.Depths) != len(stackDepths(128)) {
					t.Fatalf("got %d depth rows, want %d", len(r.Depths), len(stackDepths(128)))
				}
				shallow, deep := r.Depths[0], r.Depths[len(r.Depths)-1]
				between(t, "depth 0 stack bytes", shallow.StackBytesPerGoroutine, 1024, 16*1024)
				// 128 frames of >128 B each need more than 16 KiB.
				if deep.StackBytesPerGoroutine < 16*1024 {
					t.Errorf("stack at depth %d = %.0f B, want growth beyond 16 KiB", deep.Depth, deep.StackBytesPerGoroutine)
				}
				for i := 1; i < len(r.Depths); i++ {
					if r.Depths[i].StackBytesPerGoroutine < r.Depths[i-1].StackBytesPerGoroutine*0.9 {
						t.Errorf("stack shrank from depth %d to %d", r.Depths[i-1].Depth, r.Depths[i].Depth)
					}
				}
				if len(r.Shrink) < 4 {
					t.Fatalf("shrink has %d steps", len(r.Shrink))
				}
				first, minGC := r.Shrink[0].StackBytesPerGoroutine, r.Shrink[0].StackBytesPerGoroutine
				for _, s := range r.Shrink {
					if strings.HasPrefix(s.Step, "after runtime.GC") {
						minGC = min(minGC, s.StackBytesPerGoroutine)
					}
				}
				if minGC > first/3 {
					t.Errorf("stacks did not shrink after GC: %.0f -> %.0f B", first, minGC)
				}
				if r.StartingStackAfter <= r.StartingStackBefore {
					t.Errorf("starting stack size %d -> %d, want it raised after scanning deep stacks", r.StartingStackBefore, r.StartingStackAfter)
				}
				// Goroutines recycling a dead g get the new starting size. (The
				// second probe gets brand-new g's only if no dead g is left,
				// which depends on what ran before in this process.)
				if r.AdaptiveRecycledStackBytes < float64(r.StartingStackAfter)/2 {
					t.Errorf("recycled g's got %.0f B stacks, want about the starting size %d", r.AdaptiveRecycledStackBytes, r.StartingStackAfter)
				}
			},
		},
		{
			name:  "threads",
			args:  []string{"threads", "-n", "50"},
			out:   func() any { return new(ThreadsReport) },
			extra: []string{"bytes_per_goroutine", "bytes_per_thread", "safe_max_threads"},
			check: func(t *testing.T, rep any) {
				r := rep.(*ThreadsReport)
				th, g := r.Threads, r.Goroutines
				if th.Parked != 50 || th.Ran != 50 || g.Parked != 50 || g.Ran != 50 {
					t.Errorf("parked/ran: threads %d/%d goroutines %d/%d, want 50 each", th.Parked, th.Ran, g.Parked, g.Ran)
				}
				// 50 locked parked goroutines hold 50 distinct threads, plus
				// at least the one running the test (idle threads are reused).
				if th.ThreadsAlive < 51 {
					t.Errorf("locked side had %d threads, want at least 51", th.ThreadsAlive)
				}
				if g.ThreadsAlive > g.ThreadsBaseline+25 {
					t.Errorf("goroutine side grew threads %d -> %d", g.ThreadsBaseline, g.ThreadsAlive)
				}
				if th.ThreadsAfterRelease >= th.ThreadsAlive {
					t.Errorf("threads did not exit with their locked goroutines: %d -> %d", th.ThreadsAlive, th.ThreadsAfterRelease)
				}
				if r.Limits.RuntimeMaxThreads != 10000 {
					t.Errorf("runtime max threads = %d, want the default 10000", r.Limits.RuntimeMaxThreads)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := tc.out()
			m := runJSON(t, rep, tc.args...)
			requireFields(t, m, append(requiredJSON, tc.extra...)...)
			if _, ok := m["sources"].(map[string]any); !ok {
				t.Errorf("JSON lacks a sources object")
			}
			tc.check(t, rep)
		})
	}
}

// TestTables checks the human output of each experiment carries its headers.
func TestTables(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"goroutines", "-n", "2000"}, []string{"quantity", "value", "source", "bytes per goroutine launched", "OS threads", "GOMAXPROCS", "GC cycles"}},
		{[]string{"parked", "-n", "2000"}, []string{"quantity", "value", "source", "bytes per parked goroutine", "release"}},
		{[]string{"stacks", "-n", "500", "--depth", "32"}, []string{"depth", "stack bytes/goroutine", "shrink", "after runtime.GC #1", "adaptive start"}},
		{[]string{"threads", "-n", "20"}, []string{"quantity", "goroutines", "OS threads", "limits: ulimit -s", "safe maximum"}},
	}
	for _, tc := range tests {
		t.Run(tc.args[0], func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := Main(context.Background(), append(tc.args, "--quiet"), &out, &errb); err != nil {
				t.Fatalf("Main: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("table lacks %q:\n%s", w, out.String())
				}
			}
			if errb.Len() != 0 {
				t.Errorf("stderr not empty with --quiet: %q", errb.String())
			}
		})
	}
}

// TestUsage checks help output and bad command lines.
func TestUsage(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error
		wantOut string
	}{
		{"no args", nil, nil, "experiments:"},
		{"help", []string{"help"}, nil, "sweep"},
		{"experiment help", []string{"parked", "-h"}, nil, ""},
		{"unknown experiment", []string{"fork-bomb"}, ErrUsage, ""},
		{"unknown flag", []string{"parked", "--bogus"}, ErrUsage, ""},
		{"stray argument", []string{"parked", "extra"}, ErrUsage, ""},
		{"negative n", []string{"parked", "-n", "-5"}, ErrUsage, ""},
		{"bad ns", []string{"sweep", "--ns", "10,x"}, ErrUsage, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tc.args, &out, &errb)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantOut != "" && !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, out.String())
			}
		})
	}
	var out bytes.Buffer
	_ = Main(context.Background(), nil, &out, &out)
	for _, e := range experiments() {
		if !strings.Contains(out.String(), e.name) {
			t.Errorf("usage does not list %q", e.name)
		}
	}
}

// TestThreadsRefusesBeyondLimits checks that an absurd thread count is
// refused with the limits stated, instead of crashing the process.
func TestThreadsRefusesBeyondLimits(t *testing.T) {
	_, err := RunThreads(context.Background(), Options{N: 1_000_000})
	if !errors.Is(err, ErrTooManyThreads) {
		t.Fatalf("err = %v, want ErrTooManyThreads", err)
	}
	if !strings.Contains(err.Error(), "SetMaxThreads") {
		t.Errorf("error does not state the limits: %v", err)
	}
}

// TestTimeoutStopsCleanly runs experiments with an expired context: they
// must return a context error and leave nothing running (goleak checks).
func TestTimeoutStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	runs := map[string]func() error{
		"goroutines": func() error { _, err := RunGoroutines(ctx, Options{N: 1000}); return err },
		"parked":     func() error { _, err := RunParked(ctx, Options{N: 1000}); return err },
		"stacks":     func() error { _, err := RunStacks(ctx, Options{N: 1000, Depth: 16}); return err },
		"threads":    func() error { _, err := RunThreads(ctx, Options{N: 10}); return err },
	}
	for name, run := range runs {
		t.Run(name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- run() }()
			select {
			case err := <-done:
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want DeadlineExceeded", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("experiment ignored its expired context (hang bound 1m)")
			}
		})
	}
}

// TestParseNs checks the sweep's N list syntax.
func TestParseNs(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"1000,10000", []int{1000, 10000}, false},
		{"1k, 10k,1m", []int{1000, 10000, 1000000}, false},
		{"0", nil, true},
		{"ten", nil, true},
	}
	for _, tc := range tests {
		got, err := parseNs(tc.in)
		if (err != nil) != tc.err || !slicesEqual(got, tc.want) {
			t.Errorf("parseNs(%q) = %v, %v; want %v, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
