package session

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// This file is the delivery layer: what happens to a message published on
// this node once the hub has matched it. The hub returns the recipients
// (hub.Route); the publisher's reader delivers to them and, while a read
// batch is open (BeginBatch … EndBatch), defers their writes to the end of
// the batch, so a publisher's batch of N messages costs each subscriber
// one write, not N. The parallel broadcast and the batch's clock live here
// too; the hub knows nothing of them.

// TryWriter is an optional Transport method: write as much of frames as
// the socket takes right now, without waiting, and report the bytes
// written (0 when it would block). Transports that have it let a
// publisher write to idle subscribers directly at the end of its batch,
// with no writer goroutine at all. The session calls it with its lock
// held, so TryWriteBatch must not block or call back into the session. It
// must be safe against a concurrent or earlier Close: the door guards its
// own descriptor.
type TryWriter interface {
	TryWriteBatch(frames [][]byte) (int, error)
}

// bigRoute is the fewest recipients for which a batch takes a message's
// delivery over whole: EndBatch delivers and writes it from one goroutine
// per P, each subscriber in one visit.
const bigRoute = 256

// bigFlush is the batch size above which EndBatch spreads the writes over
// one goroutine per P (a broadcast to thousands of subscribers).
const bigFlush = 256

// flushChunk is how many sessions a flushing goroutine takes from a big
// set at a time.
const flushChunk = 64

// batch is what one publisher's read batch has delivered but not yet
// written. Only the publisher's reader touches it.
type batch struct {
	open     bool
	sessions []*Session // woken by the batch's deliveries, written at its end
	at       int64      // the batch's message time, 0 until its first publish
	big      *hub.Message
	bigRoute hub.Route // a big route held for EndBatch, when big != nil
}

// BeginBatch marks the start of a batch of requests read together (one
// read from the socket). Until EndBatch, messages this session publishes
// do not start their subscribers' writers; EndBatch then writes each woken
// subscriber once. Reader only.
func (s *Session) BeginBatch() {
	if s.batch == nil {
		s.batch = &batch{}
	}
	s.batch.open = true
}

// EndBatch ends a batch begun by BeginBatch and writes to every subscriber
// the batch woke. It must follow every BeginBatch (use defer). Reader
// only.
func (s *Session) EndBatch() {
	b := s.batch
	if b == nil {
		return
	}
	b.open, b.at = false, 0
	if b.big != nil {
		s.broadcast()
	}
	if len(b.sessions) == 0 {
		return
	}
	list := b.sessions
	if len(list) > bigFlush {
		// The set goes to the flushing goroutines, which may outlive
		// this call; the next batch starts a new one (and a
		// broadcast-sized list is not pinned).
		b.sessions = nil
		w := &flushWork{list: list}
		s.goHelpers(len(list), nil, w.run)
		w.run()
		return
	}
	var t tally
	flushEach(list, &t)
	t.addTo(&s.reg.stats)
	clear(list)
	b.sessions = list[:0]
}

// now is the time a publish by this session carries: while a batch is
// open, one clock reading for the whole batch (messages that arrived in
// one read arrived together); else 0, which lets the hub stamp it.
func (s *Session) now() int64 {
	b := s.batch
	if b == nil || !b.open {
		return 0
	}
	if b.at == 0 {
		b.at = time.Now().UnixNano()
	}
	return b.at
}

// deliverRoute delivers a message this session published to its route and
// returns the number of recipients. Within a batch, recipients are
// written at the batch's end (and a big route is held whole for EndBatch);
// outside one, each recipient's writer starts at once. Reader only.
func (s *Session) deliverRoute(m *hub.Message, rt hub.Route) int {
	b := s.batch
	if b == nil || !b.open {
		return deliverNow(m, rt)
	}
	s.releaseBig()
	if rt.Len() >= bigRoute {
		b.big, b.bigRoute = m, rt
		return rt.Len()
	}
	return deliverDeferred(m, rt, b)
}

// deliverDeferred queues m for every recipient of rt and adds them to the
// batch b, to be written at its end. It returns the number of recipients.
func deliverDeferred(m *hub.Message, rt hub.Route, b *batch) int {
	n := 0
	for i := range rt.Len() {
		switch sub := rt.At(i).(type) {
		case nil:
			continue
		case *Session:
			if !sub.withheld(m) {
				sub.enqueueDeferred(m, sub.frame(m), b)
			}
		default:
			sub.Deliver(m)
		}
		n++
	}
	return n
}

// releaseBig delivers a big route held by the batch the ordinary way,
// each recipient queued and added to the batch: whatever the reader does
// next must not overtake it. Reader only.
func (s *Session) releaseBig() {
	b := s.batch
	if b == nil || b.big == nil {
		return
	}
	m, rt := b.big, b.bigRoute
	b.big, b.bigRoute = nil, hub.Route{}
	deliverDeferred(m, rt, b)
}

// deliverNow delivers m to every recipient of rt, each writer starting at
// once; it is the delivery of a publish outside any batch (an HTTP
// publish). It returns the number of recipients.
func deliverNow(m *hub.Message, rt hub.Route) int {
	n := 0
	for i := range rt.Len() {
		if sub := rt.At(i); sub != nil {
			sub.Deliver(m)
			n++
		}
	}
	return n
}

