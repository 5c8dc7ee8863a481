package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fanoutOpts configure the fanout and latency scenarios.
type fanoutOpts struct {
	common   commonOpts
	scenario string
	subs     int           // K
	pubs     int           // P
	size     int           // payload bytes
	duration time.Duration // publish phase bound, 0 = until count
	count    int64         // total messages over all publishers, 0 = until duration
	rate     float64       // total publish rate, msgs/s; 0 = as fast as the window allows
	batch    int           // commands per write
	window   int           // max messages in flight per subscriber, 0 = open loop
	inflight int64         // cap on deliveries in flight over all subscribers, 0 = none
	drain    time.Duration // wait for stragglers after the last publish
	bufSize  int           // subscriber read buffer
}

func fanoutMain(ctx context.Context, scenario string, args []string, stdout, stderr io.Writer) error {
	o := fanoutOpts{scenario: scenario}
	fs := flag.NewFlagSet(scenario, flag.ContinueOnError)
	defK, defRate, defWindow := 10, 0.0, 1000
	if scenario == "latency" {
		defRate, defWindow = 10000, 0
	}
	o.common.register(fs, 0, "bench."+scenario)
	ks, batches, windows := intList{defK}, intList{64}, intList{defWindow}
	var deliveries intList
	fs.Var(intListFlag{&ks, 1, maxConnsPerProcess - 1}, "k", "subscribers (K); a comma-separated list (1,10,100) runs a sweep, one table row per point")
	fs.IntVar(&o.pubs, "p", 1, "publishers (P)")
	sizeVar(fs, &o.size, "size", 64, "payload size (at least the ~40-byte sequence/timestamp header)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "publish for this long (0 with --count: until count)")
	fs.Int64Var(&o.count, "count", 0, "publish this many messages in total, split over publishers (0: until --duration)")
	fs.Float64Var(&o.rate, "rate", defRate, "total publish rate in messages/s (0: as fast as --window allows)")
	fs.Var(intListFlag{&batches, 1, 1 << 20}, "batch", "publish commands per write; fanout: a list (16,64,256) sweeps it and marks each K's best")
	fs.Var(intListFlag{&windows, 0, 1 << 24}, "window", "max messages in flight per subscriber before publishers wait (0: open loop); fanout: a list sweeps it")
	if scenario == "latency" {
		fs.Var(intListFlag{&deliveries, 1, 100_000_000}, "deliveries", "sweep: target deliveries/s, a list (100,1000,10000); each point publishes at deliveries/K msgs/s for --duration")
	}
	fs.Int64Var(&o.inflight, "max-inflight", 250000, "cap on deliveries in flight over all subscribers, so large K does not queue seconds of messages (0: no cap)")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "after publishing, wait at most this long for deliveries")
	sizeVar(fs, &o.bufSize, "buf", 64<<10, "subscriber read buffer")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	o.subs, o.batch, o.window = ks[0], batches[0], windows[0]
	sweep := len(ks) > 1 || len(deliveries) > 0 || len(batches) > 1 || len(windows) > 1
	if scenario == "latency" && (len(batches) > 1 || len(windows) > 1) {
		return errors.New("bench latency: --batch and --window take one value; sweep -k and --deliveries")
	}
	if o.count > 0 && !flagSet(fs, "duration") {
		o.duration = 0
	}
	if sweep && o.count > 0 {
		return errors.New("bench: a sweep is bounded by --duration per point, not --count")
	}
	if sweep && !flagSet(fs, "drain") {
		o.drain = 2 * time.Second
	}
	if !flagSet(fs, "timeout") {
		o.common.timeout = o.duration + o.drain + time.Minute
	}
	var plan []sweepPoint
	if sweep {
		if scenario == "latency" {
			if len(deliveries) == 0 {
				return errors.New("bench latency: a sweep over -k needs --deliveries")
			}
			plan = pacedPlan(ks, deliveries, o.duration)
		} else {
			plan = unpacedPlan(ks, batches, windows)
		}
		if len(plan) > maxSweepPoints {
			return fmt.Errorf("bench: %d sweep points, at most %d", len(plan), maxSweepPoints)
		}
		o.subs = slices.Max(ks)
	}
	if err := o.validate(); err != nil {
		return err
	}
	if _, err := raiseNoFile(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
	}
	if sweep {
		return writeSweep(stdout, o.common.jsonOut, runSweep(ctx, &o, plan, stderr))
	}
	rep, err := runFanout(ctx, &o, stderr)
	if err != nil {
		return err
	}
	return writeReport(stdout, o.common.jsonOut, rep)
}

