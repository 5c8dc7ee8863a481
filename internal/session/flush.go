package session

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// TryWriter is an optional Transport method: write as much of frames as
// the socket takes right now, without waiting, and report the bytes
// written (0 when it would block). Transports that have it let a
// publisher write to idle subscribers directly at the end of its batch,
// with no writer goroutine at all.
//
// The session calls TryWriteBatch with its lock held and never once it
// has called Close, so a transport may write to its file descriptor
// directly, without the guards of the net package. TryWriteBatch must not
// block or call back into the session.
type TryWriter interface {
	TryWriteBatch(frames [][]byte) (int, error)
}

// flushSet is the sessions one publisher's deliveries woke during one read
// batch. Only the publishing goroutine touches it.
type flushSet struct {
	sessions []*Session
	at       int64      // the batch's message time, 0 until its first publish
	fanout   hub.Fanout // a broadcast taken from the hub (TakeFanout), if taken
	taken    bool
}

// TakeFanout implements hub.FanoutTaker. A batch holds at most one taken
// broadcast: EndBatch delivers it from one goroutine per P, each subscriber
// queued and written in one visit (deliverNow); if the batch goes on to
// handle another request first, Do delivers it the ordinary way before
// that request (deliverTaken), so the publisher's order holds.
func (fs *flushSet) TakeFanout(f hub.Fanout) bool {
	if fs.taken {
		return false
	}
	fs.fanout, fs.taken = f, true
	return true
}

// deliverTaken delivers the batch's taken broadcast the ordinary way: each
// subscriber queues it and joins the flush set. Reader goroutine only.
func (s *Session) deliverTaken() {
	fs := s.batch
	f := fs.fanout
	fs.fanout, fs.taken = hub.Fanout{}, false
	for i := range f.Len() {
		switch sub := f.Subscriber(i).(type) {
		case nil:
		case *Session:
			sub.enqueueFrom(sub.frame(f.Msg), fs)
		default:
			sub.Deliver(f.Msg)
		}
	}
}

// runTaken delivers and writes the batch's taken broadcast from one
// goroutine per P, taking chunks of subscribers from a shared cursor, and
// returns when every subscriber has it queued (most have it written).
// Reader goroutine only.
func (s *Session) runTaken() {
	fs := s.batch
	w := &fanoutWork{f: fs.fanout, reg: s.reg}
	fs.fanout, fs.taken = hub.Fanout{}, false
	var wg sync.WaitGroup
	s.goHelpers(w.f.Len(), &wg, w.run)
	w.run()
	wg.Wait()
}

