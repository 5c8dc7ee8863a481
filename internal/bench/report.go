package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/switchboard-hub/switchboard/internal/numfmt"
)

// tableRow is one "name  value  unit" row of the human-readable report.
type tableRow struct{ name, value, unit string }

// tabular is implemented by every report: the rows of its human table.
type tabular interface {
	rows() []tableRow
}

// writeReport prints rep as one JSON object, or as an aligned table.
func writeReport(w io.Writer, asJSON bool, rep tabular) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write json report: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rep.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, r.value, r.unit)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// fmtInt formats a count with thousands separators, as stress does.
func fmtInt(n int64) string { return numfmt.Int(n) }

// fmtRate formats a rate with thousands separators, whole above 100:
// 1234567.8 -> "1,234,568", 12.34 -> "12.3".
func fmtRate(v float64) string {
	if v >= 100 {
		return numfmt.Float(v, 0)
	}
	return numfmt.Float(v, 1)
}

func fmtMs(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// serverRows are the server-side rows shared by reports.
func (s serverFigures) rows() []tableRow {
	if s.ServerPID == 0 {
		return []tableRow{{"server", "PID unknown: no CPU/RSS figures (use --server-pid)", ""}}
	}
	pid := strconv.Itoa(s.ServerPID) // an identifier, not a count
	if s.ServerInProcess {
		pid += " (in-process: CPU includes bench)"
	}
	out := []tableRow{{"server pid", pid, ""}}
	if s.ServerCPUSeconds != nil {
		out = append(out, tableRow{"server cpu", strconv.FormatFloat(*s.ServerCPUSeconds, 'f', 2, 64), "s"})
	}
	if s.ServerRSSBytes != nil {
		out = append(out, tableRow{"server rss", numfmt.Float(float64(*s.ServerRSSBytes)/(1<<20), 1), "MiB"})
	}
	return append(out, tableRow{"load average (1m)", strconv.FormatFloat(s.LoadAvg1m, 'f', 2, 64), ""})
}

func (f fanoutReport) rows() []tableRow {
	rate := "max (window " + fmtInt(int64(f.Window)) + "/subscriber, " + fmtInt(f.MaxInflight) + " in flight)"
	if f.RateTarget > 0 {
		rate = fmtRate(f.RateTarget) + " msgs/s"
	}
	out := []tableRow{
		{"scenario", f.Scenario, ""},
		{"target", f.Target + " (" + f.Server + ")", ""},
		{"subscribers x publishers", fmtInt(int64(f.Subscribers)) + " x " + fmtInt(int64(f.Publishers)), ""},
		{"payload", fmtInt(int64(f.PayloadBytes)), "bytes"},
		{"publish rate", rate, ""},
		{"schedule", f.Schedule, ""},
		{"published", fmtInt(f.Published), "msgs in " + strconv.FormatFloat(f.PublishSeconds, 'f', 2, 64) + " s"},
		{"delivered", fmtInt(f.Delivered), "msgs in " + strconv.FormatFloat(f.ElapsedSeconds, 'f', 2, 64) + " s"},
		{"published/s", fmtRate(f.PublishedPerS), "msgs/s"},
		{"delivered/s", fmtRate(f.DeliveredPerS), "msgs/s"},
		{"lost", fmtInt(f.Lost), "of " + fmtInt(f.Expected) + " expected"},
		{"gaps / out of order", fmtInt(f.Gaps) + " / " + fmtInt(f.OutOfOrder), "msgs"},
		{"slow consumers / disconnected", fmtInt(int64(f.SlowConsumers)) + " / " + fmtInt(int64(f.Disconnected)), "subscribers"},
	}
	if f.PublishErrors > 0 {
		out = append(out, tableRow{"publish errors", fmtInt(f.PublishErrors), ""})
	}
	out = append(out, f.latencyFigures.rows()...)
	if len(f.Distribution) > 0 {
		out = append(out, tableRow{"latency histogram", "", ""})
		out = append(out, distributionRows(f.Distribution)...)
	}
	out = append(out, f.serverFigures.rows()...)
	if f.DeliveriesPerCPUSec != nil {
		out = append(out, tableRow{"deliveries per server cpu-second", fmtRate(*f.DeliveriesPerCPUSec), ""})
	}
	if f.ServerCores != nil {
		out = append(out, tableRow{"server cores used", strconv.FormatFloat(*f.ServerCores, 'f', 3, 64), "cpu-s per wall-s"})
	}
	if f.ClientCores != nil {
		out = append(out, tableRow{"bench client cores used", strconv.FormatFloat(*f.ClientCores, 'f', 3, 64), "cpu-s per wall-s (this process)"})
	}
	if f.FirstError != "" {
		out = append(out, tableRow{"first error", f.FirstError, ""})
	}
	return out
}

func (l latencyFigures) rows() []tableRow {
	if l.LatencySamples == 0 {
		return []tableRow{{"latency", "no samples", ""}}
	}
	return []tableRow{
		{"latency p50 / p90 / p99", fmtMs(l.LatencyP50Ms) + " / " + fmtMs(l.LatencyP90Ms) + " / " + fmtMs(l.LatencyP99Ms), "ms"},
		{"latency p99.9 / max", fmtMs(l.LatencyP999Ms) + " / " + fmtMs(l.LatencyMaxMs), "ms"},
	}
}
