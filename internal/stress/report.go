package stress

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Options configures one experiment. Zero fields mean the experiment's
// documented default. Options is a plain value, read once at start.
type Options struct {
	// N is how many units to run: goroutines, OS threads or connections.
	N int
	// Depth is the deepest recursion, in frames, for the stacks experiment.
	Depth int
	// Addr is the switchboard line-protocol address (host:port) for conns.
	Addr string
	// HTTPAddr is the switchboard web address (host:port) whose /api/stats
	// gives the server's memory; empty skips that figure.
	HTTPAddr string
	// Progress receives progress bars (normally stderr); nil shows none.
	Progress io.Writer
}

// table is a human-readable table with an optional title and footnotes,
// rendered with text/tabwriter.
type table struct {
	title  string
	header []string
	rows   [][]string
	notes  []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, a ...any) {
	t.notes = append(t.notes, fmt.Sprintf(format, a...))
}

func (t *table) write(w io.Writer) error {
	var b strings.Builder
	if t.title != "" {
		b.WriteString(t.title + "\n\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	if len(t.header) > 0 {
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		dashes := make([]string, len(t.header))
		for i, h := range t.header {
			dashes[i] = strings.Repeat("-", len(h))
		}
		fmt.Fprintln(tw, strings.Join(dashes, "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	if len(t.notes) > 0 {
		b.WriteString("\n")
		for _, n := range t.notes {
			b.WriteString(n + "\n")
		}
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// kvTable starts the usual three-column table: quantity, value, source.
func kvTable(title string) *table {
	return &table{title: title, header: []string{"quantity", "value", "source"}}
}

// machineNote is the footnote naming the machine a table was measured on.
func machineNote(m Machine) string {
	race := ""
	if m.Race {
		race = ", race detector ON (inflates memory figures)"
	}
	return fmt.Sprintf("machine: %s %s/%s, %d CPUs, GOMAXPROCS=%d, cgo=%s%s",
		m.GoVersion, m.OS, m.Arch, m.NumCPU, m.GOMAXPROCS, orUnknown(m.CgoEnabled), race)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// writeJSON writes exactly one indented JSON object.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	return nil
}

// fmtBytes renders a byte count in binary units, keeping small values exact.
func fmtBytes(v float64) string {
	neg := v < 0
	if neg {
		v = -v
	}
	var s string
	switch {
	case v < 10*1024:
		s = fmtInt(int64(v+0.5)) + " B"
	case v < 10*1024*1024:
		s = fmt.Sprintf("%.1f KiB", v/1024)
	case v < 10*1024*1024*1024:
		s = fmt.Sprintf("%.1f MiB", v/(1024*1024))
	default:
		s = fmt.Sprintf("%.2f GiB", v/(1024*1024*1024))
	}
	if neg {
		return "-" + s
	}
	return s
}

// fmtU renders an unsigned byte count.
func fmtU(v uint64) string { return fmtBytes(float64(v)) }

// fmtInt renders an integer with thousands separators.
func fmtInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtNs renders a per-unit duration given in nanoseconds.
func fmtNs(ns float64) string {
	switch {
	case ns < 10_000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 10_000_000:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
}

// fmtSec renders seconds.
func fmtSec(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}

// nsPer returns d/n in nanoseconds.
func nsPer(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / float64(n)
}