func (o *fanoutOpts) validate() error {
	switch {
	case o.subs < 1 || o.pubs < 1:
		return errors.New("bench: -k and -p must be at least 1")
	case o.subs+o.pubs > maxConnsPerProcess:
		return fmt.Errorf("bench: at most %d connections per process", maxConnsPerProcess)
	case o.duration <= 0 && o.count <= 0:
		return errors.New("bench: give --duration or --count")
	case o.duration < 0 || o.count < 0 || o.rate < 0 || o.window < 0 || o.drain < 0 || o.inflight < 0:
		return errors.New("bench: negative --duration, --count, --rate, --window, --max-inflight or --drain")
	case o.size < 1 || o.size > 1<<20:
		return errors.New("bench: --size must be in 1..1048576")
	case o.batch < 1:
		return errors.New("bench: --batch must be at least 1")
	case o.bufSize < 4096:
		return errors.New("bench: --buf must be at least 4096")
	}
	if o.window > 0 && o.batch > o.window {
		o.batch = o.window
	}
	return o.common.resolve(o.subs + o.pubs)
}

// fanoutRun is the shared state of one fanout run. Subscribers add to
// delivered in batches; publishers read it to keep at most window messages
// in flight per live subscriber.
type fanoutRun struct {
	o         *fanoutOpts
	hist      *histSet
	published atomic.Int64
	delivered atomic.Int64
	alive     atomic.Int64 // live subscribers
	deadRecv  atomic.Int64 // messages received by subscribers that died
	waiting   atomic.Int32 // publishers blocked on the window
	wake      chan struct{}
	closing   atomic.Bool // connections are being closed on purpose
}

// subStats is what one subscriber goroutine found; written by it alone and
// read after it has finished.
type subStats struct {
	received   int64
	gaps       int64 // messages skipped in a publisher's sequence
	outOfOrder int64 // sequence numbers at or below one already seen
	malformed  int64
	lastNanos  int64 // arrival time of the last message
	err        error // why the read loop ended
}

