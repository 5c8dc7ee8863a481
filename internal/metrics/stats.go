package metrics

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// Stats is the JSON document of GET /api/stats: the Go runtime, the hub and
// the sessions, one snapshot. Field names are a contract (the dashboard and
// `switchboard stress` read them); add, don't rename.
type Stats struct {
	TimeMS          int64        `json:"time_ms"`
	UptimeSeconds   float64      `json:"uptime_seconds"`
	Connections     int          `json:"connections"`       // live sessions, all doors
	ProcessRSSBytes uint64       `json:"process_rss_bytes"` // VmRSS from /proc/self/status; 0 if unknown
	Runtime         RuntimeStats `json:"runtime"`
	Hub             HubStats     `json:"hub"`
	Sessions        SessionStats `json:"sessions"`
	Rates           RateStats    `json:"rates"`
	Cluster         any          `json:"cluster,omitempty"`
	// History holds the last minutes of one-second samples, oldest
	// first, when asked for with ?history=1.
	History []Stats `json:"history,omitempty"`
}

// RuntimeStats is the Go runtime part of Stats, from runtime/metrics.
type RuntimeStats struct {
	GoVersion          string  `json:"go_version"`
	NumCPU             int     `json:"num_cpu"`
	GOMAXPROCS         int     `json:"gomaxprocs"`
	Goroutines         int     `json:"goroutines"`
	GoroutinesRunning  int     `json:"goroutines_running"`
	GoroutinesRunnable int     `json:"goroutines_runnable"`
	GoroutinesWaiting  int     `json:"goroutines_waiting"`
	GoroutinesNotInGo  int     `json:"goroutines_not_in_go"` // in system calls or cgo
	GoroutinesCreated  uint64  `json:"goroutines_created"`
	Threads            int     `json:"threads"` // OS threads (Ms) of the runtime
	HeapInuseBytes     uint64  `json:"heap_inuse_bytes"`
	HeapGoalBytes      uint64  `json:"heap_goal_bytes"`
	StackBytes         uint64  `json:"stack_bytes"`
	GCCycles           uint64  `json:"gc_cycles"`
	GCPauseP99Seconds  float64 `json:"gc_pause_p99_seconds"`      // over the last minute
	SchedLatencyP50    float64 `json:"sched_latency_p50_seconds"` // over the last 10 s
	SchedLatencyP99    float64 `json:"sched_latency_p99_seconds"` // over the last 10 s
}

// HubStats is the hub part of Stats.
type HubStats struct {
	Clients       int    `json:"clients"`
	Rooms         int    `json:"rooms"`
	Subscriptions int    `json:"subscriptions"`
	Topics        int    `json:"topics"`
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
}

// SessionStats is the session registry part of Stats.
type SessionStats struct {
	ByDoor        map[string]int `json:"by_door"`
	Accepted      uint64         `json:"accepted"`
	Rejected      uint64         `json:"rejected"`
	Published     uint64         `json:"published"`
	Delivered     uint64         `json:"delivered"`
	BytesOut      uint64         `json:"bytes_out"`
	Writes        uint64         `json:"writes"`     // write system calls (writev on TCP)
	FramesOut     uint64         `json:"frames_out"` // frames written; frames_out/writes = coalescing
	SlowConsumers uint64         `json:"slow_consumers"`
	RateLimited   uint64         `json:"rate_limited"`
	WriteErrors   uint64         `json:"write_errors"`
	QueuedBytes   int            `json:"queued_bytes"`
}

// RateStats are per-second rates over the last sampling interval.
type RateStats struct {
	MessagesInPerSec  float64 `json:"messages_in_per_sec"`
	MessagesOutPerSec float64 `json:"messages_out_per_sec"`
	BytesOutPerSec    float64 `json:"bytes_out_per_sec"`
}

