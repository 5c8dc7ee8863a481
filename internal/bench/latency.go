package bench

import (
	"strconv"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms record nanoseconds from 1ns to 60s with three
// significant digits (HDR: relative error ≤ 0.1% at every magnitude).
const (
	histMax    = int64(60e9)
	histDigits = 3
	histShards = 16
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, histMax, histDigits) }

// histSet is a sharded latency histogram. Subscribers buffer samples
// locally and add them a batch at a time to their shard, so there is no
// lock per message and no 200 KB histogram per connection.
type histSet struct {
	shards [histShards]struct {
		mu sync.Mutex // guards h
		h  *hdrhistogram.Histogram
	}
}

func newHistSet() *histSet {
	hs := &histSet{}
	for i := range hs.shards {
		hs.shards[i].h = newHist()
	}
	return hs
}

// record adds a batch of samples (nanoseconds) to shard i%histShards.
func (hs *histSet) record(i int, samples []int64) {
	s := &hs.shards[i%histShards]
	s.mu.Lock()
	for _, v := range samples {
		if v > histMax {
			v = histMax
		}
		_ = s.h.RecordValue(v)
	}
	s.mu.Unlock()
}

// merged returns one histogram of every shard.
func (hs *histSet) merged() *hdrhistogram.Histogram {
	h := newHist()
	for i := range hs.shards {
		s := &hs.shards[i]
		s.mu.Lock()
		h.Merge(s.h)
		s.mu.Unlock()
	}
	return h
}

// latencyFigures are the latency columns of a report, in milliseconds.
type latencyFigures struct {
	LatencySamples int64   `json:"latency_samples"`
	LatencyMinMs   float64 `json:"latency_min_ms"`
	LatencyMeanMs  float64 `json:"latency_mean_ms"`
	LatencyP50Ms   float64 `json:"latency_p50_ms"`
	LatencyP90Ms   float64 `json:"latency_p90_ms"`
	LatencyP99Ms   float64 `json:"latency_p99_ms"`
	LatencyP999Ms  float64 `json:"latency_p99_9_ms"`
	LatencyMaxMs   float64 `json:"latency_max_ms"`
}

// latencyOf summarizes h, whose values are nanoseconds.
func latencyOf(h *hdrhistogram.Histogram) latencyFigures {
	if h.TotalCount() == 0 {
		return latencyFigures{}
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	// Clamp to max so the reported percentiles are monotone even where
	// the histogram reports the top of a bucket above the true maximum.
	top := h.Max()
	q := func(p float64) float64 { return ms(min(h.ValueAtQuantile(p), top)) }
	return latencyFigures{
		LatencySamples: h.TotalCount(),
		LatencyMinMs:   ms(h.Min()),
		LatencyMeanMs:  h.Mean() / 1e6,
		LatencyP50Ms:   q(50),
		LatencyP90Ms:   q(90),
		LatencyP99Ms:   q(99),
		LatencyP999Ms:  q(99.9),
		LatencyMaxMs:   ms(top),
	}
}

// histogramPoint is one row of the latency distribution: the latency at or
// below which Percentile percent of the deliveries arrived.
type histogramPoint struct {
	Percentile float64 `json:"percentile"`
	Ms         float64 `json:"ms"`
}

// distributionPercentiles returns the rows of the latency scenario's
// histogram: every decade of the tail, HDR style.
func distributionPercentiles() []float64 {
	return []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100}
}

// distributionOf returns h's latency distribution in milliseconds.
func distributionOf(h *hdrhistogram.Histogram) []histogramPoint {
	if h.TotalCount() == 0 {
		return nil
	}
	top := h.Max()
	ps := distributionPercentiles()
	out := make([]histogramPoint, 0, len(ps))
	for _, p := range ps {
		v := min(h.ValueAtQuantile(p), top)
		if p == 0 {
			v = h.Min()
		}
		out = append(out, histogramPoint{Percentile: p, Ms: float64(v) / 1e6})
	}
	return out
}

// distributionRows renders a distribution as table rows with a bar scaled
// to the maximum, so the shape of the tail is visible at a glance.
func distributionRows(d []histogramPoint) []tableRow {
	if len(d) == 0 {
		return nil
	}
	top := d[len(d)-1].Ms
	rows := make([]tableRow, 0, len(d))
	for _, p := range d {
		n := 0
		if top > 0 {
			n = int(p.Ms / top * 40)
		}
		bar := ""
		for range n {
			bar += "#"
		}
		rows = append(rows, tableRow{"  p" + strconv.FormatFloat(p.Percentile, 'f', -1, 64), fmtMs(p.Ms), "ms " + bar})
	}
	return rows
}
