package bench

import (
	"context"
	"net"
	"os"
	"testing"
	"time"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 10, 64, 1000} {
		p := appendPayload(nil, 3, 12345, 1700000000123456789, size)
		if len(p) < size {
			t.Errorf("size %d: payload %d bytes", size, len(p))
		}
		pub, seq, ts, err := parsePayload(p)
		if err != nil || pub != 3 || seq != 12345 || ts != 1700000000123456789 {
			t.Errorf("size %d: parse %q = %d %d %d %v", size, p, pub, seq, ts, err)
		}
	}
	for _, bad := range []string{"", "1 2", "1 2 x", "a b c", "1  2 3", "99999999999999999999999 1 1 "} {
		if _, _, _, err := parsePayload([]byte(bad)); err == nil {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte("0 1 2 xxxx"), 3, uint64(7), int64(9))
	f.Fuzz(func(t *testing.T, in []byte, pub int, seq uint64, ts int64) {
		_, _, _, _ = parsePayload(in) // must not panic
		if pub < 0 || pub > 1<<20 || ts < 0 || seq > 1<<62 {
			return
		}
		p := appendPayload(nil, pub, seq, ts, 64)
		gp, gs, gt, err := parsePayload(p)
		if err != nil || gp != pub || gs != seq || gt != ts {
			t.Fatalf("round trip %d %d %d: %d %d %d %v", pub, seq, ts, gp, gs, gt, err)
		}
	})
}

func TestReadProcSelf(t *testing.T) {
	t.Parallel()
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.cpuSeconds < 0 || s.rssBytes <= 0 {
		t.Errorf("self sample %+v", s)
	}
	if _, err := readProc(1 << 30); err == nil {
		t.Error("readProc of a missing PID succeeded")
	}
}

func TestFindListenerPID(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pid, err := findListenerPID(ln.Addr().String())
	if err != nil || pid != os.Getpid() {
		t.Errorf("findListenerPID = %d, %v; want own PID %d", pid, err, os.Getpid())
	}
	ip, port, ok := parseProcAddr("0100007F:1F92")
	if !ok || !ip.Equal(net.IPv4(127, 0, 0, 1)) || port != 8082 {
		t.Errorf("parseProcAddr = %v %d %v", ip, port, ok)
	}
}

func TestParseTarget(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:8082":       "tcp://127.0.0.1:8082",
		"tcp://localhost:1":    "tcp://localhost:1",
		"redis://127.0.0.1:16": "redis://127.0.0.1:16",
		"nats://[::1]:4222":    "nats://[::1]:4222",
	} {
		tg, err := parseTarget(in)
		if err != nil || tg.String() != want {
			t.Errorf("parseTarget(%q) = %v, %v; want %s", in, tg, err, want)
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for q, want := range map[float64]float64{0.5: 5, 0.9: 9, 0.99: 10, 1: 10, 0: 1} {
		if got := quantile(v, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing")
	}
}
