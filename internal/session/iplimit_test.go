package session

import (
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	t.Parallel()
	if ok, _ := (*ipLimiter)(nil).allow("1.2.3.4:5", time.Now()); !ok || newIPLimiter(0, 5) != nil {
		t.Fatal("no rate limit must allow everything")
	}
	l := newIPLimiter(1, 2) // 1 per second, burst 2
	t0 := time.Unix(1000, 0)
	steps := []struct {
		addr     string
		at       time.Duration
		want     bool
		wantWait time.Duration // when refused
	}{
		{"10.0.0.1:1111", 0, true, 0},
		{"10.0.0.1:2222", 0, true, 0}, // same IP, other port: same bucket
		{"10.0.0.1:3333", 0, false, time.Second},
		{"10.0.0.2:1111", 0, true, 0}, // another IP has its own bucket
		{"10.0.0.1:1111", 500 * time.Millisecond, false, 500 * time.Millisecond},
		{"10.0.0.1:1111", time.Second, true, 0},
		{"[::1]:80", time.Second, true, 0},
		{"no-port", time.Second, true, 0},
	}
	for i, s := range steps {
		ok, wait := l.allow(s.addr, t0.Add(s.at))
		if ok != s.want || (!ok && wait != s.wantWait) {
			t.Fatalf("step %d (%s at %v): allow = %v, wait %v; want %v, %v", i, s.addr, s.at, ok, wait, s.want, s.wantWait)
		}
	}
	if n := l.size(); n != 4 {
		t.Fatalf("%d buckets, want 4", n)
	}
	// Long after, idle buckets are full again and are dropped in passing.
	if ok, _ := l.allow("10.0.0.9:1", t0.Add(time.Hour)); !ok {
		t.Fatal("a new address was refused")
	}
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets after an hour, want only the new one", n)
	}
}