// goHelpers starts the helper goroutines for work on n sessions: one per P
// beyond the caller's own, and none for fewer than bigFlush per goroutine.
// Each is counted in the registry's flushers (and in wg, if not nil), and
// a panic in one is logged: a helper has no connection to end, and the
// caller and the other helpers take over the rest of the work.
func (s *Session) goHelpers(n int, wg *sync.WaitGroup, run func()) {
	helpers := min(runtime.GOMAXPROCS(0), (n+bigFlush-1)/bigFlush) - 1
	for range helpers {
		if wg != nil {
			wg.Add(1)
		}
		s.reg.flushers.Add(1)
		go func() {
			defer s.reg.flushers.Done()
			if wg != nil {
				defer wg.Done()
			}
			defer func() {
				if p := recover(); p != nil {
					s.Logger().Error("panic in a flushing goroutine", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				}
			}()
			run()
		}()
	}
}

// nextChunk claims the next flushChunk indexes below n from cursor, shared
// by the goroutines working through one set.
func nextChunk(cursor *atomic.Int64, n int) (lo, hi int, ok bool) {
	lo = int(cursor.Add(flushChunk)) - flushChunk
	if lo >= n {
		return 0, 0, false
	}
	return lo, min(lo+flushChunk, n), true
}

// fanoutWork is a taken broadcast shared by the goroutines delivering it.
type fanoutWork struct {
	f    hub.Fanout
	reg  *Registry
	next atomic.Int64
}

func (w *fanoutWork) run() {
	var t tally
	m := w.f.Msg
	for {
		lo, hi, ok := nextChunk(&w.next, w.f.Len())
		if !ok {
			break
		}
		for j := lo; j < hi; j++ {
			switch sub := w.f.Subscriber(j).(type) {
			case nil:
			case *Session:
				sub.deliverNow(sub.frame(m), &t)
			default:
				sub.Deliver(m)
			}
		}
	}
	t.addTo(&w.reg.stats)
}

// bigFlush is the flush-set size above which EndBatch spreads the writes
// over one goroutine per P (a broadcast to thousands of subscribers).
const bigFlush = 256

// flushChunk is how many sessions a flushing goroutine takes from a big
// flush set at a time.
const flushChunk = 64

// flushWork is a big flush set shared by the goroutines writing it. They
// take chunks from a common cursor rather than fixed shares, so that when
// the OS deschedules one of them (the load generator or other clients
// compete for the same cores) the others take over its part instead of
// the broadcast's tail waiting for it.
type flushWork struct {
	list []*Session
	next atomic.Int64
}

// run writes chunks of the set until none is left.
func (w *flushWork) run() {
	var t tally
	for {
		lo, hi, ok := nextChunk(&w.next, len(w.list))
		if !ok {
			break
		}
		flushEach(w.list[lo:hi], &t)
	}
	t.addTo(&w.list[0].reg.stats)
}

// BeginBatch marks the start of a batch of requests read together (one
// read from the socket). Until EndBatch, messages this session publishes
// do not start their subscribers' writers; EndBatch then writes each
// woken subscriber once, so a publisher's batch of N messages costs each
// subscriber one write, not N. Reader goroutine only.
func (s *Session) BeginBatch() { s.batched = true }

// EndBatch ends a batch begun by BeginBatch and writes to every subscriber
// the batch woke. It must follow every BeginBatch (use defer). Reader
// goroutine only.
func (s *Session) EndBatch() {
	s.batched = false
	if s.batch == nil {
		return
	}
	s.batch.at = 0
	if s.batch.taken {
		s.runTaken()
	}
	if len(s.batch.sessions) == 0 {
		return
	}
	list := s.batch.sessions
	if len(list) > bigFlush {
		// The set goes to the flushing goroutines, which may outlive this
		// call; the next batch starts a new one (and a broadcast-sized
		// list is not pinned).
		s.batch.sessions = nil
		w := &flushWork{list: list}
		s.goHelpers(len(list), nil, w.run)
		w.run()
		return
	}
	flushAll(list)
	clear(list)
	s.batch.sessions = list[:0]
}

// publishTag returns the tag and time a publish by this session carries:
// while a batch is open, its flush set and the batch's time, read from the
// clock once per batch (messages that arrived in one read arrived
// together); else nil (writers start at once) and 0 (the hub's clock).
func (s *Session) publishTag() (tag any, at int64) {
	if !s.batched {
		return nil, 0
	}
	if s.batch == nil {
		s.batch = &flushSet{}
	}
	if s.batch.at == 0 {
		s.batch.at = s.client.Now()
	}
	return s.batch, s.batch.at
}

// flushAll writes every session of list and adds up the writes in the
// registry's counters once, not once per session: with a broadcast split
// over several goroutines, per-write atomic adds would bounce the
// counters' cache line between CPUs.
func flushAll(list []*Session) {
	if len(list) == 0 {
		return
	}
	var w tally
	flushEach(list, &w)
	w.addTo(&list[0].reg.stats)
}

// flushEach writes every session of list, counting into w.
func flushEach(list []*Session, w *tally) {
	for _, s := range list {
		s.flushDeferred(w)
	}
}

// tally counts direct writes for flushAll.
type tally struct{ bytes, writes, frames uint64 }

func (w *tally) addTo(c *counters) {
	if w.writes > 0 {
		c.bytesOut.Add(w.bytes)
		c.writes.Add(w.writes)
	}
	if w.frames > 0 {
		c.framesOut.Add(w.frames)
	}
}

// flushDeferred writes a session woken by a batching publisher: directly,
// with one non-blocking write, when the transport allows it and nothing
// else is writing; whatever the socket does not take (or every frame, for
// transports without TryWriter) goes to a writer goroutine as usual.
//
// The write happens under s.mu: it never waits, and holding the lock is
// what keeps Close from running under it (see TryWriter). Other
// publishers delivering to this session meanwhile wait a few microseconds.
func (s *Session) flushDeferred(w *tally) {
	s.mu.Lock()
	if !s.deferred {
		s.mu.Unlock()
		return
	}
	s.deferred = false
	s.writeNowLocked(w)
}

// deliverNow queues b and, unless a writer runs or the session waits in a
// publisher's flush set, writes it at once like flushDeferred. It is how a
// taken fan-out (TakeFanout) reaches each subscriber: one visit instead of
// a queue append now and a write at the batch end.
func (s *Session) deliverNow(b []byte, w *tally) {
	s.mu.Lock()
	if !s.admitLocked(b) || s.deferred {
		s.mu.Unlock()
		return
	}
	s.writeNowLocked(w)
}

// writeNowLocked writes the queue directly with one non-blocking write when
// the transport allows it and nothing else is writing, handing what the
// socket does not take (or everything, without TryWriter) to a writer
// goroutine. Caller holds s.mu, which it releases.
func (s *Session) writeNowLocked(w *tally) {
	if s.writing || s.closed || len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	tw, ok := s.t.(TryWriter)
	if !ok || s.closing {
		s.startWriterLocked()
		s.mu.Unlock()
		return
	}
	n, err := tw.TryWriteBatch(s.queue)
	if err != nil {
		for _, b := range s.queue {
			s.pending -= len(b)
		}
		s.dropQueueLocked()
		s.mu.Unlock()
		s.reg.stats.writeErrors.Add(1)
		s.abort(ReasonWriteError)
		return
	}
	s.pending -= n
	rest, sent := unwritten(s.queue, n)
	if len(rest) == 0 {
		s.dropQueueLocked()
	} else {
		// The socket is full: a writer goroutine takes over the
		// unwritten frames, the first possibly cut.
		k := copy(s.queue, rest)
		clear(s.queue[k:])
		s.queue = s.queue[:k]
		s.startWriterLocked()
	}
	s.mu.Unlock()
	if n > 0 {
		w.bytes += uint64(n)
		w.writes++
	}
	w.frames += uint64(sent)
}

// unwritten returns the frames of batch left after n bytes were written,
// the first possibly cut, reusing batch's array, and how many frames went
// out whole.
func unwritten(batch [][]byte, n int) (rest [][]byte, sent int) {
	for sent < len(batch) && n >= len(batch[sent]) {
		n -= len(batch[sent])
		sent++
	}
	rest = batch[sent:]
	if n > 0 && len(rest) > 0 {
		rest[0] = rest[0][n:]
	}
	return rest, sent
}
