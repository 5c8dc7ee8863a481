package session

import (
	"unsafe"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// This file holds the drop-oldest policy of lossy live feeds (a history
// rule's policy = "drop-oldest", which marks the topic's messages
// hub.Message.Lossy). A subscriber whose queue would overflow with a
// message of such a topic is not cut as a slow consumer: the oldest
// messages of that topic still queued are dropped to make room, and a gap
// marker ("missed N messages on TOPIC", the Reply with Gap set) takes the
// place of the first one dropped, so the client reads what it kept of
// the topic in order, told where and how much is missing. Messages of
// other topics, and replies, are never dropped: a queue that overflows
// with them cuts the session as before (queue.go).
//
// Why the oldest: a lossy feed's value is its latest messages (a price, a
// gauge); a reader that catches up wants them, not the backlog. When no
// message of the topic is queued any more (the writer has them all in
// hand), the new message is dropped instead and counted in the marker.
//
// The cost: nothing on the path of a message that is not lossy but a
// bool test; a lossy message adds an entry to the session's list of
// queued lossy frames (a slice reused across writes, so no allocation
// once grown). An overflow scans the queue once and frees an eighth of
// the limit, so a stalled reader costs one scan per eighth of its queue,
// not one per message, plus the marker's encoding.

// lossyQueue is what the session knows of the lossy frames and gap
// markers in its queue (output.queue). Guarded by Session.mu.
type lossyQueue struct {
	frames []lossyFrame // lossy message frames in the queue, oldest first
	gaps   []lossGap    // gap markers in the queue, one per topic at most
}

// lossyFrame is one queued frame of a lossy topic.
type lossyFrame struct {
	at    *byte // the frame's first byte: its identity in the queue
	topic string
}

// lossGap is a gap marker in the queue and the count it says.
type lossGap struct {
	topic  string
	missed uint64
	at     *byte
}

// frameID is a frame's identity: its first byte. A frame is queued once
// per session, so the identity is unique within a queue.
func frameID(b []byte) *byte { return unsafe.SliceData(b) }

// resetLocked forgets every tracked frame: the queue they were in has
// been taken by the writer or dropped. Caller holds s.mu.
func (l *lossyQueue) resetLocked() {
	if len(l.frames) > 0 || len(l.gaps) > 0 {
		clear(l.frames)
		clear(l.gaps)
		l.frames, l.gaps = l.frames[:0], l.gaps[:0]
	}
}

// sentLocked forgets the tracked frames among the first n bytes of queue,
// written (or started: a frame cut by a short write cannot be dropped).
// Caller holds s.mu.
func (l *lossyQueue) sentLocked(queue [][]byte, n int) {
	j := 0
	for _, f := range queue {
		if n <= 0 {
			break
		}
		id := frameID(f)
		if j < len(l.frames) && l.frames[j].at == id {
			j++
		}
		for i := 0; i < len(l.gaps); i++ {
			if l.gaps[i].at == id {
				l.gaps = append(l.gaps[:i], l.gaps[i+1:]...)
				break
			}
		}
		n -= len(f)
	}
	if j > 0 {
		k := copy(l.frames, l.frames[j:])
		clear(l.frames[k:])
		l.frames = l.frames[:k]
	}
}

// admitMsgLocked is admitLocked for frame, the encoding of m: a message of
// a lossy topic that would overflow the queue makes room as this file
// says instead of cutting the session. Caller holds s.mu.
func (s *Session) admitMsgLocked(m *hub.Message, frame []byte) (queued, slow bool) {
	if !m.Lossy {
		return s.admitLocked(frame)
	}
	return s.admitLossyLocked(m.Topic, frame)
}

// admitLossyLocked queues frame, a message of the lossy topic, dropping
// the topic's oldest queued messages if the queue would overflow. Caller
// holds s.mu.
func (s *Session) admitLossyLocked(topic string, frame []byte) (queued, slow bool) {
	if s.lf.closing || len(frame) == 0 {
		return false, false
	}
	o := &s.out
	n := o.pending + len(frame)
	limit := s.cfg.MaxPending
	switch {
	case n > limit:
	case s.overSoftLocked(n):
		limit = s.cfg.PendingSoft
	default:
		s.appendLocked(frame)
		o.lossy.frames = append(o.lossy.frames, lossyFrame{at: frameID(frame), topic: topic})
		return true, false
	}
	queued = s.dropOldestLocked(topic, frame, n-limit+limit/8)
	s.drainedLocked()
	return queued, false
}

// dropOldestLocked drops the oldest queued messages of topic until need
// bytes are free, puts or updates the topic's gap marker, and queues
// frame if it then fits under MaxPending (else drops it too, counted).
// It reports whether frame was queued. Caller holds s.mu.
func (s *Session) dropOldestLocked(topic string, frame []byte, need int) bool {
	o := &s.out
	l := &o.lossy
	gi := -1
	for i := range l.gaps {
		if l.gaps[i].topic == topic {
			gi = i
			break
		}
	}
	var marker *byte
	if gi >= 0 {
		marker = l.gaps[gi].at
	}
	markerPos := -1 // where the marker is or goes in the compacted queue
	freed, dropped := 0, 0
	w, j, lw := 0, 0, 0
	for _, f := range o.queue {
		id := frameID(f)
		if j < len(l.frames) && l.frames[j].at == id {
			lf := l.frames[j]
			j++
			if lf.topic == topic && freed < need {
				freed += len(f)
				dropped++
				if markerPos < 0 {
					markerPos = w // the marker takes the first one's place
					o.queue[w] = nil
					w++
				}
				continue
			}
			l.frames[lw] = lf
			lw++
		} else if marker != nil && id == marker && markerPos < 0 {
			markerPos = w
		}
		o.queue[w] = f
		w++
	}
	// Entries that matched no queued frame were stale: gone.
	clear(o.queue[w:])
	o.queue = o.queue[:w]
	clear(l.frames[lw:])
	l.frames = l.frames[:lw]
	o.pending -= freed

	fits := o.pending+len(frame)+gapMarkerRoom <= s.cfg.MaxPending
	if !fits {
		dropped++
	}
	if dropped == 0 {
		// Over the soft limit only, with nothing of the topic queued:
		// the new message fits.
		s.appendLocked(frame)
		l.frames = append(l.frames, lossyFrame{at: frameID(frame), topic: topic})
		return true
	}
	missed := uint64(dropped)
	if gi >= 0 {
		missed += l.gaps[gi].missed
	}
	gap := Gap{Topic: topic, Missed: missed}
	b := s.codec.Reply(Reply{Topic: topic, Gap: &gap, Text: gap.Text()})
	switch {
	case markerPos >= 0:
		if old := o.queue[markerPos]; old != nil {
			o.pending -= len(old)
		}
		o.queue[markerPos] = b
		o.pending += len(b)
	default:
		s.appendLocked(b)
	}
	if gi >= 0 {
		l.gaps[gi].missed, l.gaps[gi].at = missed, frameID(b)
	} else {
		l.gaps = append(l.gaps, lossGap{topic: topic, missed: missed, at: frameID(b)})
	}
	s.reg.stats.lossyDropped.Add(uint64(dropped))
	if !fits {
		return false
	}
	s.appendLocked(frame)
	l.frames = append(l.frames, lossyFrame{at: frameID(frame), topic: topic})
	return true
}

// gapMarkerRoom is the room a gap marker needs in the queue, about.
const gapMarkerRoom = 128
