//go:build linux

package tcpfront

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// parks tells whether idle connections can give up their goroutine here.
// Connections park on Linux.
const parks = true

// parkState is a connection's bookkeeping in the parker.
type parkState struct {
	id         uint64 // key in parker.parked; 0 until first parked
	registered bool   // the fd is in the epoll set (armed or not)
}

// parker holds idle connections without a goroutine. A connection idle for
// Config.ParkAfter lets its goroutine end and registers its socket, one
// shot, in an epoll set of our own; one poller goroutine waits on that set
// and starts a new goroutine for each connection that becomes readable (or
// is closed, by its session too: that is how the idle timeout ends it). An idle connection then costs
// its session and socket, not a goroutine and its stack. The runtime's own
// poller still serves the connection's writes. It is safe for concurrent
// use.
type parker struct {
	f     *Front
	log   *slog.Logger
	parks atomic.Uint64 // times a connection was parked, ever

	mu     sync.Mutex // guards the fields below
	err    error      // set if the epoll set could not be made: parking is off
	epfd   int
	wakefd int // eventfd that interrupts epoll_wait on close
	parked map[uint64]*reader
	nextID uint64
	closed bool
	done   chan struct{} // closed when the poller has exited

	sinceRelease int       // connections parked since the last memory release
	lastRelease  time.Time // poller only
}

// Memory release policy: once releaseAfter connections have parked since
// the last release, and at most every releaseEvery, the poller forces a
// garbage collection and returns free memory to the OS. The stacks of the
// goroutines that parked connections gave up are only freed by a GC, and an
// idle server allocates too little to start one for minutes.
const (
	releaseAfter = 1024
	releaseEvery = 5 * time.Second
)

func newParker(f *Front) *parker {
	return &parker{f: f, log: f.log, parked: make(map[uint64]*reader)}
}

// startLocked makes the epoll set and starts the poller, once. Caller
// holds p.mu.
func (p *parker) startLocked() error {
	if p.done != nil || p.err != nil {
		return p.err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.err = fmt.Errorf("tcp door: epoll_create1: %w", err)
		return p.err
	}
	r1, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		_ = syscall.Close(epfd)
		p.err = fmt.Errorf("tcp door: eventfd: %w", errno)
		return p.err
	}
	wakefd := int(r1)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(wakefd)
		p.err = fmt.Errorf("tcp door: epoll_ctl eventfd: %w", err)
		return p.err
	}
	p.epfd, p.wakefd = epfd, wakefd
	p.done = make(chan struct{})
	go p.poll()
	return nil
}

// park takes over r, whose goroutine must end right after park returns
// true. It returns false when parking is off or failed; the caller then
// keeps waiting itself.
func (p *parker) park(r *reader) bool {
	p.mu.Lock()
	if p.closed || p.startLocked() != nil {
		p.mu.Unlock()
		return false
	}
	if r.park.id == 0 {
		p.nextID++
		r.park.id = p.nextID
	}
	id := r.park.id
	p.parked[id] = r
	p.sinceRelease++
	op := syscall.EPOLL_CTL_ADD
	if r.park.registered {
		op = syscall.EPOLL_CTL_MOD
	}
	r.park.registered = true
	p.mu.Unlock()

	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
	var ctlErr error
	err := r.rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev)
		if errors.Is(ctlErr, syscall.ENOENT) && op == syscall.EPOLL_CTL_MOD {
			ctlErr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		// Not parked (for example the connection was closed meanwhile).
		// Whoever removes it from the map owns it; if the poller or
		// wake already did, they started a goroutine for it, so ours
		// must end: report success.
		p.mu.Lock()
		_, still := p.parked[id]
		delete(p.parked, id)
		p.mu.Unlock()
		return !still
	}
	p.parks.Add(1)
	return true
}

// wake resumes r if it is parked; a connection closed by its writer is
// never reported by epoll, so Close calls this.
func (p *parker) wake(r *reader) {
	p.mu.Lock()
	id := r.park.id
	_, ok := p.parked[id]
	if ok {
		delete(p.parked, id)
	}
	p.mu.Unlock()
	if ok {
		go p.f.runConn(r)
	}
}

// counts returns how many connections are parked now and how many times
// one was parked since the door started.
func (p *parker) counts() (now int, ever uint64) {
	p.mu.Lock()
	now = len(p.parked)
	p.mu.Unlock()
	return now, p.parks.Load()
}

// poll is the parker's goroutine: it resumes connections that became
// readable or were closed (by their session, for the idle timeout too).
func (p *parker) poll() {
	defer close(p.done)
	var events [256]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], 1000)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			p.log.Error("tcp door: epoll_wait failed; parked connections resume", "err", err)
			p.resumeAll()
			return
		}
		var wake []*reader
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		release := p.sinceRelease >= releaseAfter && time.Since(p.lastRelease) >= releaseEvery
		if release {
			p.sinceRelease = 0
		}
		for _, ev := range events[:max(n, 0)] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if r, ok := p.parked[id]; ok {
				delete(p.parked, id)
				wake = append(wake, r)
			}
		}
		p.mu.Unlock()
		for _, r := range wake {
			go p.f.runConn(r)
		}
		if release {
			debug.FreeOSMemory()
			p.lastRelease = time.Now()
		}
	}
}

// resumeAll gives every parked connection its goroutine back.
func (p *parker) resumeAll() {
	p.mu.Lock()
	p.closed = true
	all := make([]*reader, 0, len(p.parked))
	for id, r := range p.parked {
		delete(p.parked, id)
		all = append(all, r)
	}
	p.mu.Unlock()
	for _, r := range all {
		go p.f.runConn(r)
	}
}

// close stops the poller. Every connection has ended by then (Front.Wait
// waits for them first), so nothing is parked.
func (p *parker) close() {
	p.mu.Lock()
	started := p.done != nil
	p.closed = true
	p.mu.Unlock()
	if !started {
		return
	}
	var one = [8]byte{1}
	_, _ = syscall.Write(p.wakefd, one[:])
	<-p.done
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wakefd)
}