// fanoutReport is the report of fanout and latency.
type fanoutReport struct {
	Scenario       string  `json:"scenario"`
	Target         string  `json:"target"`
	Server         string  `json:"server"`
	Subscribers    int     `json:"subscribers"`
	Publishers     int     `json:"publishers"`
	PayloadBytes   int     `json:"payload_bytes"`
	RateTarget     float64 `json:"rate_target_per_sec"`
	Window         int     `json:"window_per_subscriber"`
	MaxInflight    int64   `json:"max_inflight"`
	Published      int64   `json:"published"`
	Expected       int64   `json:"expected"`
	Delivered      int64   `json:"delivered"`
	Lost           int64   `json:"lost"`
	Gaps           int64   `json:"gaps"`
	OutOfOrder     int64   `json:"out_of_order"`
	Malformed      int64   `json:"malformed"`
	SlowConsumers  int     `json:"slow_consumers"`
	Disconnected   int     `json:"disconnected"`
	PublishErrors  int64   `json:"publish_errors"`
	PublishSeconds float64 `json:"publish_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	PublishedPerS  float64 `json:"published_per_sec"`
	DeliveredPerS  float64 `json:"delivered_per_sec"`
	latencyFigures
	serverFigures
	DeliveriesPerCPUSec *float64 `json:"deliveries_per_server_cpu_second"`
	// ServerCores is server CPU seconds over the wall seconds between the
	// two samples: how many cores the server used on average.
	ServerCores *float64 `json:"server_cores"`
	// ClientCPUSeconds and ClientCores are the same for this bench
	// process, to tell when the load generator is the bottleneck.
	ClientCPUSeconds *float64 `json:"client_cpu_seconds"`
	ClientCores      *float64 `json:"client_cores"`
	// Schedule says how the publishers are paced and where latency is
	// measured from.
	Schedule string `json:"schedule"`
	// Distribution is the latency histogram, for the latency scenario.
	Distribution []histogramPoint `json:"latency_histogram,omitempty"`
	FirstError   string           `json:"first_error,omitempty"`
}

func runFanout(ctx context.Context, o *fanoutOpts, stderr io.Writer) (*fanoutReport, error) {
	ctx, cancel := o.common.withTimeout(ctx)
	defer cancel()
	if err := checkReachable(ctx, o.common.target, o.common.dialTimeout); err != nil {
		return nil, err
	}
	probe := findServer(o.common.serverPID, o.common.target, stderr)
	r := &fanoutRun{o: o, hist: newHistSet(), wake: make(chan struct{}, 1)}
	r.alive.Store(int64(o.subs))
	d := o.common.dialer(o.bufSize)
	proto := o.common.target.proto

	// Connect and subscribe K subscribers, then P publishers.
	type subConn struct {
		cc  *countingConn
		sub subscriber
		br  interface{ Buffered() int }
	}
	subs := make([]subConn, o.subs)
	pubs := make([]*publisher, o.pubs)
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			r.closing.Store(true)
			for _, s := range subs {
				if s.cc != nil {
					s.cc.Close()
				}
			}
			for _, p := range pubs {
				if p != nil {
					p.close()
				}
			}
		})
	}
	var readers sync.WaitGroup
	defer func() { closeAll(); readers.Wait() }()

	var connected atomic.Int64
	bar := startProgress(stderr, !o.common.noProgress, int64(o.subs), "connecting", connected.Load)
	err := parallel(ctx, o.subs, &connected, func(i int) error {
		cc, br, sub, err := dialSubscriber(ctx, d, proto, o.common.topic, o.common.dialTimeout)
		if err != nil {
			return fmt.Errorf("subscriber %d: %w", i, err)
		}
		subs[i] = subConn{cc: cc, sub: sub, br: br}
		return nil
	})
	bar.Done()
	if err != nil {
		return nil, err
	}
	for i := range pubs {
		cc, br, err := d.dial(ctx)
		if err != nil {
			return nil, err
		}
		err = handshake(cc, o.common.dialTimeout, func() error {
			var err error
			pubs[i], err = proto.publisher(cc, br)
			return err
		})
		if err != nil {
			cc.Close()
			return nil, fmt.Errorf("publisher %d: %w", i, err)
		}
	}

	stats := make([]subStats, o.subs)
	for i := range subs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r.readLoop(i, subs[i].sub, subs[i].cc, subs[i].br, &stats[i])
		}()
	}

	before, haveBefore := probe.sample()
	clientBefore, clientErr := readProc(os.Getpid())
	start := time.Now()
	barMax := int64(o.duration / time.Millisecond)
	val := func() int64 { return int64(time.Since(start) / time.Millisecond) }
	if o.count > 0 && (o.duration == 0 || o.rate == 0) {
		barMax, val = o.count, r.published.Load
	}
	bar = startProgress(stderr, !o.common.noProgress, barMax, o.scenario, val)
	var pubWG sync.WaitGroup
	pubErrs := make([]error, o.pubs)
	for i := range pubs {
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			pubErrs[i] = r.publishLoop(ctx, i, pubs[i], start)
		}()
	}
	pubWG.Wait()
	publishEnd := time.Now()
	bar.Done()
	if err := errors.Join(pubErrs...); err != nil {
		return nil, err
	}

	// Drain: wait until every live subscriber has everything, or --drain.
	published := r.published.Load()
	drainCtx, drainCancel := context.WithTimeout(ctx, o.drain)
	for {
		if r.delivered.Load()-r.deadRecv.Load() >= published*r.alive.Load() || drainCtx.Err() != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	drainCancel()
	after, haveAfter := probe.sample()
	clientAfter, clientErr2 := readProc(os.Getpid())
	sampled := time.Since(start).Seconds()
	closeAll()
	readers.Wait()

	rep := &fanoutReport{
		Scenario: o.scenario, Target: o.common.target.String(), Server: proto.name(),
		Subscribers: o.subs, Publishers: o.pubs, PayloadBytes: o.size,
		RateTarget: o.rate, Window: o.window, MaxInflight: o.inflight,
		Published: published, Expected: published * int64(o.subs),
	}
	last := publishEnd.UnixNano()
	for i := range stats {
		s := &stats[i]
		rep.Delivered += s.received
		rep.Gaps += s.gaps
		rep.OutOfOrder += s.outOfOrder
		rep.Malformed += s.malformed
		last = max(last, s.lastNanos)
		switch {
		case errors.Is(s.err, errSlowConsumer):
			rep.SlowConsumers++
		case s.err != nil && !r.wasClosed(s.err):
			rep.Disconnected++
			if rep.FirstError == "" {
				rep.FirstError = s.err.Error()
			}
		}
	}
	for _, p := range pubs {
		n, last := p.errorCount()
		rep.PublishErrors += n
		if n > 0 && rep.FirstError == "" {
			rep.FirstError = "publish: " + last
		}
	}
	rep.Lost = max(rep.Expected-rep.Delivered, 0)
	// Wall-clock nanoseconds throughout: arrival stamps are unix nanos.
	rep.PublishSeconds = float64(publishEnd.UnixNano()-start.UnixNano()) / 1e9
	rep.ElapsedSeconds = float64(last-start.UnixNano()) / 1e9
	if rep.PublishSeconds > 0 {
		rep.PublishedPerS = float64(rep.Published) / rep.PublishSeconds
	}
	if rep.ElapsedSeconds > 0 {
		rep.DeliveredPerS = float64(rep.Delivered) / rep.ElapsedSeconds
	}
	merged := r.hist.merged()
	rep.latencyFigures = latencyOf(merged)
	if o.scenario == "latency" {
		rep.Distribution = distributionOf(merged)
	}
	rep.serverFigures = serverFigures{ServerPID: probe.pid, ServerInProcess: probe.inProcess, LoadAvg1m: loadAvg1()}
	if haveBefore && haveAfter {
		cpu := after.cpuSeconds - before.cpuSeconds
		rss := after.rssBytes
		rep.ServerCPUSeconds, rep.ServerRSSBytes = &cpu, &rss
		if cpu > 0 {
			v := float64(rep.Delivered) / cpu
			rep.DeliveriesPerCPUSec = &v
		}
		if sampled > 0 {
			c := cpu / sampled
			rep.ServerCores = &c
		}
	}
	if clientErr == nil && clientErr2 == nil {
		cpu := clientAfter.cpuSeconds - clientBefore.cpuSeconds
		rep.ClientCPUSeconds = &cpu
		if sampled > 0 {
			c := cpu / sampled
			rep.ClientCores = &c
		}
	}
	rep.Schedule = scheduleOf(o.rate)
	return rep, nil
}

// wasClosed reports whether err is the expected result of closing the
// connections at the end of the run.
func (r *fanoutRun) wasClosed(err error) bool { return r.closing.Load() && isClosedErr(err) }

// readLoop counts one subscriber's deliveries, checks each publisher's
// sequence and samples latency. It takes one timestamp per read from the
// socket: every message that arrived in the same read arrived together.
func (r *fanoutRun) readLoop(idx int, s subscriber, cc *countingConn, br interface{ Buffered() int }, st *subStats) {
	next := make([]uint64, r.o.pubs) // next expected sequence per publisher
	var lat [256]int64
	nl := 0
	var pending int64
	var now int64
	lastReads := ^uint64(0)
	flush := func() {
		if nl > 0 {
			r.hist.record(idx, lat[:nl])
			nl = 0
		}
		if pending > 0 {
			r.delivered.Add(pending)
			pending = 0
			if r.waiting.Load() > 0 {
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	for {
		p, err := s.next()
		if err != nil {
			st.err = err
			break
		}
		if cc.reads != lastReads {
			lastReads = cc.reads
			now = time.Now().UnixNano()
		}
		pub, seq, ts, err := parsePayload(p)
		if err != nil || pub >= len(next) {
			st.malformed++
			continue
		}
		st.received++
		st.lastNanos = now
		switch want := next[pub]; {
		case seq == want:
			next[pub] = seq + 1
		case seq > want:
			st.gaps += int64(seq - want)
			next[pub] = seq + 1
		default:
			st.outOfOrder++
		}
		lat[nl] = max(now-ts, 0)
		nl++
		pending++
		if nl == len(lat) || br.Buffered() == 0 {
			flush()
		}
	}
	flush()
	if !r.closing.Load() {
		r.deadRecv.Add(st.received)
		r.alive.Add(-1)
		if r.waiting.Load() > 0 {
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// publishLoop publishes this publisher's share: batches of commands, one
// write each, at the fixed rate if any, never more than window messages
// ahead of the live subscribers. At a fixed rate each payload carries its
// scheduled send time, so latency includes any lag of the publisher itself
// (no coordinated omission).
func (r *fanoutRun) publishLoop(ctx context.Context, i int, p *publisher, start time.Time) error {
	o := r.o
	quota := int64(-1) // unlimited
	if o.count > 0 {
		quota = o.count / int64(o.pubs)
		if int64(i) < o.count%int64(o.pubs) {
			quota++
		}
	}
	var deadline time.Time
	if o.duration > 0 {
		deadline = start.Add(o.duration)
	}
	rate := o.rate / float64(o.pubs)
	if rate > 0 && o.duration > 0 {
		// At a fixed rate the duration is a number of messages: those
		// scheduled before the deadline. A publisher running late gets
		// a tenth of the duration's grace to send them.
		due := int64(math.Ceil(o.duration.Seconds() * rate))
		if quota < 0 || due < quota {
			quota = due
		}
		deadline = deadline.Add(o.duration / 10)
	}
	payload := make([]byte, 0, o.size+payloadHeaderMax)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(d time.Duration) error {
		timer.Reset(d)
		select {
		case <-timer.C:
			return nil
		case <-r.wake:
			timer.Stop() // Go 1.23 timers: no stale value to drain
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var seq uint64
	for {
		now := time.Now()
		if ctx.Err() != nil || (!deadline.IsZero() && !now.Before(deadline)) || (quota >= 0 && int64(seq) >= quota) {
			break
		}
		n := int64(o.batch)
		if quota >= 0 {
			n = min(n, quota-int64(seq))
		}
		if rate > 0 {
			due := int64(now.Sub(start).Seconds()*rate) + 1 - int64(seq)
			if due <= 0 {
				next := start.Add(time.Duration(float64(seq) / rate * 1e9))
				if err := wait(next.Sub(now)); err != nil {
					break
				}
				continue
			}
			n = min(n, due)
		}
		if o.window > 0 {
			alive := r.alive.Load()
			inFlight := r.published.Load()*alive - (r.delivered.Load() - r.deadRecv.Load())
			limit := int64(o.window) * alive
			if o.inflight > 0 {
				// Never below one batch, or the publisher could not start.
				limit = max(min(limit, o.inflight), n*alive)
			}
			if alive > 0 && inFlight+n*alive > limit {
				r.waiting.Add(1)
				err := wait(time.Millisecond)
				r.waiting.Add(-1)
				if err != nil {
					break
				}
				continue
			}
		}
		ts := now.UnixNano()
		for range n {
			if rate > 0 {
				ts = start.UnixNano() + int64(float64(seq)/rate*1e9)
			}
			payload = appendPayload(payload[:0], i, seq, ts, o.size)
			p.publish(o.common.topic, payload)
			seq++
		}
		if err := p.flush(); err != nil {
			return fmt.Errorf("publisher %d: %w", i, err)
		}
		r.published.Add(n)
	}
	syncCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.common.dialTimeout)
	defer cancel()
	if err := p.sync(syncCtx); err != nil {
		return fmt.Errorf("publisher %d: %w", i, err)
	}
	return nil
}

// scheduleOf describes the publish schedule at rate msgs/s (0: unpaced).
func scheduleOf(rate float64) string {
	if rate > 0 {
		return "open loop at a fixed rate; latency from each message's scheduled send time (coordinated-omission-safe)"
	}
	return "closed loop (window); latency from the actual send time"
}
