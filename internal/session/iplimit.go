package session

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter applies the per-client publish rate limit to clients without
// a session (HTTP publishes): one token bucket per client IP address.
// Buckets idle for longer than it takes them to refill are dropped in
// passing, so the map stays as small as the set of recent publishers; no
// goroutine is needed.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*ipBucket
	lastSweep time.Time
}

type ipBucket struct {
	lim  *rate.Limiter
	used time.Time
}

// ipSweepEvery is how often, at most, Allow looks for idle buckets.
const ipSweepEvery = time.Minute

// newIPLimiter returns a limiter of perSecond publishes per IP with the
// given burst (DefaultRateBurst when not positive), or nil when perSecond
// is 0 (no limit).
func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = DefaultRateBurst
	}
	return &ipLimiter{limit: rate.Limit(perSecond), burst: burst, buckets: make(map[string]*ipBucket)}
}

// allow reports whether remoteAddr (host:port or host) may publish now and,
// if not, how long until it may. A nil limiter allows everything.
func (l *ipLimiter) allow(remoteAddr string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b := l.buckets[host]
	if b == nil {
		b = &ipBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[host] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweepLocked drops buckets that have been idle long enough to be full
// again: forgetting them changes nothing. Caller holds l.mu.
func (l *ipLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < ipSweepEvery {
		return
	}
	l.lastSweep = now
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for host, b := range l.buckets {
		if now.Sub(b.used) > refill {
			delete(l.buckets, host)
		}
	}
}

// size returns the number of buckets held (for tests).
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
