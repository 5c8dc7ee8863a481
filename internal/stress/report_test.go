package stress

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// tableColumns parses the first table of a rendered report: the rows
// under the dashed line, split into cells on runs of two or more spaces.
func tableColumns(t *testing.T, out string) [][]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	var rows [][]string
	in := false
	for _, l := range lines {
		switch {
		case !in && dashes.MatchString(l):
			in = true
		case in && strings.TrimSpace(l) == "":
			return rows
		case in:
			rows = append(rows, regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(l), -1))
		}
	}
	t.Fatalf("no table in %q", out)
	return nil
}

// unit is the last word of a cell ("2,769 B" -> "B"), "" for a bare number.
func unit(cell string) string {
	f := strings.Fields(cell)
	if len(f) < 2 {
		return ""
	}
	return f[len(f)-1]
}

var dashes = regexp.MustCompile(`^-+(\s+-+)*\s*$`)

var unseparated = regexp.MustCompile(`(^|[^.\d,])\d{4,}`)

// TestTablesKeepOneUnitPerColumn: whatever the magnitudes, a column of a
// stress table keeps one unit (bytes, MiB, ns, s), and counts of four
// digits or more carry thousands separators.
func TestTablesKeepOneUnitPerColumn(t *testing.T) {
	t.Parallel()
	stacks := StacksReport{N: 20000, MaxDepth: 256, FramePadBytes: 128, Depths: []StackDepthRow{
		{Depth: 0, StackBytesPerGoroutine: 2048, RSSBytesPerGoroutine: 2738, ParkNsPerGoroutine: 5052, StartingStackBytes: 2048},
		{Depth: 16, StackBytesPerGoroutine: 8077, RSSBytesPerGoroutine: 8362, ParkNsPerGoroutine: 18400, StartingStackBytes: 2048},
		{Depth: 256, StackBytesPerGoroutine: 65638, RSSBytesPerGoroutine: 46694, ParkNsPerGoroutine: 94100, StartingStackBytes: 8192},
	}}
	sweep := SweepReport{Points: []SweepPoint{
		{N: 100, Goroutines: &GoroutinesReport{WallSeconds: 0.0004, SpawnNsPerGoroutine: 900, PeakRSSBytes: 20 << 20, BaselineRSSBytes: 19 << 20, BytesPerGoroutine: 9000, PeakLiveGoroutines: 100, OSThreads: 7},
			Parked: &ParkedReport{SpawnNsPerGoroutine: 800, AliveRSSBytes: 19<<20 + 300<<10, BaselineRSSBytes: 19 << 20, BytesPerGoroutine: 3000, StackBytesPerGoroutine: 2048, HeapBytesPerGoroutine: 600, ReleaseNsPerGoroutine: 700}},
		{N: 1000000, Goroutines: &GoroutinesReport{WallSeconds: 2.5, SpawnNsPerGoroutine: 1200, PeakRSSBytes: 3 << 30, BaselineRSSBytes: 19 << 20, BytesPerGoroutine: 2700, PeakLiveGoroutines: 999000, OSThreads: 12},
			Parked: &ParkedReport{SpawnNsPerGoroutine: 11000, AliveRSSBytes: 2800 << 20, BaselineRSSBytes: 19 << 20, BytesPerGoroutine: 2800, StackBytesPerGoroutine: 2048, HeapBytesPerGoroutine: 620, ReleaseNsPerGoroutine: 15000}},
	}}
	for name, write := range map[string]func(io.Writer) error{
		"stacks": stacks.WriteTable,
		"sweep":  sweep.WriteTable,
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		rows := tableColumns(t, b.String())
		for col := range rows[0] {
			u := unit(rows[0][col])
			for _, row := range rows[1:] {
				if col < len(row) && unit(row[col]) != u {
					t.Errorf("%s: column %d mixes %q and %q:\n%s", name, col, rows[0][col], row[col], b.String())
				}
			}
		}
		for _, row := range rows {
			for _, c := range row {
				if unseparated.MatchString(c) {
					t.Errorf("%s: %q has no thousands separator", name, c)
				}
			}
		}
	}

	// A key-value table: per-goroutine figures in bytes, totals in MiB.
	var b bytes.Buffer
	parked := ParkedReport{N: 20000, Parked: 20000, Ran: 20000, BaselineRSSBytes: 19 << 20, AliveRSSBytes: 72 << 20, PeakRSSBytes: 72 << 20,
		BytesPerGoroutine: 2769, StackBytesPerGoroutine: 2048, HeapBytesPerGoroutine: 633, StackBytesAfterExit: 480 << 10, SpawnNsPerGoroutine: 5798}
	if err := parked.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, row := range tableColumns(t, b.String()) {
		q, v := row[0], row[1]
		switch {
		case strings.Contains(q, "RSS") && !strings.Contains(q, "per"), strings.Contains(q, "left after exit"):
			if unit(v) != "MiB" {
				t.Errorf("parked: total %q = %q, want MiB", q, v)
			}
		case strings.Contains(q, "bytes") || strings.Contains(q, "of which") || strings.Contains(q, "heap kept"):
			if unit(v) != "B" {
				t.Errorf("parked: per-goroutine %q = %q, want B", q, v)
			}
		}
		if unseparated.MatchString(v) {
			t.Errorf("parked: %q = %q has no thousands separator", q, v)
		}
	}
}