// runtime/metrics names read for Stats.
var metricNames = []string{
	"/sched/goroutines:goroutines",
	"/sched/goroutines/running:goroutines",
	"/sched/goroutines/runnable:goroutines",
	"/sched/goroutines/waiting:goroutines",
	"/sched/goroutines/not-in-go:goroutines",
	"/sched/goroutines-created:goroutines",
	"/sched/threads/total:threads",
	"/sched/gomaxprocs:threads",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/gc/heap/goal:bytes",
	"/gc/cycles/total:gc-cycles",
	"/sched/latencies:seconds",
	"/sched/pauses/total/gc:seconds",
}

// hists are the cumulative histograms of one sample.
type hists struct {
	sched, gcPause *metrics.Float64Histogram
}

const (
	schedWindow = 10 // samples (seconds) for scheduler latency percentiles
	gcWindow    = 60 // samples for GC pause percentiles
)

// sampler takes a snapshot every second for the dashboard's charts and
// rates. It is safe for concurrent use.
type sampler struct {
	hub     *hub.Hub
	reg     *session.Registry
	cluster func() any // may be nil
	start   time.Time
	size    int

	mu    sync.Mutex // guards ring and hist
	ring  []Stats    // oldest first, at most size
	hist  []hists    // oldest first, at most gcWindow+1
	procs int        // cached NumCPU
}

func newSampler(h *hub.Hub, reg *session.Registry, cluster func() any, size int) *sampler {
	return &sampler{hub: h, reg: reg, cluster: cluster, start: time.Now(), size: size, procs: runtime.NumCPU()}
}

// run samples every second until quit is closed.
func (p *sampler) run(quit <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	p.sample()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
			p.sample()
		}
	}
}

// sample takes one snapshot, computes rates and windowed percentiles
// against the previous ones, and appends it to the ring.
func (p *sampler) sample() {
	st, h := p.snapshot()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hist = append(p.hist, h)
	if len(p.hist) > gcWindow+1 {
		p.hist = append(p.hist[:0], p.hist[len(p.hist)-gcWindow-1:]...)
	}
	p.percentilesLocked(&st)
	if n := len(p.ring); n > 0 {
		prev := p.ring[n-1]
		if dt := float64(st.TimeMS-prev.TimeMS) / 1000; dt > 0 {
			st.Rates.MessagesInPerSec = float64(st.Hub.Published-prev.Hub.Published) / dt
			st.Rates.MessagesOutPerSec = float64(st.Hub.Delivered-prev.Hub.Delivered) / dt
			st.Rates.BytesOutPerSec = float64(st.Sessions.BytesOut-prev.Sessions.BytesOut) / dt
		}
	}
	p.ring = append(p.ring, st)
	if len(p.ring) > p.size {
		p.ring = append(p.ring[:0], p.ring[len(p.ring)-p.size:]...)
	}
}

// percentilesLocked fills the windowed percentiles of st from the
// histogram ring. Caller holds p.mu.
func (p *sampler) percentilesLocked(st *Stats) {
	n := len(p.hist)
	if n == 0 {
		return
	}
	last := p.hist[n-1]
	first := p.hist[max(0, n-1-schedWindow)]
	if n == 1 {
		first = hists{}
	}
	st.Runtime.SchedLatencyP50 = quantile(last.sched, first.sched, 0.50)
	st.Runtime.SchedLatencyP99 = quantile(last.sched, first.sched, 0.99)
	first = p.hist[0]
	if n == 1 {
		first = hists{}
	}
	st.Runtime.GCPauseP99Seconds = quantile(last.gcPause, first.gcPause, 0.99)
}

// current returns a fresh snapshot with the rates and percentiles of the
// latest sample, and the history if asked for.
func (p *sampler) current(history bool) Stats {
	st, h := p.snapshot()
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.ring); n > 0 {
		last := p.ring[n-1]
		st.Rates = last.Rates
		st.Runtime.SchedLatencyP50 = last.Runtime.SchedLatencyP50
		st.Runtime.SchedLatencyP99 = last.Runtime.SchedLatencyP99
		st.Runtime.GCPauseP99Seconds = last.Runtime.GCPauseP99Seconds
	} else {
		st.Runtime.SchedLatencyP50 = quantile(h.sched, nil, 0.50)
		st.Runtime.SchedLatencyP99 = quantile(h.sched, nil, 0.99)
		st.Runtime.GCPauseP99Seconds = quantile(h.gcPause, nil, 0.99)
	}
	if history {
		st.History = append([]Stats(nil), p.ring...)
	}
	if p.cluster != nil {
		st.Cluster = p.cluster()
	}
	return st
}

