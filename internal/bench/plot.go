package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// serverColor keeps each server's line the same colour in every chart.
func serverColor(name string, i int) color.RGBA {
	switch name {
	case "switchboard":
		return color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	case "redis":
		return color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	case "nats":
		return color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	}
	return color.RGBA{R: uint8(60 * i), G: uint8(40 * i), B: 0x80, A: 0xff}
}

// plotMain implements `bench plot --in compare.json --out fanout.png`:
// deliveries per server CPU-second against K on a log axis, one line per
// server.
func plotMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plot", flag.ContinueOnError)
	in := fs.String("in", "bench-results/compare.json", "comparison written by bench summarize")
	out := fs.String("out", "bench-results/fanout.png", "PNG to write (the extension picks the format)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("read comparison: %w", err)
	}
	var cmp comparison
	if err := json.Unmarshal(b, &cmp); err != nil {
		return fmt.Errorf("decode %s: %w", *in, err)
	}
	if err := drawFanout(&cmp, *out); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "wrote %s\n", *out)
	return err
}

// drawFanout writes the chart of cmp's fanout rows to file.
func drawFanout(cmp *comparison, file string) error {
	lines := map[string]plotter.XYs{}
	var ks []float64
	top := 0.0
	for _, r := range cmp.Fanout {
		if r.K <= 0 || r.DeliveriesPerCPUSec <= 0 {
			continue
		}
		lines[r.Server] = append(lines[r.Server], plotter.XY{X: float64(r.K), Y: r.DeliveriesPerCPUSec / 1e6})
		ks = append(ks, float64(r.K))
		top = max(top, r.DeliveriesPerCPUSec/1e6)
	}
	if len(lines) == 0 {
		return errNoFanout
	}
	p := plot.New()
	p.Title.Text = "Fan-out efficiency: deliveries per server CPU-second (higher is better)"
	p.X.Label.Text = "subscribers K (log scale)"
	p.Y.Label.Text = "million deliveries per server CPU-second"
	p.X.Scale = plot.LogScale{}
	sort.Float64s(ks)
	var ticks []plot.Tick
	for i, k := range ks {
		if i == 0 || k != ks[i-1] {
			ticks = append(ticks, plot.Tick{Value: k, Label: fmt.Sprint(k)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Headroom above the highest point and half a step either side of K
	// so no point sits on the frame.
	p.Y.Min, p.Y.Max = 0, top*1.15
	p.X.Min, p.X.Max = ks[0]/1.6, ks[len(ks)-1]*1.6
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Left = true
	names := make([]string, 0, len(lines))
	for n := range lines {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return serverOrder(names[i]) < serverOrder(names[j]) })
	for i, name := range names {
		xy := lines[name]
		sort.Slice(xy, func(a, b int) bool { return xy[a].X < xy[b].X })
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		c := serverColor(name, i)
		l.Color, pts.Color = c, c
		l.Width = vg.Points(2)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(3)
		p.Add(l, pts)
		p.Legend.Add(name, l, pts)
	}
	if err := p.Save(8*vg.Inch, 5*vg.Inch, file); err != nil {
		return fmt.Errorf("save chart: %w", err)
	}
	return nil
}

func serverOrder(s string) int {
	switch s {
	case "switchboard":
		return 0
	case "redis":
		return 1
	case "nats":
		return 2
	}
	return 3
}
