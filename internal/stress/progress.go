package stress

import (
	"io"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressDelay is how long a phase must run before a bar appears: quick
// runs stay quiet, long runs show they are alive.
const progressDelay = time.Second

// progress shows a progress bar on a writer (stderr) for one phase of an
// experiment, but only once the phase has run longer than progressDelay.
// Workers only touch an atomic counter (Add); one goroutine owned by the
// progress value renders it, so a million goroutines never contend on the
// bar's mutex. A nil *progress is valid and does nothing. Call done exactly
// once; it waits for the rendering goroutine.
type progress struct {
	count atomic.Int64
	quit  chan struct{}
	fin   chan struct{}
}

// startProgress starts a phase of total units described by desc. It returns
// nil (no bar) when w is nil.
func startProgress(w io.Writer, desc string, total int64) *progress {
	if w == nil || total <= 0 {
		return nil
	}
	p := &progress{quit: make(chan struct{}), fin: make(chan struct{})}
	go p.render(w, desc, total)
	return p
}

// Add counts n more units done.
func (p *progress) Add(n int64) {
	if p != nil {
		p.count.Add(n)
	}
}

// Set records the absolute number of units done.
func (p *progress) Set(n int64) {
	if p != nil {
		p.count.Store(n)
	}
}

func (p *progress) render(w io.Writer, desc string, total int64) {
	defer close(p.fin)
	delay := time.NewTimer(progressDelay)
	defer delay.Stop()
	select {
	case <-p.quit:
		return
	case <-delay.C:
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			_ = bar.Clear()
			_ = bar.Exit()
			return
		case <-tick.C:
			_ = bar.Set64(min(p.count.Load(), total))
		}
	}
}

// done ends the phase and waits for the renderer to finish.
func (p *progress) done() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.fin
}
