package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLogDurationsAsText: both log formats write a duration as "10s",
// never as integer nanoseconds, in groups too.
func TestLogDurationsAsText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		want   []string
	}{
		{"json", []string{`"timeout":"10s"`, `"g":{"wait":"1.5ms"}`, `"n":3`}},
		{"text", []string{`timeout=10s`, `g.wait=1.5ms`, `n=3`}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		log, err := newLogger(&b, tt.format, "info", new(slog.LevelVar))
		if err != nil {
			t.Fatal(err)
		}
		log.Info("x", "timeout", 10*time.Second, "n", 3)
		log.WithGroup("g").Info("y", "wait", 1500*time.Microsecond)
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: %q does not contain %q", tt.format, b.String(), w)
			}
		}
	}
}
