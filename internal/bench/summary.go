package bench

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// comparison is compare.json: the medians of repeated runs per server and
// setting, written by `bench summarize` and drawn by `bench plot`.
type comparison struct {
	Generated string         `json:"generated"`
	LoadAvg   [2]float64     `json:"load_avg_1m_range"` // min and max seen by the runs
	Fanout    []fanoutMedian `json:"fanout"`
	Conns     []connsMedian  `json:"conns"`
}

// fanoutMedian summarizes the fanout runs of one server at one K.
type fanoutMedian struct {
	Server              string  `json:"server"`
	K                   int     `json:"k"`
	Runs                int     `json:"runs"`
	DeliveriesPerCPUSec float64 `json:"deliveries_per_server_cpu_second"`
	DeliveredPerSec     float64 `json:"delivered_per_sec"`
	ServerCPUSeconds    float64 `json:"server_cpu_seconds"`
	LatencyP50Ms        float64 `json:"latency_p50_ms"`
	LatencyP99Ms        float64 `json:"latency_p99_ms"`
	Lost                int64   `json:"lost"` // summed over runs
	SlowConsumers       int     `json:"slow_consumers"`
}

// connsMedian summarizes the conns runs of one server.
type connsMedian struct {
	Server         string  `json:"server"`
	Connections    int     `json:"connections"`
	Runs           int     `json:"runs"`
	KBPerConn      float64 `json:"kb_per_conn"`
	KBPerConnIdle  float64 `json:"kb_per_conn_idle"`
	IdleSeconds    float64 `json:"idle_seconds"`
	LastP50Ms      float64 `json:"broadcast_last_p50_ms"`
	LastP99Ms      float64 `json:"broadcast_last_p99_ms"`
	BroadcastsDone int     `json:"broadcasts_complete"`
	Broadcasts     int     `json:"broadcasts"`
	Lost           int64   `json:"lost"`
}

// summarizeMain implements `bench summarize --dir DIR --json F --md F`: it
// reads every run report (*.json) in DIR and writes the medians.
func summarizeMain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("summarize", flag.ContinueOnError)
	dir := fs.String("dir", "bench-results/runs", "directory of run reports (bench ... --json output, one per file)")
	jsonOut := fs.String("json", "bench-results/compare.json", "write the comparison JSON here")
	mdOut := fs.String("md", "bench-results/compare.md", "write the markdown tables here")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	cmp, err := summarize(*dir)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(cmp, "", "  ")
	if err != nil {
		return fmt.Errorf("encode comparison: %w", err)
	}
	if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write comparison: %w", err)
	}
	md := cmp.markdown()
	if err := os.WriteFile(*mdOut, []byte(md), 0o644); err != nil {
		return fmt.Errorf("write markdown: %w", err)
	}
	_, err = io.WriteString(stdout, md)
	return err
}

