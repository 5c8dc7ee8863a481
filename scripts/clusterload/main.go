// Command clusterload is the load client of scripts/cluster-demo.sh. It has
// two modes:
//
//	clusterload clients --addrs A,B,… -n N [--src IP]
//	    opens N line-protocol connections spread round-robin over the
//	    nodes, subscribes each to demo.>, prints READY, then measures:
//	    the one broadcast on demo.all (latency from the publish time in its
//	    text to each client's receipt), and the sustained fan-out on
//	    demo.rate until every publisher's demo.end has reached every client.
//	clusterload pub --addrs A,B,… [--rate R --duration D | --broadcast]
//	    publishes from one connection per node: one broadcast, or R
//	    messages per second in total for D, then demo.end from each.
//
// Output is one JSON object per line. Every run is bounded by --deadline.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "clusterload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: clusterload clients|pub [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	addrs := fs.String("addrs", "", "comma-separated node addresses")
	n := fs.Int("n", 1000, "clients: connections to open")
	src := fs.String("src", "", "clients: local source IP (e.g. 127.0.0.2)")
	par := fs.Int("parallel", 256, "clients: concurrent connection attempts")
	deadline := fs.Duration("deadline", 10*time.Minute, "hard bound on the whole run")
	rate := fs.Float64("rate", 10, "pub: messages per second, over all nodes")
	dur := fs.Duration("duration", 10*time.Second, "pub: how long to publish")
	bcast := fs.Bool("broadcast", false, "pub: publish one broadcast and exit")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	nodes := strings.Split(*addrs, ",")
	if *addrs == "" {
		return errors.New("--addrs is required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *deadline)
	defer cancel()
	switch args[0] {
	case "clients":
		return clients(ctx, nodes, *n, *src, *par)
	case "pub":
		return publish(ctx, nodes, *bcast, *rate, *dur)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

// conn is one client connection.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(ctx context.Context, addr, src string) (*conn, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	k := &conn{c: c, r: bufio.NewReaderSize(c, 1024)}
	if _, err := k.line(); err != nil { // banner
		c.Close()
		return nil, fmt.Errorf("banner: %w", err)
	}
	return k, nil
}

func (k *conn) line() ([]byte, error) {
	l, err := k.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	return l[:len(l)-1], nil
}

// until reads lines until one equals want.
func (k *conn) until(want string) error {
	for {
		l, err := k.line()
		if err != nil {
			return err
		}
		if string(l) == want {
			return nil
		}
	}
}

// clientStats is what the clients of one process saw.
type clientStats struct {
	bcastLat            []int64        // ns per client; 0 = not received
	ends                []atomic.Int32 // demo.end messages seen per client
	wantEnds            int32          // one per publisher (node)
	rateCount, endCount atomic.Int64
	firstRate, lastRate atomic.Int64
	bcastCount, closed  atomic.Int64 // closed: connections the server ended
}

func clients(ctx context.Context, nodes []string, n int, src string, par int) error {
	start := time.Now()
	conns := make([]*conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			k, err := dial(ctx, nodes[i%len(nodes)], src)
			if err == nil {
				_, err = k.c.Write([]byte("/sub demo.>\n/ping ready\n"))
				if err == nil {
					err = k.until("* pong ready")
				}
				if err != nil {
					k.c.Close()
				}
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			conns[i] = k
		}(i)
	}
	wg.Wait()
	ok := n - int(failed.Load())
	emit(map[string]any{"event": "ready", "clients": ok, "failed": failed.Load(), "first_error": firstErr.Load(), "connect_s": time.Since(start).Seconds()})

	st := &clientStats{bcastLat: make([]int64, n), ends: make([]atomic.Int32, n), wantEnds: int32(len(nodes))}
	var done sync.WaitGroup
	for i, k := range conns {
		if k == nil {
			continue
		}
		done.Add(1)
		go func(i int, k *conn) {
			defer done.Done()
			read(k, i, st)
		}(i, k)
	}
	// Report the broadcast once every open client has it (or after a
	// minute).
	go func() {
		var t0 time.Time
		for st.bcastCount.Load() < int64(ok)-st.closed.Load() && ctx.Err() == nil {
			if st.bcastCount.Load() > 0 && t0.IsZero() {
				t0 = time.Now()
			}
			if !t0.IsZero() && time.Since(t0) > time.Minute {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		var lat []int64
		for _, l := range st.bcastLat {
			if l > 0 {
				lat = append(lat, l)
			}
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		r := map[string]any{"event": "broadcast", "received": len(lat), "clients": ok, "closed_by_server": st.closed.Load()}
		if len(lat) > 0 {
			r["p50_ms"] = float64(lat[len(lat)/2]) / 1e6
			r["p99_ms"] = float64(lat[len(lat)*99/100]) / 1e6
			r["max_ms"] = float64(lat[len(lat)-1]) / 1e6
		}
		emit(r)
	}()
	// End when every client saw demo.end, or at the deadline.
	for st.endCount.Load() < int64(ok)-st.closed.Load() && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	emit(map[string]any{"event": "rate", "clients": ok, "received": st.rateCount.Load(), "ended": st.endCount.Load(),
		"first_ns": st.firstRate.Load(), "last_ns": st.lastRate.Load(), "timed_out": ctx.Err() != nil, "closed_by_server": st.closed.Load()})
	// Linger until told to go, so the caller can read this process's CPU
	// time after the measurement.
	sig, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	<-sig.Done()
	stop()
	for _, k := range conns {
		if k != nil {
			k.c.Close()
		}
	}
	done.Wait()
	return nil
}

var (
	topicAll  = []byte("[demo.all] ")
	topicRate = []byte("[demo.rate] ")
	topicEnd  = []byte("[demo.end] ")
)

// read consumes one connection's lines until it closes.
func read(k *conn, i int, st *clientStats) {
	for {
		l, err := k.line()
		if err != nil {
			st.closed.Add(1)
			return
		}
		now := time.Now().UnixNano()
		switch {
		case bytes.HasPrefix(l, topicRate):
			st.rateCount.Add(1)
			st.firstRate.CompareAndSwap(0, now)
			st.lastRate.Store(now)
		case bytes.HasPrefix(l, topicAll):
			if j := bytes.LastIndex(l, []byte(": ")); j >= 0 {
				if t, err := strconv.ParseInt(string(l[j+2:]), 10, 64); err == nil && st.bcastLat[i] == 0 {
					st.bcastLat[i] = max(now-t, 1)
					st.bcastCount.Add(1)
				}
			}
		case bytes.HasPrefix(l, topicEnd):
			// Each publisher ends with demo.end; per-publisher order means
			// that once a client has every end it has every message.
			if st.ends[i].Add(1) == st.wantEnds {
				st.endCount.Add(1)
			}
		}
	}
}

func publish(ctx context.Context, nodes []string, bcast bool, rate float64, dur time.Duration) error {
	pubs := make([]*conn, len(nodes))
	for i, a := range nodes {
		k, err := dial(ctx, a, "")
		if err != nil {
			return fmt.Errorf("dial %s: %w", a, err)
		}
		defer k.c.Close()
		pubs[i] = k
	}
	if bcast {
		fmt.Fprintf(pubs[0].c, "/pub demo.all %d\n/ping sent\n", time.Now().UnixNano())
		if err := pubs[0].until("* pong sent"); err != nil {
			return err
		}
		emit(map[string]any{"event": "broadcast_sent"})
		return nil
	}
	start := time.Now()
	interval := time.Duration(float64(time.Second) / rate)
	sent := 0
	for time.Since(start) < dur && ctx.Err() == nil {
		due := start.Add(time.Duration(sent) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		k := pubs[sent%len(pubs)]
		if _, err := fmt.Fprintf(k.c, "/pub demo.rate m%d\n", sent); err != nil {
			return err
		}
		sent++
	}
	elapsed := time.Since(start)
	for _, k := range pubs {
		fmt.Fprintf(k.c, "/pub demo.end end\n/ping end\n")
	}
	for _, k := range pubs {
		if err := k.until("* pong end"); err != nil {
			return err
		}
	}
	emit(map[string]any{"event": "published", "messages": sent, "seconds": elapsed.Seconds(), "rate": float64(sent) / elapsed.Seconds()})
	return nil
}