// snapshot reads every source once, without rates or percentiles.
func (p *sampler) snapshot() (Stats, hists) {
	now := time.Now()
	st := Stats{TimeMS: now.UnixMilli(), UptimeSeconds: now.Sub(p.start).Seconds()}
	samples := make([]metrics.Sample, len(metricNames))
	for i, n := range metricNames {
		samples[i].Name = n
	}
	metrics.Read(samples)
	u := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	hist := func(i int) *metrics.Float64Histogram {
		if samples[i].Value.Kind() == metrics.KindFloat64Histogram {
			return samples[i].Value.Float64Histogram()
		}
		return nil
	}
	st.Runtime = RuntimeStats{
		GoVersion:          runtime.Version(),
		NumCPU:             p.procs,
		Goroutines:         int(u(0)),
		GoroutinesRunning:  int(u(1)),
		GoroutinesRunnable: int(u(2)),
		GoroutinesWaiting:  int(u(3)),
		GoroutinesNotInGo:  int(u(4)),
		GoroutinesCreated:  u(5),
		Threads:            int(u(6)),
		GOMAXPROCS:         int(u(7)),
		HeapInuseBytes:     u(8) + u(9),
		StackBytes:         u(10),
		HeapGoalBytes:      u(11),
		GCCycles:           u(12),
	}
	if st.Runtime.Goroutines == 0 {
		st.Runtime.Goroutines = runtime.NumGoroutine()
	}
	if st.Runtime.GOMAXPROCS == 0 {
		st.Runtime.GOMAXPROCS = runtime.GOMAXPROCS(0)
	}
	h := hists{sched: hist(13), gcPause: hist(14)}

	hs := p.hub.Stats()
	st.Hub = HubStats{Clients: hs.Clients, Rooms: hs.Rooms, Subscriptions: hs.Subscriptions, Topics: hs.Topics, Published: hs.Published, Delivered: hs.Delivered}
	rs := p.reg.Stats()
	st.Sessions = SessionStats{
		ByDoor: rs.SessionsByDoor, Accepted: rs.Accepted, Rejected: rs.Rejected,
		Published: rs.Published, Delivered: rs.Delivered, BytesOut: rs.BytesOut,
		Writes: rs.Writes, FramesOut: rs.FramesOut,
		SlowConsumers: rs.SlowConsumers, RateLimited: rs.RateLimited,
		WriteErrors: rs.WriteErrors, QueuedBytes: rs.QueuedBytes,
	}
	for _, d := range []string{"tcp", "ws", "sse"} {
		if _, ok := st.Sessions.ByDoor[d]; !ok {
			st.Sessions.ByDoor[d] = 0
		}
	}
	st.Connections = rs.Sessions
	st.ProcessRSSBytes = readRSS()
	return st, h
}

// quantile returns the q-quantile of the observations in cur that are not
// in old (old may be nil: everything since start), as the upper bound of
// the bucket it falls in, or 0 when there are none.
func quantile(cur, old *metrics.Float64Histogram, q float64) float64 {
	if cur == nil {
		return 0
	}
	counts := make([]uint64, len(cur.Counts))
	var total uint64
	for i, c := range cur.Counts {
		if old != nil && len(old.Counts) == len(cur.Counts) {
			c -= old.Counts[i]
		}
		counts[i] = c
		total += c
	}
	if total == 0 {
		return 0
	}
	target := uint64(math.Ceil(q * float64(total)))
	var acc uint64
	for i, c := range counts {
		acc += c
		if acc >= target {
			hi := cur.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = cur.Buckets[i]
			}
			return hi
		}
	}
	return 0
}

// readRSS returns the resident set size from /proc/self/status, or 0 where
// there is no such file.
func readRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Bytes()
		if rest, ok := bytes.CutPrefix(l, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseUint(string(f[0]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
