package session

import (
	"runtime"
)

// TryWriter is an optional Transport method: write as much of frames as
// the socket takes right now, without waiting, and report the bytes
// written (0 when it would block). Transports that have it let a
// publisher write to idle subscribers directly at the end of its batch,
// with no writer goroutine at all.
type TryWriter interface {
	TryWriteBatch(frames [][]byte) (int, error)
}

// flushSet is the sessions one publisher's deliveries woke during one read
// batch. Only the publishing goroutine touches it.
type flushSet struct {
	sessions []*Session
}

// bigFlush is the flush-set size above which EndBatch spreads the writes
// over one goroutine per P (a broadcast to thousands of subscribers).
const bigFlush = 256

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
	if s.batch == nil || len(s.batch.sessions) == 0 {
		return
	}
	list := s.batch.sessions
	if len(list) > bigFlush {
		parts := min(runtime.GOMAXPROCS(0), (len(list)+bigFlush-1)/bigFlush)
		per := (len(list) + parts - 1) / parts
		for i := per; i < len(list); i += per {
			chunk := append([]*Session(nil), list[i:min(i+per, len(list))]...)
			s.reg.flushers.Add(1)
			go func() {
				defer s.reg.flushers.Done()
				flushAll(chunk)
			}()
		}
		list = list[:per]
	}
	flushAll(list)
	clear(s.batch.sessions)
	s.batch.sessions = s.batch.sessions[:0]
	if cap(s.batch.sessions) > 4*bigFlush {
		s.batch.sessions = nil // do not pin a broadcast-sized list
	}
}

// publishTag returns the tag a publish by this session carries: its flush
// set while a batch is open, else nil (writers start at once).
func (s *Session) publishTag() any {
	if !s.batched {
		return nil
	}
	if s.batch == nil {
		s.batch = &flushSet{}
	}
	return s.batch
}

func flushAll(list []*Session) {
	for _, t := range list {
		t.flushDeferred()
	}
}

// flushDeferred writes a session woken by a batching publisher: directly,
// with one non-blocking write, when the transport allows it and nothing
// else is writing; whatever the socket does not take (or every frame, for
// transports without TryWriter) goes to a writer goroutine as usual.
func (s *Session) flushDeferred() {
	s.mu.Lock()
	if !s.deferred {
		s.mu.Unlock()
		return
	}
	s.deferred = false
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
	s.writing = true
	s.writers.Add(1) // this goroutine is the session's writer for now
	batch := s.queue
	s.queue = s.spare
	s.spare = nil
	s.mu.Unlock()
	defer s.writers.Done()

	total := 0
	for _, b := range batch {
		total += len(b)
	}
	n, err := tw.TryWriteBatch(batch)
	if err != nil {
		s.mu.Lock()
		s.pending -= total
		s.writing = false
		s.mu.Unlock()
		s.reg.stats.writeErrors.Add(1)
		s.abort(ReasonWriteError)
		return
	}
	if n > 0 {
		s.reg.stats.bytesOut.Add(uint64(n))
		s.reg.stats.writes.Add(1)
	}
	rest, sent := unwritten(batch, n)
	s.reg.stats.framesOut.Add(uint64(sent))

	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending -= n
	if len(rest) == 0 && len(s.queue) == 0 {
		clear(batch)
		if s.spare == nil {
			s.spare = batch[:0]
		} else {
			s.reg.putFrames(batch)
		}
		s.writing = false
		s.reg.putFrames(s.queue)
		s.reg.putFrames(s.spare)
		s.queue, s.spare = nil, nil
		return
	}
	// The socket is full or more came in: a writer goroutine takes over,
	// the unwritten frames first.
	if len(rest) > 0 {
		merged := append(rest, s.queue...)
		clear(batch[:sent])
		s.reg.putFrames(s.queue)
		s.queue = merged
	} else {
		clear(batch)
		s.spare = batch[:0]
	}
	s.writers.Add(1)
	go s.writeLoop()
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