// enqueueDeferred queues frame, the encoding of m, for a publisher's batch: instead of starting a
// writer, the session joins the batch and is written at its end.
func (s *Session) enqueueDeferred(m *hub.Message, frame []byte, b *batch) {
	s.mu.Lock()
	ok, slow := s.admitMsgLocked(m, frame)
	join := ok && !s.out.writing && !s.lf.closed && !s.out.deferred
	if join {
		s.out.deferred = true
	}
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
	if join {
		b.sessions = append(b.sessions, s)
	}
}

// broadcast delivers and writes the batch's big route from one goroutine
// per P, taking chunks of recipients from a shared cursor, and returns
// when every recipient has it queued (most have it written). Reader only.
func (s *Session) broadcast() {
	b := s.batch
	w := &routeWork{m: b.big, rt: b.bigRoute, reg: s.reg}
	b.big, b.bigRoute = nil, hub.Route{}
	var wg sync.WaitGroup
	s.goHelpers(w.rt.Len(), &wg, w.run)
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

// routeWork is a big route shared by the goroutines delivering it.
type routeWork struct {
	m    *hub.Message
	rt   hub.Route
	reg  *Registry
	next atomic.Int64
}

func (w *routeWork) run() {
	var t tally
	for {
		lo, hi, ok := nextChunk(&w.next, w.rt.Len())
		if !ok {
			break
		}
		for j := lo; j < hi; j++ {
			switch sub := w.rt.At(j).(type) {
			case nil:
			case *Session:
				if !sub.withheld(w.m) {
					sub.queueAndWrite(w.m, sub.frame(w.m), &t)
				}
			default:
				sub.Deliver(w.m)
			}
		}
	}
	t.addTo(&w.reg.stats)
}

// flushWork is a big set of woken sessions shared by the goroutines
// writing it. They take chunks from a common cursor rather than fixed
// shares, so that when the OS deschedules one of them (the load generator
// or other clients compete for the same cores) the others take over its
// part instead of the broadcast's tail waiting for it.
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

// flushEach writes every session of list, counting into t.
func flushEach(list []*Session, t *tally) {
	for _, s := range list {
		s.flushDeferred(t)
	}
}

// tally counts direct writes, added to the registry's counters once per
// set rather than once per write: with a broadcast split over several
// goroutines, per-write atomic adds would bounce the counters' cache line
// between CPUs.
type tally struct{ bytes, writes, frames uint64 }

func (t *tally) addTo(c *counters) {
	if t.writes > 0 {
		c.bytesOut.Add(t.bytes)
		c.writes.Add(t.writes)
	}
	if t.frames > 0 {
		c.framesOut.Add(t.frames)
	}
}

// flushDeferred writes a session woken by a batching publisher.
func (s *Session) flushDeferred(t *tally) {
	s.mu.Lock()
	if !s.out.deferred {
		s.mu.Unlock()
		return
	}
	s.out.deferred = false
	failed := s.writeNowLocked(t)
	s.mu.Unlock()
	if failed {
		s.reg.stats.writeErrors.Add(1)
		s.abort(ReasonWriteError)
	}
}

// queueAndWrite queues frame and, unless a writer runs or the session
// waits in a publisher's batch, writes it at once like flushDeferred. It
// is how a big route reaches each recipient: one visit instead of a queue
// append now and a write at the batch's end.
func (s *Session) queueAndWrite(m *hub.Message, frame []byte, t *tally) {
	s.mu.Lock()
	ok, slow := s.admitMsgLocked(m, frame)
	failed := false
	if ok && !s.out.deferred {
		failed = s.writeNowLocked(t)
	}
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
	if failed {
		s.reg.stats.writeErrors.Add(1)
		s.abort(ReasonWriteError)
	}
}

// writeNowLocked writes the queue with one non-blocking write when the
// transport allows it and nothing else is writing, handing what the socket
// does not take (or everything, without TryWriter) to a writer goroutine.
// It reports a failed write, for the caller to abort the session once it
// has released the lock. The write happens under s.mu: it never waits,
// and other publishers delivering to this session meanwhile wait a few
// microseconds. Caller holds s.mu.
func (s *Session) writeNowLocked(t *tally) (failed bool) {
	o := &s.out
	if o.writing || s.lf.closed || len(o.queue) == 0 {
		return false
	}
	tw, ok := s.t.(TryWriter)
	if !ok || s.lf.closing {
		s.startWriterLocked()
		return false
	}
	n, err := tw.TryWriteBatch(o.queue)
	if err != nil {
		for _, b := range o.queue {
			o.pending -= len(b)
		}
		s.dropQueueLocked()
		return true
	}
	o.pending -= n
	s.drainedLocked()
	if len(o.lossy.frames)+len(o.lossy.gaps) > 0 {
		o.lossy.sentLocked(o.queue, n)
	}
	rest, sent := unwritten(o.queue, n)
	if len(rest) == 0 {
		s.dropQueueLocked()
		if o.pending == 0 {
			s.writtenLocked()
		}
	} else {
		// The socket is full: a writer goroutine takes over the
		// unwritten frames, the first possibly cut.
		k := copy(o.queue, rest)
		clear(o.queue[k:])
		o.queue = o.queue[:k]
		s.startWriterLocked()
	}
	if n > 0 {
		t.bytes += uint64(n)
		t.writes++
	}
	t.frames += uint64(sent)
	return false
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
