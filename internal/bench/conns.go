package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// connsOpts configure the conns scenario.
type connsOpts struct {
	common     commonOpts
	n          int           // subscribed connections
	broadcasts int           // B
	settle     time.Duration // wait after the last subscribe before the first RSS reading
	idle       time.Duration // wait after the last subscribe before the second RSS reading
	roundMax   time.Duration // bound on one broadcast
	gap        time.Duration // pause between broadcasts
	size       int
	bufSize    int
}

func connsMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o connsOpts
	fs := flag.NewFlagSet("conns", flag.ContinueOnError)
	o.common.register(fs, 0, "bench.conns")
	fs.IntVar(&o.n, "n", 1000, "subscribed idle connections (at most 19000 per process)")
	fs.IntVar(&o.broadcasts, "b", 20, "broadcasts, each timed until the last subscriber has it")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "after all subscribed, wait this long before the first RSS reading")
	fs.DurationVar(&o.idle, "idle", 15*time.Second, "after all subscribed, wait this long before the second RSS reading (0: skip)")
	fs.DurationVar(&o.roundMax, "broadcast-timeout", 10*time.Second, "bound on one broadcast reaching every subscriber")
	fs.DurationVar(&o.gap, "gap", 50*time.Millisecond, "pause between broadcasts")
	sizeVar(fs, &o.size, "size", 64, "payload size")
	sizeVar(fs, &o.bufSize, "buf", 4096, "subscriber read buffer (small: these connections are mostly idle)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if !flagSet(fs, "timeout") {
		o.common.timeout = 2*time.Minute + max(o.settle, o.idle) + time.Duration(o.broadcasts)*(o.roundMax+o.gap)
	}
	switch {
	case o.n < 1 || o.n > maxConnsPerProcess:
		return fmt.Errorf("bench: -n must be in 1..%d (one process, 20,000 open files)", maxConnsPerProcess)
	case o.broadcasts < 0 || o.settle < 0 || o.idle < 0 || o.roundMax <= 0 || o.gap < 0:
		return errors.New("bench: negative -b, --settle, --idle, --gap or non-positive --broadcast-timeout")
	case o.size < 1 || o.size > 1<<20 || o.bufSize < 512:
		return errors.New("bench: --size must be in 1..1048576 and --buf at least 512")
	}
	if err := o.common.resolve(o.n + 1); err != nil {
		return err
	}
	if lim, err := raiseNoFile(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
	} else if uint64(o.n)+100 > lim {
		return fmt.Errorf("bench: -n %d needs more than the %d open files allowed", o.n, lim)
	}
	rep, err := runConns(ctx, &o, stderr)
	if err != nil {
		return err
	}
	return writeReport(stdout, o.common.jsonOut, rep)
}

// round is one broadcast: remaining counts subscribers still to receive it;
// the one that brings it to zero stamps last and closes done.
type round struct {
	remaining atomic.Int64
	last      atomic.Int64 // unix nanos of the latest delivery so far
	done      chan struct{}
}

// connsReport is the report of the conns scenario.
type connsReport struct {
	Scenario           string  `json:"scenario"`
	Target             string  `json:"target"`
	Server             string  `json:"server"`
	Connections        int     `json:"connections"`
	SourceAddrs        int     `json:"source_addrs"`
	ConnectSeconds     float64 `json:"connect_seconds"`
	SettleSeconds      float64 `json:"settle_seconds"`
	IdleSeconds        float64 `json:"idle_seconds"`
	RSSBeforeBytes     *int64  `json:"rss_before_bytes"`
	RSSSubscribedBytes *int64  `json:"rss_subscribed_bytes"`
	RSSIdleBytes       *int64  `json:"rss_idle_bytes"`
	BytesPerConn       *int64  `json:"bytes_per_conn"`
	BytesPerConnIdle   *int64  `json:"bytes_per_conn_idle"`
	Broadcasts         int     `json:"broadcasts"`
	BroadcastsComplete int     `json:"broadcasts_complete"`
	LastP50Ms          float64 `json:"broadcast_last_p50_ms"`
	LastP90Ms          float64 `json:"broadcast_last_p90_ms"`
	LastP99Ms          float64 `json:"broadcast_last_p99_ms"`
	LastMaxMs          float64 `json:"broadcast_last_max_ms"`
	// LastMs is every completed broadcast's time to its last receiver, in
	// the order sent, so that outliers can be placed in the run.
	LastMs        []float64 `json:"broadcast_last_ms"`
	Expected      int64     `json:"expected"`
	Delivered     int64     `json:"delivered"`
	Lost          int64     `json:"lost"`
	SlowConsumers int       `json:"slow_consumers"`
	Disconnected  int       `json:"disconnected"`
	latencyFigures
	serverFigures
	DeliveriesPerCPUSec *float64 `json:"deliveries_per_server_cpu_second"`
	FirstError          string   `json:"first_error,omitempty"`
}

