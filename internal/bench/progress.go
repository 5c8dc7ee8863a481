package bench

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws a progress bar on stderr while a phase runs. A nil
// *progress is valid and draws nothing, so scenarios call it
// unconditionally. It is driven by one goroutine it owns and stops.
type progress struct {
	bar  *progressbar.ProgressBar
	stop chan struct{}
	done sync.WaitGroup
}

// startProgress shows a bar of max steps described by desc and polls value
// every 200ms until finish. It returns nil when w is nil or disabled.
func startProgress(w io.Writer, enabled bool, max int64, desc string, value func() int64) *progress {
	if !enabled || w == nil || max <= 0 {
		return nil
	}
	bar := progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(false),
	)
	p := &progress{bar: bar, stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				v := value()
				if v > max {
					v = max
				}
				_ = bar.Set64(v)
			}
		}
	}()
	return p
}

// finish stops the polling goroutine and clears the bar.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.done.Wait()
	_ = p.bar.Finish()
	_ = p.bar.Exit()
}
