package metrics

import (
	"encoding/json"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"sort"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCollector(t *testing.T, cfg Config) *Collector {
	t.Helper()
	h := hub.New(hub.Config{})
	c, err := New(h, session.NewRegistry(h, session.Limits{}), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMetricNames: every metric docs/web.md lists for the hub and the
// sessions is registered, with the Go runtime and process collectors.
func TestMetricNames(t *testing.T) {
	t.Parallel()
	c := newCollector(t, Config{})
	mfs, err := c.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	for _, name := range []string{
		"switchboard_session_connections", "switchboard_session_accepted_connections_total",
		"switchboard_session_rejected_connections_total", "switchboard_session_published_messages_total",
		"switchboard_session_delivered_messages_total", "switchboard_session_sent_bytes_total",
		"switchboard_session_writes_total", "switchboard_session_sent_frames_total",
		"switchboard_session_slow_consumers_total", "switchboard_session_rate_limited_messages_total",
		"switchboard_session_write_errors_total", "switchboard_session_queued_bytes",
		"switchboard_hub_clients", "switchboard_hub_rooms", "switchboard_hub_subscriptions",
		"switchboard_hub_topics", "switchboard_hub_published_messages_total", "switchboard_hub_delivered_messages_total",
		"go_goroutines", "go_sched_latencies_seconds", "process_resident_memory_bytes",
	} {
		if got[name] == nil {
			t.Errorf("metric %s not registered", name)
		}
	}
	var doors []string
	for _, m := range got["switchboard_session_connections"].GetMetric() {
		for _, l := range m.GetLabel() {
			doors = append(doors, l.GetName()+"="+l.GetValue())
		}
	}
	sort.Strings(doors)
	if want := []string{"door=sse", "door=tcp", "door=ws"}; !slices.Equal(doors, want) {
		t.Errorf("connections labels %v, want %v", doors, want)
	}
}

// jsonKeys lists the keys of a JSON object, nested objects as a.b.
func jsonKeys(prefix string, v map[string]any, out *[]string) {
	for k, x := range v {
		*out = append(*out, prefix+k)
		if m, ok := x.(map[string]any); ok && k != "by_door" {
			jsonKeys(prefix+k+".", m, out)
		}
	}
}

// TestStatsShape: /api/stats's JSON has exactly the documented fields
// (docs/web.md); the dashboard and `switchboard stress` read them.
func TestStatsShape(t *testing.T) {
	t.Parallel()
	c := newCollector(t, Config{ClusterStatus: func() any { return map[string]int{"peers": 2} }})
	b, err := json.Marshal(c.Stats(false))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var keys []string
	jsonKeys("", doc, &keys)
	sort.Strings(keys)
	want := []string{
		"cluster", "cluster.peers", "connections", "hub", "hub.clients", "hub.delivered", "hub.published", "hub.rooms",
		"hub.subscriptions", "hub.topics", "process_rss_bytes", "rates", "rates.bytes_out_per_sec",
		"rates.messages_in_per_sec", "rates.messages_out_per_sec", "runtime", "runtime.gc_cycles",
		"runtime.gc_pause_p99_seconds", "runtime.go_version", "runtime.gomaxprocs", "runtime.goroutines",
		"runtime.goroutines_created", "runtime.goroutines_not_in_go", "runtime.goroutines_runnable",
		"runtime.goroutines_running", "runtime.goroutines_waiting", "runtime.heap_goal_bytes",
		"runtime.heap_inuse_bytes", "runtime.num_cpu", "runtime.sched_latency_p50_seconds",
		"runtime.sched_latency_p99_seconds", "runtime.stack_bytes", "runtime.threads", "sessions",
		"sessions.accepted", "sessions.by_door", "sessions.bytes_out", "sessions.delivered", "sessions.frames_out",
		"sessions.published", "sessions.queued_bytes", "sessions.rate_limited", "sessions.rejected",
		"sessions.slow_consumers", "sessions.write_errors", "sessions.writes", "time_ms", "uptime_seconds",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("stats keys\n%v\nwant\n%v", keys, want)
	}
	if doc["runtime"].(map[string]any)["goroutines"].(float64) < 1 {
		t.Errorf("no goroutines counted: %s", b)
	}
	if runtime.GOOS == "linux" && doc["process_rss_bytes"].(float64) <= 0 {
		t.Errorf("no RSS read from /proc: %s", b)
	}
}

// TestRunSamples: Run takes a sample at once and keeps them for history;
// closing quit ends it.
func TestRunSamples(t *testing.T) {
	t.Parallel()
	c := newCollector(t, Config{History: 2})
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); c.Run(quit) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.Stats(true).History) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(c.Stats(true).History); n != 2 {
		t.Errorf("history holds %d samples, want the bound 2", n)
	}
	c.Run(quit) // a second Run returns at once
	close(quit)
	<-done
	if h := c.Stats(false).History; h != nil {
		t.Errorf("history without asking: %d samples", len(h))
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	h := func(counts ...uint64) *metrics.Float64Histogram {
		b := []float64{0, 1, 2, 3, math.Inf(1)}
		return &metrics.Float64Histogram{Counts: counts, Buckets: b}
	}
	tests := []struct {
		name     string
		cur, old *metrics.Float64Histogram
		q, want  float64
	}{
		{"nil", nil, nil, 0.5, 0},
		{"empty", h(0, 0, 0, 0), nil, 0.99, 0},
		{"median in second bucket", h(1, 2, 1, 0), nil, 0.5, 2},
		{"p99 in last finite bucket", h(1, 2, 1, 0), nil, 0.99, 3},
		{"window subtracts old", h(5, 2, 1, 0), h(5, 0, 0, 0), 0.5, 2},
		{"infinite bucket reports its lower bound", h(0, 0, 0, 4), nil, 0.5, 3},
	}
	for _, tt := range tests {
		if got := quantile(tt.cur, tt.old, tt.q); got != tt.want {
			t.Errorf("%s: quantile = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadRSS(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		if readRSS() != 0 {
			t.Error("RSS without /proc")
		}
		return
	}
	if rss := readRSS(); rss < 1<<20 || rss > 1<<40 {
		t.Errorf("RSS %d bytes is implausible", rss)
	}
}
