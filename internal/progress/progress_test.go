package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPlainLines: off a terminal, a phase prints whole lines, never a
// bar redrawn with \r, and a last line when it ends.
func TestPlainLines(t *testing.T) {
	t.Parallel()
	var w testkit.Buffer
	var done atomic.Int64
	p := start(&w, "connecting", 2000, done.Load, config{delay: 0, lineEvery: 10 * time.Millisecond, poll: time.Millisecond})
	done.Store(1000)
	testkit.Eventually(t, "a line at 50%", func() bool { return strings.Contains(w.String(), "connecting: 1,000 of 2,000 (50%) after ") })
	done.Store(2000)
	p.Done()
	out := w.String()
	if strings.ContainsRune(out, '\r') {
		t.Errorf("plain output holds \\r: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "connecting: 2,000 of 2,000 (100%) after ") || !strings.HasSuffix(last, ", done") {
		t.Errorf("last line %q", last)
	}
}

// TestQuickPhaseIsQuiet: a phase that ends before the delay shows nothing.
func TestQuickPhaseIsQuiet(t *testing.T) {
	t.Parallel()
	for _, terminal := range []bool{false, true} {
		var w testkit.Buffer
		p := start(&w, "x", 10, func() int64 { return 5 }, config{delay: time.Hour, lineEvery: time.Millisecond, poll: time.Millisecond, terminal: terminal})
		p.Done()
		if w.String() != "" {
			t.Errorf("terminal=%v: printed %q", terminal, w.String())
		}
	}
	var nilPhase *Phase
	nilPhase.Done()
	if Start(nil, "x", 10, func() int64 { return 0 }) != nil || Start(&testkit.Buffer{}, "x", 0, func() int64 { return 0 }) != nil {
		t.Error("Start without a writer or a total should be nil")
	}
}

// TestBarOnTerminal: on a terminal the bar is redrawn in place.
func TestBarOnTerminal(t *testing.T) {
	t.Parallel()
	var w testkit.Buffer
	var done atomic.Int64
	p := start(&w, "stacks", 100, done.Load, config{delay: 0, lineEvery: time.Hour, poll: time.Millisecond, terminal: true})
	done.Store(40)
	testkit.Eventually(t, "the bar at 40", func() bool { return strings.Contains(w.String(), "40/100") })
	p.Done()
	if !strings.Contains(w.String(), "\r") {
		t.Errorf("bar output %q is not redrawn with \\r", w.String())
	}
}

// TestIsTerminal: buffers and regular files are not terminals.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&bytes.Buffer{}) || IsTerminal(nil) {
		t.Error("a file, a buffer or nil taken for a terminal")
	}
}