func runConns(ctx context.Context, o *connsOpts, stderr io.Writer) (*connsReport, error) {
	ctx, cancel := o.common.withTimeout(ctx)
	defer cancel()
	if err := checkReachable(ctx, o.common.target, o.common.dialTimeout); err != nil {
		return nil, err
	}
	probe := findServer(o.common.serverPID, o.common.target, stderr)
	proto := o.common.target.proto
	d := o.common.dialer(o.bufSize)
	rep := &connsReport{Scenario: "conns", Target: o.common.target.String(), Server: proto.name(),
		Connections: o.n, SourceAddrs: len(o.common.sources), Broadcasts: o.broadcasts}

	rounds := make([]round, o.broadcasts)
	for i := range rounds {
		rounds[i].remaining.Store(int64(o.n))
		rounds[i].done = make(chan struct{})
	}
	hist := newHistSet()
	conns := make([]*countingConn, o.n)
	var pub *publisher
	var closing atomic.Bool
	var readers sync.WaitGroup
	type result struct {
		received int64
		err      error
	}
	results := make([]result, o.n)
	closeAll := func() {
		if closing.Swap(true) {
			return
		}
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if pub != nil {
			pub.close()
		}
	}
	defer func() { closeAll(); readers.Wait() }()

	before, _ := probe.sample()
	rssBefore := before.rssBytes
	var connected atomic.Int64
	bar := startProgress(stderr, !o.common.noProgress, int64(o.n), "connecting", connected.Load)
	t0 := time.Now()
	err := parallel(ctx, o.n, &connected, func(i int) error {
		cc, _, sub, err := dialSubscriber(ctx, d, proto, o.common.topic, o.common.dialTimeout)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns[i] = cc
		readers.Add(1)
		go func() {
			defer readers.Done()
			res := &results[i]
			var one [1]int64
			for {
				p, err := sub.next()
				if err != nil {
					res.err = err
					return
				}
				now := time.Now().UnixNano()
				_, seq, ts, err := parsePayload(p)
				if err != nil || seq >= uint64(len(rounds)) {
					continue
				}
				res.received++
				one[0] = max(now-ts, 0)
				hist.record(i, one[:])
				rd := &rounds[seq]
				// Every receiver raises last before counting itself,
				// so when remaining reaches zero last is the latest
				// arrival, whichever goroutine got there first.
				for l := rd.last.Load(); now > l && !rd.last.CompareAndSwap(l, now); l = rd.last.Load() {
				}
				if rd.remaining.Add(-1) == 0 {
					close(rd.done)
				}
			}
		}()
		return nil
	})
	bar.Done()
	rep.ConnectSeconds = time.Since(t0).Seconds()
	if err != nil {
		return nil, fmt.Errorf("connect %d subscribers: %w", o.n, err)
	}
	subscribed := time.Now()

	// Memory per connection, right after subscribing and after idling.
	var rssSub, rssIdle int64
	haveRSS := probe.pid != 0
	sleepCtx(ctx, o.settle)
	rep.SettleSeconds = time.Since(subscribed).Seconds()
	if s, ok := probe.sample(); ok {
		rssSub = s.rssBytes
	} else {
		haveRSS = false
	}
	if o.idle > o.settle {
		bar = startProgress(stderr, !o.common.noProgress, int64(o.idle/time.Millisecond), "idling",
			func() int64 { return int64(time.Since(subscribed) / time.Millisecond) })
		sleepCtx(ctx, o.idle-time.Since(subscribed))
		bar.Done()
	}
	rep.IdleSeconds = time.Since(subscribed).Seconds()
	if s, ok := probe.sample(); ok {
		rssIdle = s.rssBytes
	} else {
		haveRSS = false
	}
	if haveRSS {
		perSub, perIdle := (rssSub-rssBefore)/int64(o.n), (rssIdle-rssBefore)/int64(o.n)
		rep.RSSBeforeBytes, rep.RSSSubscribedBytes, rep.RSSIdleBytes = &rssBefore, &rssSub, &rssIdle
		rep.BytesPerConn, rep.BytesPerConnIdle = &perSub, &perIdle
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("conns: %w", ctx.Err())
	}

	// Broadcasts, one at a time, each timed until its last receiver.
	cc, br, err := d.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	err = handshake(cc, o.common.dialTimeout, func() error {
		var err error
		pub, err = proto.publisher(cc, br)
		return err
	})
	if err != nil {
		cc.Close()
		return nil, fmt.Errorf("publisher: %w", err)
	}
	cpuBefore, haveCPU := probe.sample()
	var lastMs []float64
	payload := make([]byte, 0, o.size+payloadHeaderMax)
	bar = startProgress(stderr, !o.common.noProgress, int64(o.broadcasts), "broadcasting",
		func() int64 { return int64(len(rounds)) - pendingRounds(rounds) })
	for b := range rounds {
		if ctx.Err() != nil {
			break
		}
		start := time.Now()
		payload = appendPayload(payload[:0], 0, uint64(b), start.UnixNano(), o.size)
		pub.publish(o.common.topic, payload)
		if err := pub.flush(); err != nil {
			bar.Done()
			return nil, fmt.Errorf("broadcast %d: %w", b, err)
		}
		timer := time.NewTimer(o.roundMax)
		select {
		case <-rounds[b].done:
			lastMs = append(lastMs, float64(rounds[b].last.Load()-start.UnixNano())/1e6)
			rep.BroadcastsComplete++
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		sleepCtx(ctx, o.gap)
	}
	bar.Done()
	cpuAfter, haveAfter := probe.sample()
	// Let stragglers of incomplete rounds arrive before counting.
	if rep.BroadcastsComplete < o.broadcasts {
		sleepCtx(ctx, time.Second)
	}
	closeAll()
	readers.Wait()

	rep.LastMs = slices.Clone(lastMs)
	sort.Float64s(lastMs)
	rep.LastP50Ms, rep.LastP90Ms = quantile(lastMs, 0.5), quantile(lastMs, 0.9)
	rep.LastP99Ms, rep.LastMaxMs = quantile(lastMs, 0.99), quantile(lastMs, 1)
	rep.Expected = int64(o.n) * int64(o.broadcasts)
	for _, r := range results {
		rep.Delivered += r.received
		switch {
		case errors.Is(r.err, errSlowConsumer):
			rep.SlowConsumers++
		case r.err != nil && !isClosedErr(r.err):
			rep.Disconnected++
			if rep.FirstError == "" {
				rep.FirstError = r.err.Error()
			}
		}
	}
	rep.Lost = max(rep.Expected-rep.Delivered, 0)
	rep.latencyFigures = latencyOf(hist.merged())
	rep.serverFigures = serverFigures{ServerPID: probe.pid, ServerInProcess: probe.inProcess, LoadAvg1m: loadAvg1()}
	if haveCPU && haveAfter {
		cpu, rss := cpuAfter.cpuSeconds-cpuBefore.cpuSeconds, cpuAfter.rssBytes
		rep.ServerCPUSeconds, rep.ServerRSSBytes = &cpu, &rss
		if cpu > 0 {
			v := float64(rep.Delivered) / cpu
			rep.DeliveriesPerCPUSec = &v
		}
	}
	return rep, nil
}

// pendingRounds counts broadcasts not yet received by everyone.
func pendingRounds(rounds []round) int64 {
	var n int64
	for i := range rounds {
		if rounds[i].remaining.Load() > 0 {
			n++
		}
	}
	return n
}

// quantile returns the q-quantile (nearest rank) of sorted values, 0 if none.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (c connsReport) rows() []tableRow {
	kb := func(p *int64) string {
		if p == nil {
			return "unknown"
		}
		return strconv.FormatFloat(float64(*p)/1024, 'f', 2, 64)
	}
	out := []tableRow{
		{"scenario", c.Scenario, ""},
		{"target", c.Target + " (" + c.Server + ")", ""},
		{"connections", fmtInt(int64(c.Connections)), "over " + fmtInt(int64(max(c.SourceAddrs, 1))) + " source address(es), " + strconv.FormatFloat(c.ConnectSeconds, 'f', 2, 64) + " s to connect"},
		{"KB per conn (+" + strconv.FormatFloat(c.SettleSeconds, 'f', 0, 64) + " s)", kb(c.BytesPerConn), "KB"},
		{"KB per conn (+" + strconv.FormatFloat(c.IdleSeconds, 'f', 0, 64) + " s idle)", kb(c.BytesPerConnIdle), "KB"},
		{"broadcasts complete", fmtInt(int64(c.BroadcastsComplete)) + " of " + fmtInt(int64(c.Broadcasts)), ""},
		{"last receiver p50 / p90 / p99 / max", fmtMs(c.LastP50Ms) + " / " + fmtMs(c.LastP90Ms) + " / " + fmtMs(c.LastP99Ms) + " / " + fmtMs(c.LastMaxMs), "ms"},
		{"delivered / lost", fmtInt(c.Delivered) + " / " + fmtInt(c.Lost), "of " + fmtInt(c.Expected) + " expected"},
		{"slow consumers / disconnected", fmtInt(int64(c.SlowConsumers)) + " / " + fmtInt(int64(c.Disconnected)), "subscribers"},
	}
	out = append(out, c.latencyFigures.rows()...)
	out = append(out, c.serverFigures.rows()...)
	if c.DeliveriesPerCPUSec != nil {
		out = append(out, tableRow{"deliveries per server cpu-second", fmtRate(*c.DeliveriesPerCPUSec), ""})
	}
	if c.FirstError != "" {
		out = append(out, tableRow{"first error", c.FirstError, ""})
	}
	return out
}