// summarize groups the run reports in dir and takes medians.
func summarize(dir string) (*comparison, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("bench: no run reports in %s", dir)
	}
	type key struct {
		server string
		n      int
	}
	fan := map[key][]fanoutReport{}
	con := map[key][]connsReport{}
	cmp := &comparison{Generated: time.Now().UTC().Format(time.RFC3339), LoadAvg: [2]float64{-1, 0}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read run: %w", err)
		}
		var head struct {
			Scenario string  `json:"scenario"`
			Load     float64 `json:"load_avg_1m"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return nil, fmt.Errorf("decode %s: %w", f, err)
		}
		if cmp.LoadAvg[0] < 0 || head.Load < cmp.LoadAvg[0] {
			cmp.LoadAvg[0] = head.Load
		}
		cmp.LoadAvg[1] = max(cmp.LoadAvg[1], head.Load)
		switch head.Scenario {
		case "fanout", "latency":
			var r fanoutReport
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("decode %s: %w", f, err)
			}
			k := key{r.Server, r.Subscribers}
			fan[k] = append(fan[k], r)
		case "conns":
			var r connsReport
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("decode %s: %w", f, err)
			}
			k := key{r.Server, r.Connections}
			con[k] = append(con[k], r)
		default:
			return nil, fmt.Errorf("decode %s: unknown scenario %q", f, head.Scenario)
		}
	}
	for k, runs := range fan {
		m := fanoutMedian{Server: k.server, K: k.n, Runs: len(runs)}
		col := func(get func(r *fanoutReport) float64) float64 { return medianOf(runs, get) }
		m.DeliveriesPerCPUSec = col(func(r *fanoutReport) float64 { return deref(r.DeliveriesPerCPUSec) })
		m.ServerCPUSeconds = col(func(r *fanoutReport) float64 { return deref(r.ServerCPUSeconds) })
		m.DeliveredPerSec = col(func(r *fanoutReport) float64 { return r.DeliveredPerS })
		m.LatencyP50Ms = col(func(r *fanoutReport) float64 { return r.LatencyP50Ms })
		m.LatencyP99Ms = col(func(r *fanoutReport) float64 { return r.LatencyP99Ms })
		for _, r := range runs {
			m.Lost += r.Lost
			m.SlowConsumers += r.SlowConsumers
		}
		cmp.Fanout = append(cmp.Fanout, m)
	}
	for k, runs := range con {
		m := connsMedian{Server: k.server, Connections: k.n, Runs: len(runs)}
		col := func(get func(r *connsReport) float64) float64 { return medianOf(runs, get) }
		kb := func(p *int64) float64 {
			if p == nil {
				return 0
			}
			return float64(*p) / 1024
		}
		m.KBPerConn = col(func(r *connsReport) float64 { return kb(r.BytesPerConn) })
		m.KBPerConnIdle = col(func(r *connsReport) float64 { return kb(r.BytesPerConnIdle) })
		m.IdleSeconds = col(func(r *connsReport) float64 { return r.IdleSeconds })
		m.LastP50Ms = col(func(r *connsReport) float64 { return r.LastP50Ms })
		m.LastP99Ms = col(func(r *connsReport) float64 { return r.LastP99Ms })
		for _, r := range runs {
			m.BroadcastsDone += r.BroadcastsComplete
			m.Broadcasts += r.Broadcasts
			m.Lost += r.Lost
		}
		cmp.Conns = append(cmp.Conns, m)
	}
	order := map[string]int{"switchboard": 0, "redis": 1, "nats": 2}
	sort.Slice(cmp.Fanout, func(i, j int) bool {
		a, b := cmp.Fanout[i], cmp.Fanout[j]
		if a.K != b.K {
			return a.K < b.K
		}
		return order[a.Server] < order[b.Server]
	})
	sort.Slice(cmp.Conns, func(i, j int) bool { return order[cmp.Conns[i].Server] < order[cmp.Conns[j].Server] })
	return cmp, nil
}

// median of v (mean of the middle two for an even count), 0 if empty.
// medianOf returns the median of get over runs.
func medianOf[T any](runs []T, get func(*T) float64) float64 {
	v := make([]float64, len(runs))
	for i := range runs {
		v[i] = get(&runs[i])
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// markdown renders the comparison as two tables for BENCHMARKS.md.
func (c *comparison) markdown() string {
	var b strings.Builder
	m := func(v float64) string { return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M" }
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	fmt.Fprintf(&b, "Generated %s; 1-minute load average during the runs %.2f-%.2f.\n\n", c.Generated, c.LoadAvg[0], c.LoadAvg[1])
	if len(c.Fanout) > 0 {
		b.WriteString("### fanout (median of runs)\n\n")
		b.WriteString("| K | server | runs | deliveries / server CPU-s | delivered / s | server CPU s | p50 ms | p99 ms | lost | slow consumers |\n")
		b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range c.Fanout {
			fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s | %s | %s | %d | %d |\n", r.K, r.Server, r.Runs,
				m(r.DeliveriesPerCPUSec), m(r.DeliveredPerSec), f(r.ServerCPUSeconds, 2), f(r.LatencyP50Ms, 2), f(r.LatencyP99Ms, 2), r.Lost, r.SlowConsumers)
		}
		b.WriteString("\n")
	}
	if len(c.Conns) > 0 {
		b.WriteString("### conns: idle subscribed connections, then broadcasts\n\n")
		b.WriteString("| server | connections | KB/conn (+settle) | KB/conn (idle) | idle s | last receiver p50 ms | p99 ms | broadcasts | lost |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range c.Conns {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %d/%d | %d |\n", r.Server, r.Connections,
				f(r.KBPerConn, 2), f(r.KBPerConnIdle, 2), f(r.IdleSeconds, 0), f(r.LastP50Ms, 1), f(r.LastP99Ms, 1), r.BroadcastsDone, r.Broadcasts, r.Lost)
		}
	}
	return b.String()
}

// errNoFanout is returned by plot when compare.json has no fanout rows.
var errNoFanout = errors.New("bench: no fanout results to plot")
