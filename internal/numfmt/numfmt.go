// Package numfmt formats numbers for the tables people read: `switchboard
// bench` and `switchboard stress` print every count with thousands
// separators (15,424,000), every byte figure in a unit fixed by what it
// measures (per-unit figures in bytes, totals in MiB), and every duration
// in a unit fixed the same way, so that a column never switches units
// between rows. JSON reports keep plain numbers; this is for humans only.
package numfmt

import (
	"math"
	"strconv"
	"strings"
)

// Int formats n with a comma every three digits: 15424000 -> "15,424,000".
func Int(n int64) string {
	s := strconv.FormatInt(n, 10)
	digits := strings.TrimPrefix(s, "-")
	if len(digits) <= 3 {
		return s
	}
	var b strings.Builder
	if len(digits) < len(s) {
		b.WriteByte('-')
	}
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[i])
	}
	return b.String()
}

// Float formats v with prec decimals and thousands separators in the
// integer part: 1234567.891, 1 -> "1,234,567.9". NaN and infinities are
// printed as strconv does.
func Float(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil { // beyond int64: leave it unseparated
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	out := Int(n)
	if hasFrac {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.,") != "" {
		out = "-" + out
	}
	return out
}

// Bytes formats a per-unit byte figure (bytes per goroutine, per
// connection) exactly, in bytes: 2769.4 -> "2,769 B".
func Bytes(v float64) string { return Float(v, 0) + " B" }

// MiB formats a total (an RSS, a heap) in MiB with one decimal:
// 75182080 -> "71.7 MiB".
func MiB(v float64) string { return Float(v/(1<<20), 1) + " MiB" }

// Nanos formats a per-unit time given in nanoseconds, in nanoseconds:
// 18400.2 -> "18,400 ns".
func Nanos(ns float64) string { return Float(ns, 0) + " ns" }

// Millis formats the length of a phase, given in seconds, in milliseconds
// with one decimal: 0.11768 -> "117.7 ms", 2.5 -> "2,500.0 ms".
func Millis(s float64) string { return Float(s*1e3, 1) + " ms" }

// Seconds formats the length of a whole run in seconds with three
// decimals: 12.3456 -> "12.346 s".
func Seconds(s float64) string { return Float(s, 3) + " s" }
