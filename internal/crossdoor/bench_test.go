package crossdoor_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// BenchmarkFanout measures delivery through each door: k subscribers on
// one topic, messages published through the hub with a window of 1,000
// in flight so that nobody becomes a slow consumer; it reports delivered
// messages per second.
//
//	go test -run XXX -bench Fanout -benchtime 20000x ./internal/frontend/webfront/
func BenchmarkFanout(b *testing.B) {
	k := 50
	if v := os.Getenv("FANOUT_K"); v != "" {
		k, _ = strconv.Atoi(v)
	}
	for _, door := range []string{"tcp", "ws", "sse"} {
		b.Run(door, func(b *testing.B) {
			ts := startServer(b, nil)
			counts := make([]atomic.Int64, k)
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); wg.Wait() }()
			for i := 0; i < k; i++ {
				ready := make(chan struct{})
				wg.Add(1)
				go func() {
					defer wg.Done()
					subscribe(ctx, b, ts, door, ready, &counts[i])
				}()
				select {
				case <-ready:
				case <-time.After(waitFor):
					b.Fatalf("%s subscriber %d not ready", door, i)
				}
			}
			text := strings.Repeat("x", 64)
			min := func() int64 {
				m := counts[0].Load()
				for i := range counts {
					m = min(m, counts[i].Load())
				}
				return m
			}
			b.ResetTimer()
			start := time.Now()
			for n := 1; n <= b.N; n++ {
				ts.Hub().Publish(&hub.Message{Topic: "bench", From: "http", Text: text})
				if n%1000 == 0 {
					for min() < int64(n-1000) {
						time.Sleep(100 * time.Microsecond)
					}
				}
			}
			for min() < int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			el := time.Since(start)
			b.ReportMetric(float64(b.N*k)/el.Seconds(), "deliveries/s")
		})
	}
}

// subscribe connects one subscriber to topic "bench" through door, closes
// ready once subscribed, and counts the messages it reads until ctx ends.
func subscribe(ctx context.Context, b *testing.B, ts *testServer, door string, ready chan struct{}, n *atomic.Int64) {
	switch door {
	case "tcp":
		c, err := net.Dial("tcp", ts.TCPAddr())
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		context.AfterFunc(ctx, func() { _ = c.Close() })
		_, _ = c.Write([]byte("/sub bench\n"))
		r := bufio.NewReaderSize(c, 64<<10)
		for {
			l, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(l, []byte("[bench]")):
				n.Add(1)
			case bytes.Contains(l, []byte("subscribed bench")):
				close(ready)
			}
		}
	case "ws":
		c, _, err := websocket.Dial(ctx, webtest.WSURL(ts.base, "/ws"), nil)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.CloseNow()
		// Reads use a context without Done: one shared cancellable
		// context would make every Read of every client register with
		// it, and that lock, not the server, would be measured.
		context.AfterFunc(ctx, func() { _ = c.CloseNow() })
		_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"op":"sub","topic":"bench"}`))
		for {
			_, p, err := c.Read(context.Background())
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(p, []byte(`{"op":"msg"`)):
				n.Add(1)
			case bytes.Contains(p, []byte(`"re":"sub"`)):
				close(ready)
			}
		}
	case "sse":
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.base+"/sse?topic=bench", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		defer resp.Body.Close()
		r := bufio.NewReaderSize(resp.Body, 64<<10)
		for {
			l, err := r.ReadSlice('\n')
			if err != nil {
				return
			}
			switch {
			case bytes.HasPrefix(l, []byte("event: msg")):
				n.Add(1)
			case bytes.HasPrefix(l, []byte(": subscribed")):
				close(ready)
			}
		}
	}
}
