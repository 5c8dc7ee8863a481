package stress

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSweep runs a small sweep both in child processes (this test binary
// acting as `switchboard stress`) and in-process, and checks the table
// data, the fitted growth and the PNG.
func TestSweep(t *testing.T) {
	tests := []struct {
		name string
		args []string
		iso  string
	}{
		{"child processes", nil, "fresh child process"},
		{"in-process", []string{"--in-process"}, "in-process"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plot := filepath.Join(t.TempDir(), "sweep.png")
			var r SweepReport
			args := append([]string{"sweep", "--ns", "2000,8000", "--plot", plot}, tc.args...)
			m := runJSON(t, &r, args...)
			requireFields(t, m, append(requiredJSON, "bytes_per_goroutine", "parked_rss_growth_exponent")...)
			if len(r.Points) != 2 {
				t.Fatalf("got %d points, want 2", len(r.Points))
			}
			for _, pt := range r.Points {
				if pt.Skipped != "" || pt.Goroutines == nil || pt.Parked == nil {
					t.Fatalf("point n=%d incomplete: %+v", pt.N, pt)
				}
				if pt.Goroutines.N != pt.N || pt.Parked.N != pt.N || pt.Parked.Ran != pt.N {
					t.Errorf("point n=%d: goroutines n=%d, parked n=%d ran=%d", pt.N, pt.Goroutines.N, pt.Parked.N, pt.Parked.Ran)
				}
			}
			if len(r.Isolation) < len(tc.iso) || r.Isolation[:len(tc.iso)] != tc.iso {
				t.Errorf("isolation = %q, want prefix %q", r.Isolation, tc.iso)
			}
			// Stack memory is 2 KiB (or more) per goroutine whatever N: the
			// growth exponent of stacks must be near 1, never near 0 or 2.
			if e := r.ParkedStackGrowthExponent; e < 0.7 || e > 1.3 {
				t.Errorf("parked stack growth exponent = %.2f, want about 1", e)
			}
			f, err := os.Open(plot)
			if err != nil {
				t.Fatalf("plot not written: %v", err)
			}
			defer f.Close()
			cfg, err := png.DecodeConfig(f)
			if err != nil {
				t.Fatalf("plot is not a PNG: %v", err)
			}
			if cfg.Width < 800 || cfg.Height < 300 {
				t.Errorf("plot is %dx%d, too small to read", cfg.Width, cfg.Height)
			}
		})
	}
}

// TestLogSlope checks the growth fit on known data.
func TestLogSlope(t *testing.T) {
	tests := []struct {
		name string
		pts  [][2]float64
		want float64
	}{
		{"linear", [][2]float64{{1e3, 3e6}, {1e4, 3e7}, {1e5, 3e8}}, 1},
		{"quadratic", [][2]float64{{10, 100}, {100, 1e4}, {1000, 1e6}}, 2},
		{"constant", [][2]float64{{10, 5}, {100, 5}}, 0},
		{"too few usable", [][2]float64{{10, 5}, {100, -1}}, 0},
	}
	for _, tc := range tests {
		if got := logSlope(tc.pts); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: logSlope = %v, want %v", tc.name, got, tc.want)
		}
	}
}
