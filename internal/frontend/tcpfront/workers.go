package tcpfront

import (
	"sync"
	"sync/atomic"
	"time"
)

// workerIdle is how long an idle worker waits for a job before exiting.
const workerIdle = 10 * time.Second

// maxWorkers caps the workers of one door. Past it a job waits for a
// worker instead of starting one: a connection storm then costs a bounded
// number of grown stacks, not one per connection.
const maxWorkers = 256

// workers runs connection work (reading, parsing, handling commands) on a
// small, elastic set of goroutines, so that each connection's own goroutine
// only waits for readability. That goroutine's stack then never grows past
// the runtime's 2 KiB minimum, which is most of what an idle connection
// costs: a goroutine stack, once grown, is never shrunk back below 4 KiB
// while parked in the poller. A job runs on an idle worker if there is one,
// else on a new worker while fewer than maxWorkers exist, else it waits for
// the next free worker; idle workers exit after workerIdle. It is safe for
// concurrent use.
type workers struct {
	live  atomic.Int32  // workers running
	ran   atomic.Uint64 // jobs run since newWorkers
	jobs  chan job
	quit  chan struct{}
	wg    sync.WaitGroup
	dones sync.Pool // chan struct{}, reused completion signals
	once  sync.Once
}

type job struct {
	fn   func()
	done chan struct{}
}

func newWorkers() *workers {
	w := &workers{jobs: make(chan job), quit: make(chan struct{})}
	w.dones.New = func() any { return make(chan struct{}, 1) }
	return w
}

// run runs fn on a worker and waits for it to return. A panic in fn is
// re-raised in the caller, so the connection's own recovery handles it.
func (w *workers) run(fn func()) {
	w.ran.Add(1)
	done := w.dones.Get().(chan struct{})
	var p any
	j := job{fn: func() {
		defer func() { p = recover() }()
		fn()
	}, done: done}
	select {
	case w.jobs <- j:
	default:
		if w.live.Add(1) <= maxWorkers {
			w.wg.Add(1)
			go w.work(j)
		} else {
			w.live.Add(-1)
			w.jobs <- j
		}
	}
	<-done
	w.dones.Put(done)
	if p != nil {
		panic(p)
	}
}

// work runs jobs until it has been idle for workerIdle or the pool closes.
func (w *workers) work(j job) {
	defer w.wg.Done()
	defer w.live.Add(-1)
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		j.fn()
		j.done <- struct{}{}
		t.Reset(workerIdle)
		select {
		case j = <-w.jobs:
		case <-t.C:
			return
		case <-w.quit:
			return
		}
	}
}

// close makes idle workers exit and waits for all of them. No run may be
// in progress or start afterwards.
func (w *workers) close() {
	w.once.Do(func() { close(w.quit) })
	w.wg.Wait()
}
