package stress

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// parkGroup runs goroutines that each reach a parking point and block on one
// shared release channel, the shape shared by the parked, stacks and threads
// experiments. The group owns its goroutines: after spawn, callers must call
// releaseAll exactly once (typically deferred), which waits for all of them.
type parkGroup struct {
	ready   atomic.Int64 // goroutines that reached park
	ran     atomic.Int64 // goroutines that ran after release
	release chan struct{}
	wg      sync.WaitGroup
	n       int // goroutines launched
	closed  bool
}

func newParkGroup() *parkGroup {
	return &parkGroup{release: make(chan struct{})}
}

// park is called by a member goroutine at its parking point: it counts
// itself ready, blocks until release, then counts itself as having run.
func (g *parkGroup) park() {
	g.ready.Add(1)
	<-g.release
	g.ran.Add(1)
}

// member is the body of one plain parked goroutine.
func (g *parkGroup) member() {
	defer g.wg.Done()
	g.park()
}

// spawn launches n goroutines; body must call g.park exactly once (nil body
// means "just park"). It stops early if ctx ends and returns the time spent
// in the launching loop. g.n is how many were launched.
func (g *parkGroup) spawn(ctx context.Context, n int, bar *progressBar, body func()) time.Duration {
	start := time.Now()
	for g.n < n {
		if g.n&1023 == 0 {
			if ctx.Err() != nil {
				break
			}
			bar.Set(g.ready.Load())
		}
		g.wg.Add(1)
		if body == nil {
			go g.member()
		} else {
			go func() {
				defer g.wg.Done()
				body()
			}()
		}
		g.n++
	}
	return time.Since(start)
}

// incomplete returns an error wrapping ctx.Err() if fewer than want
// goroutines were launched (the spawn loop stopped early).
func (g *parkGroup) incomplete(ctx context.Context, want int) error {
	if g.n < want {
		return fmt.Errorf("launched %d of %d: %w", g.n, want, context.Cause(ctx))
	}
	return nil
}

// awaitParked waits until every launched goroutine has called park and the
// runtime counts them as waiting (blocked), polling every millisecond. It
// gives up when ctx ends.
func (g *parkGroup) awaitParked(ctx context.Context, bar *progressBar, p *probe, base Snapshot) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for g.ready.Load() < int64(g.n) {
		bar.Set(g.ready.Load())
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d goroutines to park (%d did): %w", g.n, g.ready.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	bar.Set(int64(g.n))
	// ready is counted just before the channel receive; give the last few
	// a moment to actually block, so the snapshot sees them parked.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		s, _ := p.read()
		if s.Waiting >= base.Waiting+uint64(g.n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for goroutines to block: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// releaseAll closes the release channel and waits until every member has
// returned. It returns the time from close until the last one finished.
// Calling it twice is harmless.
func (g *parkGroup) releaseAll() time.Duration {
	if g.closed {
		return 0
	}
	g.closed = true
	start := time.Now()
	close(g.release)
	g.wg.Wait()
	return time.Since(start)
}
