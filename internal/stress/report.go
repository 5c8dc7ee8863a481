package stress

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/switchboard-hub/switchboard/internal/numfmt"
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

// The table formats (internal/numfmt): counts with thousands separators,
// per-unit byte figures in bytes, totals in MiB, per-unit times in ns and
// phase times in ms, so that no column changes units between rows.

// fmtBytes renders a per-unit byte figure (per goroutine, connection,
// thread) in bytes: "2,769 B".
func fmtBytes(v float64) string { return numfmt.Bytes(v) }

// fmtTotal renders a total (an RSS, a heap, a budget) in MiB: "71.7 MiB".
func fmtTotal[T ~float64 | ~uint64 | ~int64](v T) string { return numfmt.MiB(float64(v)) }

// fmtInt renders an integer with thousands separators.
func fmtInt(v int64) string { return numfmt.Int(v) }

// fmtInts renders counts with thousands separators, joined by sep.
func fmtInts[T ~int | ~int64](sep string, vs ...T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = numfmt.Int(int64(v))
	}
	return strings.Join(out, sep)
}

// fmtNs renders a per-unit duration given in nanoseconds, in ns.
func fmtNs(ns float64) string { return numfmt.Nanos(ns) }

// fmtSec renders the length of a phase, given in seconds, in ms.
func fmtSec(s float64) string { return numfmt.Millis(s) }

// fmtWall renders the length of a whole run, in seconds (footnotes).
func fmtWall(s float64) string { return numfmt.Seconds(s) }

// nsPer returns d/n in nanoseconds.
func nsPer(d time.Duration, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / float64(n)
}
