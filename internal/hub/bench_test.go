package hub

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// countSub is a Subscriber that only counts, so benchmarks measure the
// hub's own cost.
type countSub struct{ n atomic.Int64 }

func (c *countSub) Deliver(*Message) { c.n.Add(1) }

// publishAll publishes from c and delivers to the route, one Deliver per
// recipient: the hub's half of a publish plus the simplest delivery.
func publishAll(c *Client, topic, text string) error {
	m, r, err := c.Publish(topic, text, 0)
	for i := range r.Len() {
		if s := r.At(i); s != nil {
			s.Deliver(m)
		}
	}
	return err
}

// BenchmarkPublish measures one publish fanned out to K local subscribers.
// allocs/op must not grow with K: the message is built once and shared.
func BenchmarkPublish(b *testing.B) {
	for _, k := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			h := New(Config{})
			sink := &countSub{}
			for i := 0; i < k; i++ {
				c := h.Connect(sink)
				if err := c.Subscribe("bench.topic", ""); err != nil {
					b.Fatal(err)
				}
			}
			pub := h.Connect(sink)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := publishAll(pub, "bench.topic", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := sink.n.Load(); got != int64(b.N*k) {
				b.Fatalf("delivered %d, want %d", got, b.N*k)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/delivery")
		})
	}
}

// BenchmarkPublishWildcard is BenchmarkPublish with subscribers spread over
// literal and wildcard patterns.
func BenchmarkPublishWildcard(b *testing.B) {
	h := New(Config{})
	sink := &countSub{}
	patterns := []string{"metrics.cpu.host1", "metrics.*.host1", "metrics.>", "metrics.cpu.*"}
	for i := 0; i < 100; i++ {
		c := h.Connect(sink)
		if err := c.Subscribe(patterns[i%len(patterns)], ""); err != nil {
			b.Fatal(err)
		}
	}
	pub := h.Connect(sink)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = publishAll(pub, "metrics.cpu.host1", "42")
	}
}

// BenchmarkMatch measures the wildcard matcher alone.
func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !Match("metrics.*.host1.>", "metrics.cpu.host1.core0.user") {
			b.Fatal("no match")
		}
	}
}

// chanHub is the textbook alternative, kept here only to measure against:
// one goroutine owns the subscriber table and every publish is a message to
// it over a channel ("share memory by communicating" taken literally).
type chanHub struct {
	pubs chan *Message
	subs []Subscriber
	done chan struct{}
}

func newChanHub(subs []Subscriber) *chanHub {
	h := &chanHub{pubs: make(chan *Message, 1024), subs: subs, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for m := range h.pubs {
			for _, s := range h.subs {
				s.Deliver(m)
			}
		}
	}()
	return h
}

// BenchmarkFanoutDesign compares the hub's shared, read-mostly index (each
// publisher fans out on its own goroutine) with a hub goroutine fed by a
// channel, with publishers on every P. Each subscriber counts on its own
// cache line, as sessions lock their own queues. Both include draining
// every delivery.
func BenchmarkFanoutDesign(b *testing.B) {
	for _, k := range []int{10, 1000} {
		b.Run(fmt.Sprintf("cached-index/K=%d", k), func(b *testing.B) {
			h := New(Config{})
			for i := 0; i < k; i++ {
				if err := h.Connect(&paddedSub{}).Subscribe("t", ""); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				pub := h.Connect(&paddedSub{})
				for pb.Next() {
					_ = publishAll(pub, "t", "payload")
				}
			})
		})
		b.Run(fmt.Sprintf("hub-goroutine/K=%d", k), func(b *testing.B) {
			subs := make([]Subscriber, k)
			for i := range subs {
				subs[i] = &paddedSub{}
			}
			h := newChanHub(subs)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.pubs <- &Message{Kind: KindMessage, Topic: "t", Text: "payload"}
				}
			})
			close(h.pubs)
			<-h.done
		})
	}
}

// BenchmarkFanoutDesignTopics is BenchmarkFanoutDesign with every
// publisher on a topic of its own (K subscribers each): the case where a
// shared index lets publishers fan out in parallel, and a hub goroutine
// still serializes them.
func BenchmarkFanoutDesignTopics(b *testing.B) {
	const k = 100
	topics := []string{"t0", "t1", "t2", "t3"}
	b.Run("cached-index", func(b *testing.B) {
		h := New(Config{})
		for _, t := range topics {
			for i := 0; i < k; i++ {
				if err := h.Connect(&paddedSub{}).Subscribe(t, ""); err != nil {
					b.Fatal(err)
				}
			}
		}
		var next atomic.Int32
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			t := topics[int(next.Add(1)-1)%len(topics)]
			pub := h.Connect(&paddedSub{})
			for pb.Next() {
				_ = publishAll(pub, t, "payload")
			}
		})
	})
	b.Run("hub-goroutine", func(b *testing.B) {
		byTopic := make(map[string][]Subscriber)
		for _, t := range topics {
			for i := 0; i < k; i++ {
				byTopic[t] = append(byTopic[t], &paddedSub{})
			}
		}
		pubs := make(chan *Message, 1024)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for m := range pubs {
				for _, s := range byTopic[m.Topic] {
					s.Deliver(m)
				}
			}
		}()
		var next atomic.Int32
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			t := topics[int(next.Add(1)-1)%len(topics)]
			for pb.Next() {
				pubs <- &Message{Kind: KindMessage, Topic: t, Text: "payload"}
			}
		})
		close(pubs)
		<-done
	})
}

// paddedSub counts deliveries on a cache line of its own.
type paddedSub struct {
	n atomic.Int64
	_ [56]byte
}

func (p *paddedSub) Deliver(*Message) { p.n.Add(1) }

// BenchmarkSubscribeMany measures one connection taking N subscriptions
// (distinct literal patterns, then wildcards): the cost per subscribe must
// not grow with what the connection already holds.
func BenchmarkSubscribeMany(b *testing.B) {
	for _, n := range []int{10_000, 40_000, 100_000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			patterns := make([]string, n)
			for i := range patterns {
				if i%2 == 0 {
					patterns[i] = fmt.Sprintf("sub.%d.x", i)
				} else {
					patterns[i] = fmt.Sprintf("sub.%d.*", i)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				h := New(Config{})
				c := h.Connect(&countSub{})
				for _, p := range patterns {
					if err := c.Subscribe(p, ""); err != nil {
						b.Fatal(err)
					}
				}
				c.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/subscribe")
		})
	}
}
