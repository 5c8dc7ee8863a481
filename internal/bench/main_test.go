package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startServer runs an in-process switchboard server on a free loopback port
// and shuts it down when the test ends.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return srv.TCPAddr()
}

// runJSON runs Main with --json appended and decodes the one JSON object
// it prints, also into raw so tests can check field names.
func runJSON(t *testing.T, out any, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := Main(ctx, append(args, "--json"), &stdout, &stderr); err != nil {
		t.Fatalf("Main(%q): %v\nstderr: %s", args, err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	return raw
}

func requireFields(t *testing.T, raw map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, ok := raw[n]; !ok {
			t.Errorf("JSON report lacks %q", n)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }

// checkLatency asserts the latency figures are monotone.
func checkLatency(t *testing.T, l latencyFigures, samples int64) {
	t.Helper()
	if l.LatencySamples != samples {
		t.Errorf("latency samples = %d, want %d", l.LatencySamples, samples)
	}
	seq := []float64{l.LatencyMinMs, l.LatencyP50Ms, l.LatencyP90Ms, l.LatencyP99Ms, l.LatencyP999Ms, l.LatencyMaxMs}
	for i := 1; i < len(seq); i++ {
		if seq[i] < seq[i-1] {
			t.Errorf("latency not monotone: min,p50,p90,p99,p99.9,max = %v", seq)
			break
		}
	}
	if l.LatencyMinMs < 0 || l.LatencyMeanMs < l.LatencyMinMs || l.LatencyMeanMs > l.LatencyMaxMs {
		t.Errorf("latency mean %v outside [min %v, max %v]", l.LatencyMeanMs, l.LatencyMinMs, l.LatencyMaxMs)
	}
}

// checkServer asserts server figures are present and sane for an
// in-process server.
func checkServer(t *testing.T, s serverFigures) {
	t.Helper()
	if s.ServerPID == 0 || !s.ServerInProcess {
		t.Errorf("in-process server not found: pid %d, in process %v", s.ServerPID, s.ServerInProcess)
	}
	if s.ServerCPUSeconds == nil || *s.ServerCPUSeconds < 0 {
		t.Errorf("server cpu seconds = %v, want >= 0", s.ServerCPUSeconds)
	}
	if s.ServerRSSBytes == nil || *s.ServerRSSBytes <= 0 {
		t.Errorf("server rss = %v, want > 0", s.ServerRSSBytes)
	}
}

func TestFanoutCountConsistent(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var rep fanoutReport
	raw := runJSON(t, &rep, "fanout", "--target", addr, "-k", "8", "-p", "2", "--count", "400",
		"--size", "100", "--no-progress", "--drain", "20s")
	requireFields(t, raw, "delivered_per_sec", "published_per_sec", "lost", "latency_p50_ms",
		"latency_p90_ms", "latency_p99_ms", "latency_p99_9_ms", "latency_max_ms",
		"server_cpu_seconds", "deliveries_per_server_cpu_second", "server_rss_bytes",
		"published", "delivered", "expected", "elapsed_seconds", "publish_seconds")
	if rep.Published != 400 {
		t.Errorf("published = %d, want 400", rep.Published)
	}
	if rep.Expected != rep.Published*8 {
		t.Errorf("expected = %d, want published*K = %d", rep.Expected, rep.Published*8)
	}
	if rep.Lost != 0 || rep.SlowConsumers != 0 || rep.Disconnected != 0 || rep.Gaps != 0 || rep.OutOfOrder != 0 || rep.Malformed != 0 {
		t.Fatalf("unexpected loss on an idle loopback: %+v", rep)
	}
	if rep.Delivered != rep.Published*8 {
		t.Errorf("delivered = %d, want published*K = %d", rep.Delivered, rep.Published*8)
	}
	if rep.Delivered+rep.Lost != rep.Expected {
		t.Errorf("delivered %d + lost %d != expected %d", rep.Delivered, rep.Lost, rep.Expected)
	}
	if rep.PublishSeconds <= 0 || rep.ElapsedSeconds < rep.PublishSeconds {
		t.Errorf("publish %v s, elapsed %v s: want 0 < publish <= elapsed", rep.PublishSeconds, rep.ElapsedSeconds)
	}
	if !near(rep.PublishedPerS, float64(rep.Published)/rep.PublishSeconds) {
		t.Errorf("published/s %v != published/publish_seconds %v", rep.PublishedPerS, float64(rep.Published)/rep.PublishSeconds)
	}
	if !near(rep.DeliveredPerS, float64(rep.Delivered)/rep.ElapsedSeconds) {
		t.Errorf("delivered/s %v != delivered/elapsed_seconds %v", rep.DeliveredPerS, float64(rep.Delivered)/rep.ElapsedSeconds)
	}
	checkLatency(t, rep.latencyFigures, rep.Delivered)
	checkServer(t, rep.serverFigures)
	if rep.DeliveriesPerCPUSec != nil && !near(*rep.DeliveriesPerCPUSec, float64(rep.Delivered) / *rep.ServerCPUSeconds) {
		t.Errorf("deliveries per cpu-second %v != delivered/cpu %v", *rep.DeliveriesPerCPUSec, float64(rep.Delivered) / *rep.ServerCPUSeconds)
	}
	if rep.Server != "switchboard" || rep.Subscribers != 8 || rep.Publishers != 2 || rep.PayloadBytes != 100 {
		t.Errorf("report echoes the wrong setup: %+v", rep)
	}
}

func TestFanoutDurationAndRate(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var rep fanoutReport
	runJSON(t, &rep, "fanout", "--target", "tcp://"+addr, "-k", "5", "--duration", "500ms", "--rate", "400", "--no-progress")
	// At 400 msgs/s for half a second the publisher sends the 200
	// messages scheduled in that time, fewer only if the machine is so
	// busy that it falls behind by more than the grace period.
	if rep.Published < 1 || rep.Published > 200 {
		t.Errorf("published = %d at 400/s for 0.5 s", rep.Published)
	}
	if rep.Lost == 0 && rep.Delivered != rep.Published*5 {
		t.Errorf("no loss but delivered %d != published*K %d", rep.Delivered, rep.Published*5)
	}
	if rep.Delivered+rep.Lost != rep.Expected {
		t.Errorf("delivered %d + lost %d != expected %d", rep.Delivered, rep.Lost, rep.Expected)
	}
	checkLatency(t, rep.latencyFigures, rep.Delivered)
}

func TestLatencyScenarioTable(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// With the progress bar on (into a buffer) to exercise it.
	err := Main(ctx, []string{"latency", "--target", addr, "-k", "3", "--rate", "1000", "--duration", "300ms"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("latency: %v\nstderr: %s", err, stderr.String())
	}
	for _, want := range []string{"latency p50 / p90 / p99", "delivered/s", "deliveries per server cpu-second", "lost", "latency histogram", "p99.9 "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestLatencyHistogramJSON(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var rep fanoutReport
	runJSON(t, &rep, "latency", "--target", addr, "-k", "2", "--rate", "2000", "--count", "200", "--no-progress")
	if rep.Window != 0 || rep.RateTarget != 2000 {
		t.Errorf("latency defaults: window %d, rate %v", rep.Window, rep.RateTarget)
	}
	d := rep.Distribution
	if len(d) == 0 || d[0].Percentile != 0 || d[len(d)-1].Percentile != 100 {
		t.Fatalf("histogram rows %+v", d)
	}
	for i := 1; i < len(d); i++ {
		if d[i].Ms < d[i-1].Ms || d[i].Percentile <= d[i-1].Percentile {
			t.Errorf("histogram not monotone at row %d: %+v", i, d)
		}
	}
	if d[len(d)-1].Ms != rep.LatencyMaxMs || d[0].Ms != rep.LatencyMinMs {
		t.Errorf("histogram ends %v..%v, min/max %v..%v", d[0].Ms, d[len(d)-1].Ms, rep.LatencyMinMs, rep.LatencyMaxMs)
	}
}

func TestConnsConsistent(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	var rep connsReport
	// Two explicit source addresses exercise the spreading used for
	// large runs.
	raw := runJSON(t, &rep, "conns", "--target", addr, "-n", "20", "-b", "5", "--settle", "10ms", "--idle", "50ms",
		"--gap", "1ms", "--no-progress", "--sources", "127.0.0.2,127.0.0.3")
	if rep.SourceAddrs != 2 || rep.Connections != 20 {
		t.Errorf("source addrs %d, connections %d", rep.SourceAddrs, rep.Connections)
	}
	requireFields(t, raw, "bytes_per_conn", "bytes_per_conn_idle", "server_rss_bytes", "broadcast_last_p50_ms",
		"broadcast_last_p99_ms", "server_cpu_seconds", "lost")
	if rep.BroadcastsComplete != 5 || rep.Lost != 0 || rep.Delivered != 100 || rep.Expected != 100 {
		t.Fatalf("broadcasts %d/5 complete, delivered %d lost %d of %d", rep.BroadcastsComplete, rep.Delivered, rep.Lost, rep.Expected)
	}
	if !(rep.LastP50Ms <= rep.LastP90Ms && rep.LastP90Ms <= rep.LastP99Ms && rep.LastP99Ms <= rep.LastMaxMs) || rep.LastP50Ms < 0 {
		t.Errorf("broadcast percentiles not monotone: %v %v %v %v", rep.LastP50Ms, rep.LastP90Ms, rep.LastP99Ms, rep.LastMaxMs)
	}
	if len(rep.LastMs) != rep.BroadcastsComplete || len(rep.LastMs) == 0 || slices.Max(rep.LastMs) != rep.LastMaxMs || slices.Min(rep.LastMs) > rep.LastP50Ms {
		t.Errorf("broadcast times %v disagree with %d complete, max %v, p50 %v", rep.LastMs, rep.BroadcastsComplete, rep.LastMaxMs, rep.LastP50Ms)
	}
	// The last receiver of a broadcast is no earlier than any receiver.
	if rep.LastMaxMs+0.001 < rep.LatencyMaxMs*0.999 {
		t.Errorf("slowest last receiver %v ms < slowest delivery %v ms", rep.LastMaxMs, rep.LatencyMaxMs)
	}
	checkLatency(t, rep.latencyFigures, rep.Delivered)
	checkServer(t, rep.serverFigures)
	if rep.BytesPerConn == nil || *rep.BytesPerConn != (*rep.RSSSubscribedBytes-*rep.RSSBeforeBytes)/20 {
		t.Errorf("bytes per conn %v inconsistent with rss before %v / subscribed %v", rep.BytesPerConn, rep.RSSBeforeBytes, rep.RSSSubscribedBytes)
	}
	if rep.BytesPerConnIdle == nil || *rep.BytesPerConnIdle != (*rep.RSSIdleBytes-*rep.RSSBeforeBytes)/20 {
		t.Errorf("idle bytes per conn %v inconsistent", rep.BytesPerConnIdle)
	}
}

// TestNoServerFailsFirst: with nothing listening, fanout and conns fail
// with the dial error and print nothing before it (no PID warnings).
func TestNoServerFailsFirst(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	for _, scenario := range []string{"fanout", "conns"} {
		var stderr bytes.Buffer
		err := Main(context.Background(), []string{scenario, "--target", addr, "--no-progress"}, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "is the server running") {
			t.Errorf("%s: err = %v, want a clear connection refused", scenario, err)
		}
		if stderr.Len() != 0 {
			t.Errorf("%s: printed %q before the error", scenario, stderr.String())
		}
	}
}

func TestUsageAndErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	for _, args := range [][]string{nil, {"help"}} {
		out.Reset()
		if err := Main(ctx, args, &out, &errOut); err != nil || !strings.Contains(out.String(), "usage: switchboard bench") {
			t.Errorf("Main(%q) = %v, usage printed: %v", args, err, strings.Contains(out.String(), "usage"))
		}
	}
	bad := [][]string{
		{"nope"},
		{"fanout", "-k", "0"},
		{"fanout", "--target", "ftp://127.0.0.1:1"},
		{"fanout", "--target", "127.0.0.1"},
		{"conns", "-n", "19001"},
		{"fanout", "extra"},
		// Nothing listens on port 1: the dial fails quickly.
		{"fanout", "--target", "127.0.0.1:1", "--no-progress", "--duration", "100ms"},
	}
	for _, args := range bad {
		if err := Main(ctx, args, io.Discard, io.Discard); err == nil {
			t.Errorf("Main(%q) succeeded, want an error", args)
		}
	}
}
