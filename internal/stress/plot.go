package stress

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// series is one named line of a sweep plot.
type series struct {
	name string
	pts  plotter.XYs
}

// sweepSeries extracts y(point) over the measured points, dropping values
// that a log axis cannot show.
func sweepSeries(r SweepReport, name string, logY bool, y func(SweepPoint) float64) series {
	s := series{name: name}
	for _, pt := range r.Points {
		if pt.Goroutines == nil || pt.Parked == nil {
			continue
		}
		v := y(pt)
		if logY && v <= 0 {
			continue
		}
		s.pts = append(s.pts, plotter.XY{X: float64(pt.N), Y: v})
	}
	return s
}

// newSweepPanel builds one panel with a log N axis.
func newSweepPanel(title, ylabel string, logY bool, ss ...series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "N (goroutines, log scale)"
	p.Y.Label.Text = ylabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.TickerFunc(powerTicks)
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(powerTicks)
	} else {
		// Leave the top third free for the legend.
		top := 0.0
		for _, s := range ss {
			for _, xy := range s.pts {
				top = max(top, xy.Y)
			}
		}
		p.Y.Min, p.Y.Max = 0, top*1.5
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	var args []any
	for _, s := range ss {
		if len(s.pts) > 0 {
			args = append(args, s.name, s.pts)
		}
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, fmt.Errorf("plot %q: %w", title, err)
	}
	return p, nil
}

// powerTicks labels powers of ten as 1, 10, 100, 1k, 10k, 100k, 1M...
func powerTicks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1e-3; v <= hi*1.0001; v *= 10 {
		if v < lo/1.0001 {
			continue
		}
		ts = append(ts, plot.Tick{Value: v, Label: shortNumber(v)})
	}
	return ts
}

// shortNumber renders 1000 as 1k and 1000000 as 1M.
func shortNumber(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%gG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

// writeSweepPlot writes a three-panel PNG: total memory against N (log-log,
// a straight line of slope 1 is linear growth), bytes per goroutine against
// N (flat is linear growth) and nanoseconds per goroutine against N.
func writeSweepPlot(path string, r SweepReport) error {
	mib := func(b float64) float64 { return b / (1 << 20) }
	total, err := newSweepPanel("Memory above baseline (log-log: slope 1 = linear)", "MiB (log scale)", true,
		sweepSeries(r, "parked: VmRSS", true, func(pt SweepPoint) float64 {
			return mib(float64(pt.Parked.AliveRSSBytes) - float64(pt.Parked.BaselineRSSBytes))
		}),
		sweepSeries(r, "parked: stacks", true, func(pt SweepPoint) float64 {
			return mib(pt.Parked.StackBytesPerGoroutine * float64(pt.N))
		}),
		sweepSeries(r, "goroutines: peak VmRSS", true, func(pt SweepPoint) float64 {
			return mib(float64(pt.Goroutines.PeakRSSBytes) - float64(pt.Goroutines.BaselineRSSBytes))
		}),
	)
	if err != nil {
		return err
	}
	per, err := newSweepPanel("Bytes per goroutine (flat = linear)", "bytes per goroutine", false,
		sweepSeries(r, "parked: VmRSS / N", false, func(pt SweepPoint) float64 { return pt.Parked.BytesPerGoroutine }),
		sweepSeries(r, "parked: stack / N", false, func(pt SweepPoint) float64 { return pt.Parked.StackBytesPerGoroutine }),
		sweepSeries(r, "parked: heap objects / N", false, func(pt SweepPoint) float64 { return pt.Parked.HeapBytesPerGoroutine }),
		sweepSeries(r, "goroutines: peak VmRSS / N", false, func(pt SweepPoint) float64 { return pt.Goroutines.BytesPerGoroutine }),
	)
	if err != nil {
		return err
	}
	tm, err := newSweepPanel("Time per goroutine (noisy: shared 2-core machine)", "nanoseconds per goroutine", false,
		sweepSeries(r, "goroutines: spawn", false, func(pt SweepPoint) float64 { return pt.Goroutines.SpawnNsPerGoroutine }),
		sweepSeries(r, "goroutines: wall", false, func(pt SweepPoint) float64 { return pt.Goroutines.WallNsPerGoroutine }),
		sweepSeries(r, "parked: spawn", false, func(pt SweepPoint) float64 { return pt.Parked.SpawnNsPerGoroutine }),
		sweepSeries(r, "parked: release", false, func(pt SweepPoint) float64 { return pt.Parked.ReleaseNsPerGoroutine }),
	)
	if err != nil {
		return err
	}
	img := vgimg.New(vg.Points(1500), vg.Points(540))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 3, PadX: vg.Points(24), PadY: vg.Points(36),
		PadTop: vg.Points(30), PadBottom: vg.Points(12), PadLeft: vg.Points(12), PadRight: vg.Points(12)}
	cs := plot.Align([][]*plot.Plot{{total, per, tm}}, tiles, dc)
	total.Draw(cs[0][0])
	per.Draw(cs[0][1])
	tm.Draw(cs[0][2])
	m := r.Machine
	caption := fmt.Sprintf("switchboard stress sweep — %s, %d CPUs, GOMAXPROCS=%d, %s", m.GoVersion, m.NumCPU, m.GOMAXPROCS, r.Isolation)
	ts := total.Title.TextStyle
	ts.Font.Size = vg.Points(13)
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YCenter
	w, h := img.Size()
	dc.FillText(ts, vg.Point{X: w / 2, Y: h - vg.Points(15)}, caption)

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create plot: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write plot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close plot: %w", err)
	}
	return nil
}
