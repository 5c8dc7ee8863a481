package stress

import (
	"io"
	"sync/atomic"

	"github.com/switchboard-hub/switchboard/internal/progress"
)

// progressBar shows how far one phase of an experiment has got on a writer
// (stderr): a bar on a terminal, plain lines otherwise, and nothing for a
// phase shorter than progress.Delay. Workers only touch an atomic counter
// (Add, Set); the display goroutine reads it, so a million goroutines never
// contend on a lock. A nil *progressBar is valid and does nothing. Call
// done exactly once; it waits for the display goroutine.
type progressBar struct {
	count atomic.Int64
	phase *progress.Phase
}

// startProgress starts a phase of total units described by desc. It returns
// nil (nothing shown) when w is nil.
func startProgress(w io.Writer, desc string, total int64) *progressBar {
	if w == nil || total <= 0 {
		return nil
	}
	p := &progressBar{}
	p.phase = progress.Start(w, desc, total, p.count.Load)
	return p
}

// Add counts n more units done.
func (p *progressBar) Add(n int64) {
	if p != nil {
		p.count.Add(n)
	}
}

// Set records the absolute number of units done.
func (p *progressBar) Set(n int64) {
	if p != nil {
		p.count.Store(n)
	}
}

// done ends the phase and waits for the display goroutine.
func (p *progressBar) done() {
	if p != nil {
		p.phase.Done()
	}
}
