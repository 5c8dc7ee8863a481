package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarizeAndPlot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	if err := os.Mkdir(runs, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(runs, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, server := range []string{"switchboard", "redis", "nats"} {
		for _, k := range []int{1, 10, 100} {
			for i, v := range []float64{3e6, 1e6, 2e6} { // median 2e6
				cpu := v * float64(k)
				r := fanoutReport{Scenario: "fanout", Server: server, Subscribers: k, DeliveredPerS: v, Lost: 1}
				r.DeliveriesPerCPUSec = &cpu
				write(fmt.Sprintf("fanout-%s-%d-%d.json", server, k, i), r)
			}
		}
		per := int64(4096)
		write("conns-"+server+".json", connsReport{Scenario: "conns", Server: server, Connections: 100,
			BytesPerConn: &per, BytesPerConnIdle: &per, Broadcasts: 5, BroadcastsComplete: 5, LastP50Ms: 1, LastP99Ms: 2})
	}
	jsonOut, mdOut, png := filepath.Join(dir, "compare.json"), filepath.Join(dir, "compare.md"), filepath.Join(dir, "fanout.png")
	ctx := context.Background()
	var stdout bytes.Buffer
	if err := Main(ctx, []string{"summarize", "--dir", runs, "--json", jsonOut, "--md", mdOut}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	var cmp comparison
	b, err := os.ReadFile(jsonOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cmp); err != nil {
		t.Fatal(err)
	}
	if len(cmp.Fanout) != 9 || len(cmp.Conns) != 3 {
		t.Fatalf("got %d fanout and %d conns rows", len(cmp.Fanout), len(cmp.Conns))
	}
	for _, r := range cmp.Fanout {
		if r.Runs != 3 || r.DeliveredPerSec != 2e6 || r.DeliveriesPerCPUSec != 2e6*float64(r.K) || r.Lost != 3 {
			t.Errorf("median row %+v", r)
		}
	}
	if cmp.Fanout[0].Server != "switchboard" || cmp.Fanout[0].K != 1 || cmp.Conns[0].KBPerConn != 4 {
		t.Errorf("order or units wrong: %+v %+v", cmp.Fanout[0], cmp.Conns[0])
	}
	md, _ := os.ReadFile(mdOut)
	if !strings.Contains(string(md), "| 100 | nats | 3 | 200.00M |") {
		t.Errorf("markdown lacks the K=100 nats row:\n%s", md)
	}
	if err := Main(ctx, []string{"plot", "--in", jsonOut, "--out", png}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(img, []byte("\x89PNG")) {
		t.Errorf("plot did not write a PNG: %v", err)
	}
	if err := Main(ctx, []string{"summarize", "--dir", filepath.Join(dir, "none")}, io.Discard, io.Discard); err == nil {
		t.Error("summarize of an empty directory succeeded")
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 2, 3}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
