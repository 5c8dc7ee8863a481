package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// maxSweepPoints bounds a sweep so that a typo cannot start hours of load.
const maxSweepPoints = 64

// minSweepPublishes is the fewest messages a paced sweep point must
// publish in its duration to be run at all: below it, the latency
// percentiles and CPU figures would be noise.
const minSweepPublishes = 20

// intList is a flag holding a comma-separated list of positive integers
// ("1,10,100"); a single number is a list of one.
type intList []int

// parseIntList parses "1,10,100" (spaces around items allowed, no empty
// items, each in lo..hi).
func parseIntList(s string, lo, hi int) (intList, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty list")
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxSweepPoints {
		return nil, fmt.Errorf("%d items, at most %d", len(parts), maxSweepPoints)
	}
	out := make(intList, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("bad item %q: not an integer", p)
		}
		if n < lo || n > hi {
			return nil, fmt.Errorf("bad item %d: not in %d..%d", n, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

// intListFlag adapts an intList to flag.Value, each item in lo..hi.
type intListFlag struct {
	l      *intList
	lo, hi int
}

func (f intListFlag) String() string {
	if f.l == nil {
		return ""
	}
	s := make([]string, len(*f.l))
	for i, n := range *f.l {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (f intListFlag) Set(s string) error {
	l, err := parseIntList(s, f.lo, f.hi)
	if err != nil {
		return err
	}
	*f.l = l
	return nil
}

// sweepPoint is one planned run of a sweep.
type sweepPoint struct {
	subs       int
	deliveries int     // paced: target deliveries/s; 0 when unpaced
	rate       float64 // paced: publish rate = deliveries / subs
	batch      int     // unpaced: publish commands per write
	window     int     // unpaced: messages in flight per subscriber
	skip       string  // why the point is not run, "" to run it
}

// pacedPlan lists the points of a paced sweep: every K with every target
// deliveries/s, publishing at deliveries/K msgs/s. A point whose duration
// would carry fewer than minSweepPublishes messages is kept, marked skip.
func pacedPlan(ks, deliveries intList, d time.Duration) []sweepPoint {
	var out []sweepPoint
	for _, k := range ks {
		for _, dl := range deliveries {
			p := sweepPoint{subs: k, deliveries: dl, rate: float64(dl) / float64(k)}
			if n := p.rate * d.Seconds(); n < minSweepPublishes {
				p.skip = fmt.Sprintf("%.1f publishes in %v, fewer than %d", n, d, minSweepPublishes)
			}
			out = append(out, p)
		}
	}
	return out
}

// unpacedPlan lists the points of an unpaced sweep: every K with every
// batch and window; a batch above its window is the same run as
// batch = window and is dropped.
func unpacedPlan(ks, batches, windows intList) []sweepPoint {
	var out []sweepPoint
	for _, k := range ks {
		for _, w := range windows {
			for _, b := range batches {
				if b > w {
					continue
				}
				out = append(out, sweepPoint{subs: k, batch: b, window: w})
			}
		}
	}
	return out
}

// sweepRow is one point's line of a sweep report.
type sweepRow struct {
	Subscribers       int           `json:"subscribers"`
	DeliveriesTarget  int           `json:"deliveries_target_per_sec,omitempty"`
	RateTarget        float64       `json:"rate_target_per_sec,omitempty"`
	Batch             int           `json:"batch,omitempty"`
	Window            int           `json:"window,omitempty"`
	Skipped           string        `json:"skipped,omitempty"`
	Error             string        `json:"error,omitempty"`
	Best              bool          `json:"best,omitempty"`
	Report            *fanoutReport `json:"report,omitempty"`
	ServerCoresUsed   *float64      `json:"server_cores"`
	ClientCoresUsed   *float64      `json:"client_cores"`
	DeliveriesPerCPUs *float64      `json:"deliveries_per_server_cpu_second"`
}

// sweepReport is the report of a sweep: one row per point.
type sweepReport struct {
	Scenario string     `json:"scenario"`
	Target   string     `json:"target"`
	Server   string     `json:"server"`
	Schedule string     `json:"schedule"`
	Rows     []sweepRow `json:"points"`
}

// markBest flags, for each K, the unpaced row with the most deliveries per
// server CPU-second (the server at its best pipelining).
func markBest(rows []sweepRow) {
	best := map[int]int{}
	for i, r := range rows {
		if r.DeliveriesPerCPUs == nil {
			continue
		}
		j, ok := best[r.Subscribers]
		if !ok || *r.DeliveriesPerCPUs > *rows[j].DeliveriesPerCPUs {
			best[r.Subscribers] = i
		}
	}
	for _, i := range best {
		rows[i].Best = true
	}
}

// runSweep runs every point of plan with o as the template, each bounded
// by o's duration, drain and timeout, and returns one row per point. A
// failed point is reported in its row and does not stop the sweep.
func runSweep(ctx context.Context, o *fanoutOpts, plan []sweepPoint, stderr io.Writer) *sweepReport {
	rep := &sweepReport{Scenario: o.scenario + " sweep", Target: o.common.target.String(), Server: o.common.target.proto.name()}
	if o.scenario == "latency" {
		rep.Schedule = "open loop at a fixed rate; latency measured from each message's scheduled send time (coordinated-omission-safe)"
	} else {
		rep.Schedule = "closed loop: as fast as batch and window allow; best = most deliveries per server CPU-second for its K"
	}
	for _, p := range plan {
		row := sweepRow{Subscribers: p.subs, DeliveriesTarget: p.deliveries, RateTarget: p.rate, Batch: p.batch, Window: p.window, Skipped: p.skip}
		if p.skip == "" && ctx.Err() == nil {
			po := *o
			po.subs = p.subs
			if o.scenario == "latency" {
				po.rate = p.rate
			} else {
				po.batch, po.window = p.batch, p.window
			}
			if !o.common.noProgress {
				fmt.Fprintf(stderr, "bench: sweep point K=%d rate=%.4g batch=%d window=%d\n", po.subs, po.rate, po.batch, po.window)
			}
			r, err := runFanout(ctx, &po, io.Discard)
			if err != nil {
				row.Error = err.Error()
			} else {
				row.Report = r
				row.ServerCoresUsed, row.ClientCoresUsed, row.DeliveriesPerCPUs = r.ServerCores, r.ClientCores, r.DeliveriesPerCPUSec
			}
		} else if p.skip == "" {
			row.Error = ctx.Err().Error()
		}
		rep.Rows = append(rep.Rows, row)
	}
	if o.scenario != "latency" {
		markBest(rep.Rows)
	}
	return rep
}

// optFloat formats an optional figure, "-" when unknown.
func optFloat(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	if prec < 0 {
		return fmtRate(*v)
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}

// writeSweep prints rep as JSON or as one table row per point.
func writeSweep(w io.Writer, asJSON bool, rep *sweepReport) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write json sweep: %w", err)
		}
		return nil
	}
	fmt.Fprintf(w, "%s against %s (%s)\n%s\n", rep.Scenario, rep.Target, rep.Server, rep.Schedule)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	paced := rep.Scenario == "latency sweep"
	if paced {
		fmt.Fprint(tw, "K\tdeliv/s target\tmsgs/s\tdelivered/s\tlost\tserver cores\tdeliv/server-cpu-s\tclient cores\tp50 ms\tp99 ms\tp99.9 ms\t\n")
	} else {
		fmt.Fprint(tw, "K\tbatch\twindow\tdelivered/s\tlost\tserver cores\tdeliv/server-cpu-s\tclient cores\tp50 ms\tp99 ms\tbest\t\n")
	}
	for _, r := range rep.Rows {
		lead := strconv.Itoa(r.Subscribers) + "\t"
		if paced {
			lead += fmtInt(int64(r.DeliveriesTarget)) + "\t" + strconv.FormatFloat(r.RateTarget, 'g', 4, 64) + "\t"
		} else {
			lead += strconv.Itoa(r.Batch) + "\t" + fmtInt(int64(r.Window)) + "\t"
		}
		switch {
		case r.Skipped != "":
			fmt.Fprintf(tw, "%sskipped: %s\t\t\t\t\t\t\t\t\n", lead, r.Skipped)
			continue
		case r.Report == nil:
			fmt.Fprintf(tw, "%sfailed: %s\t\t\t\t\t\t\t\t\n", lead, r.Error)
			continue
		}
		f := r.Report
		tail := fmtMs(f.LatencyP999Ms)
		if !paced {
			tail = ""
			if r.Best {
				tail = "*"
			}
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", lead, fmtRate(f.DeliveredPerS), fmtInt(f.Lost),
			optFloat(r.ServerCoresUsed, 3), optFloat(r.DeliveriesPerCPUs, -1), optFloat(r.ClientCoresUsed, 3),
			fmtMs(f.LatencyP50Ms), fmtMs(f.LatencyP99Ms), tail)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write sweep: %w", err)
	}
	return nil
}
