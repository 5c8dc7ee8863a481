package bench

import (
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
