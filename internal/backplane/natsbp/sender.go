package natsbp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Publishing towards NATS. A stalled NATS server stops reading, the TCP
// buffers fill, and nats.go's Publish then blocks in a socket write while
// holding the connection's lock. So no client path ever calls Publish: a
// message or presence update is queued, and one sender goroutine writes the
// queue to the main connection. The queue is bounded (Config.ForwardBuffer
// messages and Config.ForwardBufferBytes bytes); a message that does not fit
// is kept local, counted in Status.ForwardDropped and logged (at most once
// per overflowLogEvery), never waited for.

// overflowLogEvery bounds how often a full forward buffer is logged.
const overflowLogEvery = 5 * time.Second

// ErrOverflow is returned by Forward when the forward buffer is full: the
// message was delivered locally only.
var ErrOverflow = errors.New("natsbp: forward buffer full")

// ErrCutOff is returned by Forward while the node is cut off from NATS
// (disconnected or stalled): the message was delivered locally only.
var ErrCutOff = errors.New("natsbp: cut off from NATS")

// outMsg is one publish waiting for the sender.
type outMsg struct {
	subj string
	data []byte
	buf  *[]byte // returned to Backplane.bufs once sent, if set
	hdr  nats.Header
}

// enqueue queues one publish without blocking. ctl messages (presence)
// have their own queue, so a flood of messages cannot push presence out.
func (b *Backplane) enqueue(m outMsg, ctl bool) error {
	q := b.out
	if ctl {
		q = b.ctl
	}
	n := int64(len(m.data))
	if b.outBytes.Add(n) > int64(b.cfg.ForwardBufferBytes) {
		b.outBytes.Add(-n)
		return b.overflow(m)
	}
	select {
	case q <- m:
		return nil
	default:
		b.outBytes.Add(-n)
		return b.overflow(m)
	}
}

// overflow counts and (rate-limited) logs a publish that did not fit.
func (b *Backplane) overflow(m outMsg) error {
	b.release(m)
	total := b.forwardDropped.Add(1)
	now := time.Now().UnixNano()
	last := b.lastOverflowLog.Load()
	if now-last >= int64(overflowLogEvery) && b.lastOverflowLog.CompareAndSwap(last, now) {
		b.log.Warn("cluster: forward buffer full; messages delivered locally only", "dropped_total", total,
			"buffer_msgs", b.cfg.ForwardBuffer, "buffer_bytes", b.cfg.ForwardBufferBytes, "state", b.stateName())
	}
	return fmt.Errorf("%w (%d messages, %d bytes)", ErrOverflow, b.cfg.ForwardBuffer, b.cfg.ForwardBufferBytes)
}

func (b *Backplane) release(m outMsg) {
	if m.buf != nil {
		*m.buf = m.data[:0]
		b.bufs.Put(m.buf)
	}
}

// send runs on the sender goroutine: it publishes m if the connection is
// up and drops it (counted) otherwise.
func (b *Backplane) send(m outMsg, ctl bool) {
	b.outBytes.Add(-int64(len(m.data)))
	defer b.release(m)
	if b.state.Load() != stateConnected {
		if !ctl {
			b.forwardErrors.Add(1)
		}
		return
	}
	if !ctl {
		binary.LittleEndian.PutUint32(m.data[epochAt:], b.epoch.Load())
	}
	b.publishing.Store(time.Now().UnixNano())
	var err error
	if m.hdr != nil {
		err = b.nc.PublishMsg(&nats.Msg{Subject: m.subj, Data: m.data, Header: m.hdr})
	} else {
		err = b.nc.Publish(m.subj, m.data) // copies data
	}
	b.publishing.Store(0)
	if err != nil {
		if !ctl {
			b.forwardErrors.Add(1)
		}
		return
	}
	if !ctl {
		b.forwarded.Add(1)
	}
}

// sender writes queued publishes to NATS, presence first, until stopSend
// is closed; then it sends what is left and returns.
func (b *Backplane) sender() {
	defer b.swg.Done()
	for {
		select {
		case m := <-b.ctl:
			b.send(m, true)
			continue
		default:
		}
		select {
		case m := <-b.ctl:
			b.send(m, true)
		case m := <-b.out:
			b.send(m, false)
		case <-b.stopSend:
			for {
				select {
				case m := <-b.ctl:
					b.send(m, true)
				case m := <-b.out:
					b.send(m, false)
				default:
					return
				}
			}
		}
	}
}
