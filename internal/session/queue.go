package session

import (
	"runtime"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// enqueue appends one frame to the queue and makes sure a writer runs. A
// frame that would take the queue over its limit makes the session a slow
// consumer; replies are held to the same limit as messages.
func (s *Session) enqueue(b []byte) {
	s.mu.Lock()
	ok, slow := s.admitLocked(b)
	if ok {
		s.startWriterLocked()
	}
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
}

// enqueueMessage is enqueue for frame, the encoding of m, under the
// policy of m's topic (lossy.go).
func (s *Session) enqueueMessage(m *hub.Message, frame []byte) {
	s.mu.Lock()
	ok, slow := s.admitMsgLocked(m, frame)
	if ok {
		s.startWriterLocked()
	}
	s.mu.Unlock()
	if slow {
		s.logSlowConsumer()
	}
}

// admitLocked queues b unless the session is closing or b would take the
// queue over its limit. It reports whether b was queued, and whether the
// session has just become a slow consumer (for the caller to log once it
// has released the lock). Caller holds s.mu.
func (s *Session) admitLocked(b []byte) (queued, slow bool) {
	if s.lf.closing {
		return false, false
	}
	if n := s.out.pending + len(b); n > s.cfg.MaxPending || s.overSoftLocked(n) {
		s.beginCloseLocked(ReasonSlowConsumer, true)
		return false, true
	}
	s.appendLocked(b)
	return true, false
}

// logSlowConsumer logs and counts a slow consumer's disconnection. It is
// called without the session lock, after admitLocked said so.
func (s *Session) logSlowConsumer() {
	s.reg.stats.slowConsumers.Add(1)
	s.Logger().Warn("slow consumer disconnected", "nick", s.client.Nick(), "max_pending", s.cfg.MaxPending)
}

// appendLocked adds b to the queue. The first frame of a session with no
// writer goes into the session's own slot, so a broadcast waking thousands
// of idle sessions for one frame each borrows no queue slices; a second
// frame moves the queue to a pooled slice. Caller holds s.mu.
func (s *Session) appendLocked(b []byte) {
	o := &s.out
	switch {
	case o.queue == nil && !o.writing:
		// No writer holds the slot (a writer's batch or spare may
		// alias it only while writing).
		o.queue = o.slot[:0:1]
	case o.queue == nil:
		o.queue = s.reg.getFrames()
	case len(o.queue) == cap(o.queue) && cap(o.queue) < frameSliceCap:
		old := o.queue
		o.queue = append(s.reg.getFrames(), old...)
		clear(old)
	}
	o.queue = append(o.queue, b)
	o.pending += len(b)
}

// dropQueueLocked empties the queue of an idle session after its frames
// went out or were dropped, pinning no slice. Caller holds s.mu.
func (s *Session) dropQueueLocked() {
	clear(s.out.queue)
	s.reg.putFrames(s.out.queue) // keeps out the session's own slot (cap 1)
	s.out.queue = nil
	s.out.slot[0] = nil
	s.out.lossy.resetLocked()
}

// startWriterLocked starts the writer goroutine unless one runs. Caller
// holds s.mu.
func (s *Session) startWriterLocked() {
	if s.out.writing || s.lf.closed {
		return
	}
	s.out.writing = true
	s.writers.Add(1)
	go s.writeLoop()
}

// writeLoop drains the queue, a whole batch per WriteBatch, and exits when
// the queue is empty. When the session is closing it closes the transport
// once the final notice is out.
func (s *Session) writeLoop() {
	defer s.writers.Done()
	lingered := false
	busy := false // more than one frame has come through this writer
	for {
		batch, finish, exit, linger := s.takeBatch(busy, lingered)
		if linger {
			// Give a busy publisher one turn to queue more before this
			// writer exits: fewer writer start-ups, bigger batches. A
			// writer started for a single frame (a broadcast waking
			// thousands of sessions) exits at once instead.
			lingered = true
			runtime.Gosched()
			continue
		}
		if exit {
			if finish {
				s.closeTransport()
			}
			return
		}
		lingered = false
		n := 0
		for _, b := range batch {
			n += len(b)
		}
		err := s.t.WriteBatch(batch)
		frames := len(batch)
		busy = busy || frames > 1
		clear(batch)
		s.returnBatch(batch, n)
		if err != nil {
			s.reg.stats.writeErrors.Add(1)
			s.abort(ReasonWriteError)
			return
		}
		s.reg.stats.bytesOut.Add(uint64(n))
		s.reg.stats.writes.Add(1)
		s.reg.stats.framesOut.Add(uint64(frames))
	}
}

// takeBatch is the writer's look at the queue: the frames to write next,
// or whether to linger once, or to exit (and then whether to close the
// transport, the final notice being out).
func (s *Session) takeBatch(busy, lingered bool) (batch [][]byte, finish, exit, linger bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &s.out
	if len(o.queue) == 0 && busy && !s.lf.closed && !s.lf.closing && !lingered {
		return nil, false, false, true
	}
	if len(o.queue) == 0 || s.lf.closed {
		o.writing = false
		// An idle session pins no write buffers.
		s.reg.putFrames(o.queue)
		s.reg.putFrames(o.spare)
		o.queue, o.spare = nil, nil
		return nil, s.lf.closing && !s.lf.closed, true, false
	}
	batch = o.queue
	o.queue, o.spare = o.spare, nil
	o.lossy.resetLocked()
	return batch, false, false, false
}

// returnBatch accounts for n bytes written and keeps the batch's array as
// the next queue's.
func (s *Session) returnBatch(batch [][]byte, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out.pending -= n
	s.drainedLocked()
	if s.out.pending == 0 && !s.lf.closing {
		s.writtenLocked()
	}
	if s.out.spare == nil {
		s.out.spare = batch[:0]
	} else {
		s.reg.putFrames(batch)
	}
}

// beginCloseLocked starts a graceful close: drop what is queued if drop is
// set, queue the reason's notice, and let the writer close the transport
// once the notice is out. Caller holds s.mu.
func (s *Session) beginCloseLocked(r CloseReason, drop bool) {
	if s.lf.closing {
		return
	}
	s.lf.closing = true
	s.lf.reason = r
	o := &s.out
	if drop {
		for _, b := range o.queue {
			o.pending -= len(b) // frames in flight stay counted until written
		}
		clear(o.queue)
		o.queue = o.queue[:0]
		o.lossy.resetLocked()
		// A writer blocked on a peer that does not read gets a deadline,
		// so the slot frees up even if the notice can never be sent.
		_ = s.t.SetWriteDeadline(time.Now().Add(slowConsumerGrace))
	}
	if notice := r.Notice(); notice != "" {
		switch r {
		case ReasonSlowConsumer:
			notice = s.resumeHintLocked(notice)
		case ReasonIdle:
			notice = s.reg.idleNotice(notice)
		}
		s.appendLocked(s.codec.Reply(Reply{Error: r.IsError(), Text: notice, Final: r}))
	}
	if len(o.queue) == 0 && !o.writing {
		s.lf.closed = true
		s.writers.Add(1)
		go s.finishClose(r)
		return
	}
	s.startWriterLocked()
}

// CloseGracefully ends the session after everything already queued and
// the reason's notice have been written. It does not wait.
func (s *Session) CloseGracefully(r CloseReason) {
	s.mu.Lock()
	s.beginCloseLocked(r, false)
	s.mu.Unlock()
}

// Abort ends the session at once, without draining the queue.
func (s *Session) Abort(r CloseReason) { s.abort(r) }

// abort closes the transport at once, dropping whatever is queued.
func (s *Session) abort(r CloseReason) {
	s.markClosing(r)
	s.closeTransport()
}

// markClosing records r as the reason unless the session is closing
// already.
func (s *Session) markClosing(r CloseReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.lf.closing {
		s.lf.closing = true
		s.lf.reason = r
	}
}

// closeTransport closes the transport once, with the session's reason.
// Marking the session closed under s.mu first is what keeps a publisher's
// direct write (TryWriter) from racing the close.
func (s *Session) closeTransport() {
	s.mu.Lock()
	if s.lf.closed {
		s.mu.Unlock()
		return
	}
	s.lf.closed = true
	r := s.lf.reason
	s.mu.Unlock()
	_ = s.t.Close(r)
}

// finishClose closes the transport from a goroutine of its own, for the
// case where no writer runs to do it.
func (s *Session) finishClose(r CloseReason) {
	defer s.writers.Done()
	_ = s.t.Close(r)
}
