// Package progress shows how far a long phase of `switchboard bench` or
// `switchboard stress` has got, on stderr: a redrawn bar when stderr is a
// terminal, and plain lines every few seconds when it is a file or a pipe
// (a bar redrawn with \r makes a log unreadable). Quick phases show
// nothing at all.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/switchboard-hub/switchboard/internal/numfmt"
)

// Defaults of a phase's display.
const (
	// Delay is how long a phase runs before anything is shown.
	Delay = time.Second
	// LineEvery is the interval between two plain lines.
	LineEvery = 5 * time.Second
	// poll is how often the bar reads the phase's value.
	poll = 100 * time.Millisecond
)

// Phase displays one phase. It owns one goroutine, which Done stops and
// waits for. A nil *Phase is valid and shows nothing, so callers use it
// unconditionally.
type Phase struct {
	quit chan struct{}
	fin  chan struct{}
}

// config is a phase's display settings; tests shorten the times.
type config struct {
	delay, lineEvery, poll time.Duration
	terminal               bool
}

// Start shows the phase desc of total units on w, reading how many are
// done from value (called from the phase's own goroutine, so it must be
// safe for that: an atomic load). It returns nil when w is nil or total is
// not positive.
func Start(w io.Writer, desc string, total int64, value func() int64) *Phase {
	return start(w, desc, total, value, config{delay: Delay, lineEvery: LineEvery, poll: poll, terminal: IsTerminal(w)})
}

// IsTerminal reports whether w is a terminal (an *os.File on a tty).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func start(w io.Writer, desc string, total int64, value func() int64, c config) *Phase {
	if w == nil || total <= 0 {
		return nil
	}
	p := &Phase{quit: make(chan struct{}), fin: make(chan struct{})}
	go p.run(w, desc, total, value, c)
	return p
}

// Done ends the phase: it clears the bar (or prints the last line, if
// any was printed) and waits for the display goroutine.
func (p *Phase) Done() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.fin
}

func (p *Phase) run(w io.Writer, desc string, total int64, value func() int64, c config) {
	defer close(p.fin)
	begin := time.Now()
	delay := time.NewTimer(c.delay)
	defer delay.Stop()
	select {
	case <-p.quit:
		return
	case <-delay.C:
	}
	get := func() int64 { return min(max(value(), 0), total) }
	if c.terminal {
		p.bar(w, desc, total, get, c)
		return
	}
	line := func(suffix string) {
		v := get()
		fmt.Fprintf(w, "%s: %s of %s (%d%%) after %s%s\n", desc, numfmt.Int(v), numfmt.Int(total), v*100/total,
			time.Since(begin).Round(100*time.Millisecond), suffix)
	}
	line("")
	tick := time.NewTicker(c.lineEvery)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			line(", done")
			return
		case <-tick.C:
			line("")
		}
	}
}

// bar redraws a progress bar until the phase ends, then clears it.
func (p *Phase) bar(w io.Writer, desc string, total int64, get func() int64, c config) {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(c.poll),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
	tick := time.NewTicker(c.poll)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			_ = bar.Clear()
			_ = bar.Exit()
			return
		case <-tick.C:
			_ = bar.Set64(get())
		}
	}
}
