package session

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// BenchmarkIdleSweep is the cost of one idle sweep over N sessions, all
// seen since the last sweep (the busy case: each is stamped), which the
// registry pays once per sweep interval (at most once a second) while
// holding Registry.mu. Report: ns per session.
func BenchmarkIdleSweep(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			reg := NewRegistry(hub.New(hub.Config{}), Limits{IdleTimeout: time.Hour})
			ss := make([]*Session, n)
			for i := range ss {
				ss[i] = New(reg, Config{Door: "bench"}, &discardTransport{}, benchCodec{})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, s := range ss {
					s.Alive()
				}
				reg.sweepIdle()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/session")
			for _, s := range ss {
				s.Finish(ReasonShutdown)
			}
			if err := reg.Shutdown(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
}
