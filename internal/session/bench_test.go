package session

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

// discardTransport counts what it is asked to write and writes nothing,
// so BenchmarkSessionFanout measures the queue and writer machinery alone.
type discardTransport struct {
	frames, writes atomic.Int64
}

func (d *discardTransport) WriteBatch(f [][]byte) error {
	d.frames.Add(int64(len(f)))
	d.writes.Add(1)
	return nil
}
func (d *discardTransport) SetWriteDeadline(time.Time) error { return nil }
func (d *discardTransport) Close(CloseReason) error          { return nil }

type benchCodec struct{}

// benchFormat is the frame-cache slot of benchCodec.
var benchFormat, _ = frames.NewFormats().Register("bench-line")

func (benchCodec) Format() *frames.Format { return benchFormat }
func (benchCodec) Message(m *hub.Message) []byte {
	return []byte("[" + m.Topic + "] " + m.From + ": " + m.Text + "\n")
}
func (benchCodec) Reply(r Reply) []byte { return []byte("* " + r.Text + "\n") }

// BenchmarkSessionFanout publishes to K sessions and waits until every
// frame has been handed to a transport: hub fan-out, encoding once, queue
// appends, on-demand writers and batching, without the kernel.
func BenchmarkSessionFanout(b *testing.B) {
	for _, k := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			h := hub.New(hub.Config{})
			reg := NewRegistry(h, Limits{})
			ts := make([]*discardTransport, k)
			ss := make([]*Session, k)
			for i := range ts {
				ts[i] = &discardTransport{}
				ss[i] = New(reg, Config{Door: "bench", MaxPending: 64 << 20}, ts[i], benchCodec{})
				if err := ss[i].client.Subscribe("bench.t", ""); err != nil {
					b.Fatal(err)
				}
			}
			pub := h.Connect(&discardSub{})
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m, rt, _ := pub.Publish("bench.t", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 0)
				deliverNow(m, rt)
			}
			for _, t := range ts {
				for t.frames.Load() < int64(b.N) {
					time.Sleep(50 * time.Microsecond)
				}
			}
			b.StopTimer()
			var frames, writes int64
			for _, t := range ts {
				frames += t.frames.Load()
				writes += t.writes.Load()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/delivery")
			b.ReportMetric(float64(frames)/float64(writes), "frames/write")
			for _, s := range ss {
				s.Finish(ReasonShutdown)
			}
			pub.Close()
		})
	}
}

type discardSub struct{}

func (discardSub) Deliver(*hub.Message) {}

// BenchmarkDoPublish is the per-publish hot path of a session's requests:
// Do(OpPub) to one subscriber, inside a read batch as the doors run it,
// with the idle timeout off and on (Do records the sign of life either
// way; the sweep runs on its own timer). It must not allocate more, nor
// take a lock more, with the timeout on.
func BenchmarkDoPublish(b *testing.B) {
	for _, idle := range []time.Duration{0, time.Minute} {
		b.Run(fmt.Sprintf("idle=%v", idle), func(b *testing.B) {
			h := hub.New(hub.Config{})
			reg := NewRegistry(h, Limits{IdleTimeout: idle})
			sub := New(reg, Config{Door: "bench", MaxPending: 64 << 20}, &discardTransport{}, benchCodec{})
			if err := sub.client.Subscribe("bench.t", ""); err != nil {
				b.Fatal(err)
			}
			pub := New(reg, Config{Door: "bench"}, &discardTransport{}, benchCodec{})
			req := Request{Op: OpPub, Arg: "bench.t", Text: "0123456789abcdef0123456789abcdef"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pub.BeginBatch()
				if e := pub.Do(req); e != nil {
					b.Fatal(e.Text)
				}
				pub.EndBatch()
			}
			b.StopTimer()
			pub.Finish(ReasonShutdown)
			sub.Finish(ReasonShutdown)
			if err := reg.Shutdown(b.Context()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkAlive is the cost of recording a sign of life when the client
// was seen since the last sweep (the common case): one atomic load.
func BenchmarkAlive(b *testing.B) {
	reg := NewRegistry(hub.New(hub.Config{}), Limits{})
	s := New(reg, Config{Door: "bench"}, &discardTransport{}, benchCodec{})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Alive()
	}
	b.StopTimer()
	s.Finish(ReasonShutdown)
}
