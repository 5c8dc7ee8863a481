package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseIntList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		lo, hi  int
		want    intList
		wantErr string
	}{
		{"1", 1, 10, intList{1}, ""},
		{"1,10,100", 1, 1000, intList{1, 10, 100}, ""},
		{" 1 , 2 ", 1, 10, intList{1, 2}, ""},
		{"0,5", 0, 10, intList{0, 5}, ""},
		{"0", 1, 10, nil, "not in 1..10"},
		{"11", 1, 10, nil, "not in 1..10"},
		{"", 1, 10, nil, "empty"},
		{"1,,2", 1, 10, nil, "not an integer"},
		{"1,x", 1, 10, nil, "not an integer"},
		{"-3", 1, 10, nil, "not in"},
		{strings.Repeat("1,", maxSweepPoints) + "1", 1, 10, nil, "at most"},
	}
	for _, tt := range tests {
		got, err := parseIntList(tt.in, tt.lo, tt.hi)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseIntList(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseIntList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseIntList(f *testing.F) {
	for _, s := range []string{"1", "1,10,100", " 2 ,3", "", ",", "0", "99999999999999999999", "1,-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := parseIntList(s, 1, 1000)
		if err != nil {
			return
		}
		if len(l) == 0 || len(l) > maxSweepPoints {
			t.Fatalf("%q: %d items", s, len(l))
		}
		for _, n := range l {
			if n < 1 || n > 1000 {
				t.Fatalf("%q: item %d out of range", s, n)
			}
		}
		// The flag's String form parses back to the same list.
		again, err := parseIntList(intListFlag{l: &l}.String(), 1, 1000)
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("%q: round trip %v, %v", s, again, err)
		}
	})
}

func TestPacedPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		ks, dl      intList
		d           time.Duration
		wantRates   []float64
		wantSkipped []bool
	}{
		{"rate is deliveries over K", intList{1, 10}, intList{100, 1000}, 3 * time.Second,
			[]float64{100, 1000, 10, 100}, []bool{false, false, false, false}},
		{"too few publishes skipped", intList{1000}, intList{100, 100000}, 3 * time.Second,
			[]float64{0.1, 100}, []bool{true, false}},
		{"boundary runs", intList{10}, intList{100}, 2 * time.Second,
			[]float64{10}, []bool{false}},
	}
	for _, tt := range tests {
		plan := pacedPlan(tt.ks, tt.dl, tt.d)
		if len(plan) != len(tt.wantRates) {
			t.Fatalf("%s: %d points, want %d", tt.name, len(plan), len(tt.wantRates))
		}
		for i, p := range plan {
			if !near(p.rate, tt.wantRates[i]) || (p.skip != "") != tt.wantSkipped[i] {
				t.Errorf("%s: point %d rate %v skip %q, want rate %v skipped %v", tt.name, i, p.rate, p.skip, tt.wantRates[i], tt.wantSkipped[i])
			}
			if p.deliveries != tt.dl[i%len(tt.dl)] || p.subs != tt.ks[i/len(tt.dl)] {
				t.Errorf("%s: point %d is K=%d deliveries=%d", tt.name, i, p.subs, p.deliveries)
			}
		}
	}
}

func TestUnpacedPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ks, batches, windows intList
		want                 [][3]int // K, batch, window
	}{
		{intList{1}, intList{64}, intList{1000}, [][3]int{{1, 64, 1000}}},
		{intList{1, 10}, intList{16, 256}, intList{100, 1000},
			[][3]int{{1, 16, 100}, {1, 16, 1000}, {1, 256, 1000}, {10, 16, 100}, {10, 16, 1000}, {10, 256, 1000}}},
	}
	for _, tt := range tests {
		var got [][3]int
		for _, p := range unpacedPlan(tt.ks, tt.batches, tt.windows) {
			got = append(got, [3]int{p.subs, p.batch, p.window})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("unpacedPlan(%v, %v, %v) = %v, want %v", tt.ks, tt.batches, tt.windows, got, tt.want)
		}
	}
}

func TestMarkBest(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	rows := []sweepRow{
		{Subscribers: 1, DeliveriesPerCPUs: f(10)},
		{Subscribers: 1, DeliveriesPerCPUs: f(30)},
		{Subscribers: 1},
		{Subscribers: 10, DeliveriesPerCPUs: f(5)},
		{Subscribers: 100, Skipped: "x"},
	}
	markBest(rows)
	want := []bool{false, true, false, true, false}
	for i, r := range rows {
		if r.Best != want[i] {
			t.Errorf("row %d best %v, want %v", i, r.Best, want[i])
		}
	}
}

func TestLatencySweep(t *testing.T) {
	t.Parallel()
	addr := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Main(ctx, []string{"latency", "--target", addr, "-k", "1,2", "--deliveries", "200,10", "--duration", "200ms", "--no-progress"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("sweep: %v\nstderr: %s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"coordinated-omission-safe", "server cores", "deliv/server-cpu-s", "p99.9 ms", "skipped: "} {
		if !strings.Contains(out, want) {
			t.Errorf("sweep table lacks %q:\n%s", want, out)
		}
	}
	// Header, schedule, column heads and one row per point.
	if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 3+4 {
		t.Errorf("%d lines, want 7:\n%s", n, out)
	}

	stdout.Reset()
	err = Main(ctx, []string{"fanout", "--target", addr, "-k", "2", "--batch", "8,32,128", "--window", "64", "--duration", "200ms", "--no-progress", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("fanout sweep: %v\nstderr: %s", err, stderr.String())
	}
	var rep sweepReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, stdout.String())
	}
	if len(rep.Rows) != 2 || rep.Rows[0].Batch != 8 || rep.Rows[1].Batch != 32 {
		t.Fatalf("rows %+v", rep.Rows)
	}
	best := 0
	for _, r := range rep.Rows {
		if r.Report == nil || r.Report.Lost != 0 {
			t.Errorf("row %+v: no report or loss", r)
		}
		if r.Best {
			best++
		}
	}
	if best != 1 {
		t.Errorf("%d rows marked best, want 1", best)
	}
}

func TestSweepFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"latency", "-k", "1,10"}, "needs --deliveries"},
		{[]string{"latency", "-k", "1", "--deliveries", "10", "--window", "1,2"}, "take one value"},
		{[]string{"fanout", "-k", "1,2", "--count", "10"}, "not --count"},
		{[]string{"fanout", "-k", "0"}, "not in 1.."},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := Main(context.Background(), tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
