package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frames"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/hubtest"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/wire/line"
)

// waitFor bounds every wait in these tests; it only catches hangs.
const waitFor = 10 * time.Second

var errClosed = errors.New("fake transport closed")

// fakeTransport records every WriteBatch. While blocked, WriteBatch waits
// until Unblock, Close or the write deadline, like a peer that stops
// reading. It can also be told to fail.
type fakeTransport struct {
	mu       sync.Mutex
	batches  [][]string
	blocked  bool
	inWrite  int  // WriteBatch calls in progress
	entered  int  // WriteBatch calls started
	failNext bool // next WriteBatch returns an error
	deadline time.Time
	closed   bool
	closeCh  chan struct{}
	wake     chan struct{} // closed and replaced to wake a blocked writer
}

func newTransport() *fakeTransport {
	return &fakeTransport{closeCh: make(chan struct{}), wake: make(chan struct{})}
}

func (f *fakeTransport) WriteBatch(frames [][]byte) error {
	f.mu.Lock()
	f.inWrite++
	f.entered++
	defer func() { f.inWrite--; f.mu.Unlock() }()
	for f.blocked && !f.closed {
		var timeout <-chan time.Time
		if !f.deadline.IsZero() {
			d := time.Until(f.deadline)
			if d <= 0 {
				return fmt.Errorf("write: %w", errors.New("deadline exceeded"))
			}
			tm := time.NewTimer(d)
			defer tm.Stop()
			timeout = tm.C
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-timeout:
		case <-time.After(waitFor):
		}
		f.mu.Lock()
	}
	if f.closed {
		return errClosed
	}
	if f.failNext {
		f.failNext = false
		return errors.New("broken pipe")
	}
	b := make([]string, len(frames))
	for i, fr := range frames {
		b[i] = string(fr)
	}
	f.batches = append(f.batches, b)
	return nil
}

func (f *fakeTransport) wakeLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
}

func (f *fakeTransport) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.wakeLocked()
	f.mu.Unlock()
	return nil
}

func (f *fakeTransport) Close(session.CloseReason) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.closeCh)
		f.wakeLocked()
	}
	return nil
}

func (f *fakeTransport) block() {
	f.mu.Lock()
	f.blocked = true
	f.mu.Unlock()
}

func (f *fakeTransport) unblock() {
	f.mu.Lock()
	f.blocked = false
	f.wakeLocked()
	f.mu.Unlock()
}

func (f *fakeTransport) writing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inWrite > 0
}

func (f *fakeTransport) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// frames returns every frame written, in order.
func (f *fakeTransport) frames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.batches {
		out = append(out, b...)
	}
	return out
}

func (f *fakeTransport) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, b := range f.batches {
		out = append(out, len(b))
	}
	return out
}

// lineCodec is a minimal line-protocol codec.
type lineCodec struct{}

// testFormat is the frame-cache slot of lineCodec.
var testFormat, _ = frames.NewFormats().Register("test-line")

func (lineCodec) Format() *frames.Format { return testFormat }
func (lineCodec) Message(m *hub.Message) []byte {
	switch m.Kind {
	case hub.KindMessage:
		return line.AppendMessage(nil, m.Topic, m.From, m.Text)
	case hub.KindPrivate:
		return line.AppendPrivate(nil, m.From, m.Text)
	}
	return line.AppendInfo(nil, m.Kind.String()+" "+m.From+" "+m.Topic)
}
func (lineCodec) Reply(r session.Reply) []byte {
	if len(r.Commands) > 0 {
		var b []byte
		for _, c := range r.Commands {
			b = line.AppendInfo(b, "/"+c.Op.String())
		}
		return b
	}
	if r.Error || r.Gap != nil {
		return line.AppendError(nil, r.Text)
	}
	return line.AppendInfo(nil, r.Text)
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

type env struct {
	hub *hub.Hub
	reg *session.Registry
}

func newEnv(l session.Limits) *env {
	h := hub.New(hub.Config{ReservedNicks: []string{"http"}})
	return &env{hub: h, reg: session.NewRegistry(h, l)}
}

// open creates a session on a fake transport and plays the front end's
// reader: once the transport closes it calls Finish, as a reader whose read
// fails would. Cleanup closes it and waits.
func (e *env) open(t *testing.T, cfg session.Config) (*session.Session, *fakeTransport) {
	t.Helper()
	tr := newTransport()
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	cfg.Door = "fake"
	s := session.New(e.reg, cfg, tr, lineCodec{})
	go func() {
		<-tr.closeCh
		s.Finish(session.ReasonClientGone)
	}()
	t.Cleanup(func() {
		_ = tr.Close(session.ReasonClientGone)
		select {
		case <-s.Done():
		case <-time.After(waitFor):
			t.Errorf("session did not finish")
		}
	})
	return s, tr
}

func msgFrame(topic, from, text string) string {
	return string(line.AppendMessage(nil, topic, from, text))
}

func TestWriterCoalescesQueuedFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{})
	tr.block()
	s.Info("first")
	testkit.Eventually(t, "the writer to block in WriteBatch", tr.writing)
	const n = 200
	for i := 0; i < n; i++ {
		s.Info(fmt.Sprint(i))
	}
	if q := s.QueuedBytes(); q <= 0 {
		t.Errorf("QueuedBytes = %d while frames wait", q)
	}
	tr.unblock()
	testkit.Eventually(t, "all frames written", func() bool { return len(tr.frames()) == n+1 })
	sizes := tr.batchSizes()
	if len(sizes) != 2 || sizes[0] != 1 || sizes[1] != n {
		t.Errorf("batch sizes %v, want [1 %d]: frames queued during a write leave in one batch", sizes, n)
	}
	for i, f := range tr.frames()[1:] {
		if want := fmt.Sprintf("* %d\n", i); f != want {
			t.Fatalf("frame %d = %q, want %q", i, f, want)
		}
	}
	testkit.Eventually(t, "queue empty", func() bool { return s.QueuedBytes() == 0 })
}

func TestSlowConsumerNoticeIsLastFrame(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	pub := e.hub.Connect(&nopSub{})
	defer pub.Close()
	const limit = 1000
	s, tr := e.open(t, session.Config{MaxPending: limit})
	s.Do(session.Request{Op: session.OpSub, Arg: "t"})
	testkit.Eventually(t, "subscribe reply", func() bool { return len(tr.frames()) == 1 })
	tr.block()
	if _, err := hubtest.Publish(pub, "t", "in flight"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the writer to block", tr.writing)
	// Fill the queue past its byte limit while the writer is stuck.
	sent := 0
	for i := 0; i < 100 && s.Reason() == session.ReasonNone; i++ {
		if _, err := hubtest.Publish(pub, "t", strings.Repeat("x", 50)); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	if s.Reason() != session.ReasonSlowConsumer {
		t.Fatalf("Reason = %v after %d messages over a %d-byte limit, want slow_consumer", s.Reason(), sent, limit)
	}
	// The in-flight frame stays counted until written, so the queue holds
	// (limit-inFlight)/frameLen frames and the next one overflows.
	inFlight := len(msgFrame("t", pub.Nick(), "in flight"))
	frameLen := len(msgFrame("t", pub.Nick(), strings.Repeat("x", 50)))
	if want := (limit-inFlight)/frameLen + 1; sent != want {
		t.Errorf("slow consumer after %d messages, want %d", sent, want)
	}
	// Nothing more is queued once the session is closing.
	_, _ = hubtest.Publish(pub, "t", "after the end")
	if got := e.reg.Stats().SlowConsumers; got != 1 {
		t.Errorf("SlowConsumers = %d, want 1", got)
	}
	tr.unblock()
	testkit.Eventually(t, "transport closed", tr.isClosed)
	<-s.Done()
	frames := tr.frames()
	want := []string{"* subscribed t\n", msgFrame("t", pub.Nick(), "in flight"), "! slow consumer, disconnecting\n"}
	if strings.Join(frames, "") != strings.Join(want, "") {
		t.Errorf("frames = %q, want %q (queued frames dropped, notice last)", frames, want)
	}
	if e.reg.Len() != 0 {
		t.Errorf("registry still holds %d sessions", e.reg.Len())
	}
}

func TestSlowConsumerThatNeverReadsIsCut(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{MaxPending: 100})
	tr.block() // the peer never reads again
	s.Info("stuck")
	testkit.Eventually(t, "the writer to block", tr.writing)
	for i := 0; i < 10; i++ {
		s.Info(strings.Repeat("y", 20))
	}
	if s.Reason() != session.ReasonSlowConsumer {
		t.Fatalf("Reason = %v, want slow_consumer", s.Reason())
	}
	// The write deadline set on overflow frees the writer, then the
	// connection closes without the notice.
	select {
	case <-s.Done():
	case <-time.After(waitFor):
		t.Fatal("a slow consumer that never reads was not disconnected")
	}
	if n := len(tr.frames()); n != 0 {
		t.Errorf("%d frames written to a peer that never read", n)
	}
	if got := e.reg.Stats().SlowConsumers; got != 1 {
		t.Errorf("SlowConsumers = %d, want 1", got)
	}
}

func TestRepliesCountTowardTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{MaxPending: 64})
	tr.block()
	s.Info("x")
	testkit.Eventually(t, "the writer to block", tr.writing)
	for i := 0; i < 20 && s.Reason() == session.ReasonNone; i++ {
		s.Do(session.Request{Op: session.OpPing})
	}
	if s.Reason() != session.ReasonSlowConsumer {
		t.Errorf("Reason = %v: a client flooding requests without reading replies is a slow consumer", s.Reason())
	}
	tr.unblock()
}

type nopSub struct{}

func (nopSub) Deliver(*hub.Message) {}

func TestPerPublisherOrderAndNoLossWhenKeepingUp(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{MaxPending: 1 << 20})
	s.Do(session.Request{Op: session.OpSub, Arg: "load.>"})
	const pubs, per = 4, 500
	var wg sync.WaitGroup
	nicks := make([]string, pubs)
	for p := 0; p < pubs; p++ {
		pub, _ := e.open(t, session.Config{})
		nicks[p] = pub.Nick()
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Batches of 10, as a door reading 10 lines at once.
			for i := 0; i < per; i += 10 {
				pub.BeginBatch()
				for j := i; j < i+10; j++ {
					pub.Do(session.Request{Op: session.OpPub, Arg: "load.x", Text: fmt.Sprint(j)})
				}
				pub.EndBatch()
			}
		}()
	}
	wg.Wait()
	testkit.Eventually(t, "every message written", func() bool { return len(tr.frames()) == 1+pubs*per })
	next := map[string]int{}
	for _, f := range tr.frames()[1:] {
		sl, err := line.ParseServerLine([]byte(strings.TrimSuffix(f, "\n")))
		if err != nil || sl.Kind != line.KindMessage {
			t.Fatalf("unexpected frame %q", f)
		}
		from := string(sl.From)
		if want := fmt.Sprint(next[from]); string(sl.Text) != want {
			t.Fatalf("from %s: got %s, want %s", from, sl.Text, want)
		}
		next[from]++
	}
	if st := e.reg.Stats(); st.Delivered != pubs*per || st.SlowConsumers != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestCloseGracefullyDrainsThenNotices(t *testing.T) {
	t.Parallel()
	for _, r := range []session.CloseReason{session.ReasonShutdown, session.ReasonClientQuit, session.ReasonIdle} {
		t.Run(r.String(), func(t *testing.T) {
			t.Parallel()
			e := newEnv(session.Limits{})
			s, tr := e.open(t, session.Config{})
			tr.block()
			var want []string
			for i := 0; i < 50; i++ {
				s.Info(fmt.Sprint(i))
				want = append(want, fmt.Sprintf("* %d\n", i))
			}
			s.CloseGracefully(r)
			s.Info("too late")
			s.CloseGracefully(session.ReasonSlowConsumer) // the first reason sticks
			prefix := "* "
			if r.IsError() {
				prefix = "! "
			}
			want = append(want, prefix+r.Notice()+"\n")
			tr.unblock()
			<-s.Done()
			if got := tr.frames(); strings.Join(got, "") != strings.Join(want, "") {
				t.Errorf("frames = %q\nwant %q", got, want)
			}
			if s.Reason() != r {
				t.Errorf("Reason = %v, want %v", s.Reason(), r)
			}
		})
	}
}

func TestCloseGracefullyWithEmptyQueueCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{})
	testkit.Eventually(t, "nothing being written", func() bool { return !tr.writing() })
	s.CloseGracefully(session.ReasonWriteError) // a reason without a notice
	select {
	case <-s.Done():
	case <-time.After(waitFor):
		t.Fatal("graceful close with nothing to send did not close")
	}
	if n := len(tr.frames()); n != 0 {
		t.Errorf("%d frames written", n)
	}
}

func TestFinishWaitsForWriter(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	tr := newTransport()
	s := session.New(e.reg, session.Config{Logger: quietLog}, tr, lineCodec{})
	if e.reg.Len() != 1 {
		t.Fatalf("registry Len = %d, want 1", e.reg.Len())
	}
	tr.block()
	s.Info("hello")
	testkit.Eventually(t, "the writer to block", tr.writing)
	// Finish (the reader giving up) closes the transport, which fails the
	// blocked write; Finish returns only after the writer is gone.
	s.Finish(session.ReasonClientGone)
	if tr.writing() {
		t.Error("Finish returned while WriteBatch was still running")
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Finish")
	}
	if !tr.isClosed() || e.reg.Len() != 0 {
		t.Errorf("closed=%v registry Len=%d", tr.isClosed(), e.reg.Len())
	}
	if s.Reason() != session.ReasonClientGone {
		t.Errorf("Reason = %v", s.Reason())
	}
	// Deliveries after the end are ignored without blocking or panicking.
	s.Info("ignored")
	if n := e.hub.Stats().Clients; n != 0 {
		t.Errorf("hub still has %d clients after Finish", n)
	}
}

func TestWriteErrorEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{})
	tr.mu.Lock()
	tr.failNext = true
	tr.mu.Unlock()
	s.Info("boom")
	<-s.Done()
	if s.Reason() != session.ReasonWriteError {
		t.Errorf("Reason = %v, want write_error", s.Reason())
	}
	if got := e.reg.Stats().WriteErrors; got != 1 {
		t.Errorf("WriteErrors = %d, want 1", got)
	}
}

func TestAdmitLimits(t *testing.T) {
	t.Parallel()
	t.Run("max conns", func(t *testing.T) {
		t.Parallel()
		e := newEnv(session.Limits{MaxConns: 2})
		a, err := e.reg.Admit("10.0.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Admit("10.0.0.2:1"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Admit("10.0.0.3:1"); !errors.Is(err, session.ErrServerFull) {
			t.Fatalf("third Admit: err = %v, want ErrServerFull", err)
		}
		a.Release()
		a.Release() // idempotent: must not free a second place
		if _, err := e.reg.Admit("10.0.0.3:1"); err != nil {
			t.Fatalf("Admit after Release: %v", err)
		}
		if _, err := e.reg.Admit("10.0.0.4:1"); !errors.Is(err, session.ErrServerFull) {
			t.Fatalf("double Release freed two places: err = %v", err)
		}
		if st := e.reg.Stats(); st.Accepted != 3 || st.Rejected != 2 {
			t.Errorf("Accepted=%d Rejected=%d, want 3 and 2", st.Accepted, st.Rejected)
		}
	})
	t.Run("per ip", func(t *testing.T) {
		t.Parallel()
		e := newEnv(session.Limits{MaxConnsPerIP: 2})
		var tickets []*session.Ticket
		for _, addr := range []string{"10.0.0.1:1", "10.0.0.1:2", "[::1]:5", "::1"} {
			tk, err := e.reg.Admit(addr)
			if err != nil {
				t.Fatalf("Admit(%s): %v", addr, err)
			}
			tickets = append(tickets, tk)
		}
		for _, addr := range []string{"10.0.0.1:3", "10.0.0.1", "[::1]:6"} {
			if _, err := e.reg.Admit(addr); !errors.Is(err, session.ErrServerFull) {
				t.Errorf("Admit(%s): err = %v, want ErrServerFull", addr, err)
			}
		}
		if _, err := e.reg.Admit("10.0.0.2:1"); err != nil {
			t.Errorf("another IP refused: %v", err)
		}
		tickets[0].Release()
		if _, err := e.reg.Admit("10.0.0.1:4"); err != nil {
			t.Errorf("Admit after Release: %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		t.Parallel()
		e := newEnv(session.Limits{MaxConns: 10, MaxConnsPerIP: 5})
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted := 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.reg.Admit(fmt.Sprintf("10.0.0.%d:%d", i%4, i)); err == nil {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if admitted != 10 {
			t.Errorf("admitted %d, want exactly 10", admitted)
		}
	})
}

func TestRegistryShutdownDrainsEverySession(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	type pair struct {
		s  *session.Session
		tr *fakeTransport
	}
	var all []pair
	for i := 0; i < 5; i++ {
		s, tr := e.open(t, session.Config{})
		s.Do(session.Request{Op: session.OpSub, Arg: "news"})
		tr.block()
		all = append(all, pair{s, tr})
	}
	pub := e.hub.Connect(nopSub{})
	defer pub.Close()
	for i := 0; i < 100; i++ {
		if _, err := hubtest.Publish(pub, "news", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if st := e.reg.Stats(); st.Sessions != 5 || st.SessionsByDoor["fake"] != 5 {
		t.Errorf("Stats = %+v", st)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		done <- e.reg.Shutdown(ctx)
	}()
	for _, p := range all {
		p.tr.unblock()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(2 * waitFor):
		t.Fatal("Shutdown hung")
	}
	for i, p := range all {
		frames := p.tr.frames()
		if len(frames) != 102 || frames[0] != "* subscribed news\n" || frames[101] != "* server shutting down\n" {
			t.Errorf("session %d: %d frames, first %q, last %q", i, len(frames), frames[0], frames[len(frames)-1])
			continue
		}
		for j := 0; j < 100; j++ {
			if frames[j+1] != msgFrame("news", pub.Nick(), fmt.Sprint(j)) {
				t.Errorf("session %d: frame %d = %q", i, j+1, frames[j+1])
				break
			}
		}
	}
	if e.reg.Len() != 0 {
		t.Errorf("registry Len = %d after Shutdown", e.reg.Len())
	}
	// A session created after Shutdown began is closed at once.
	late, tr := e.open(t, session.Config{})
	<-late.Done()
	if late.Reason() != session.ReasonShutdown || strings.Join(tr.frames(), "") != "* server shutting down\n" {
		t.Errorf("late session: reason %v, frames %q", late.Reason(), tr.frames())
	}
}

func TestRegistryShutdownDeadlineForceCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{})
	tr.block() // never drains
	s.Info("stuck")
	testkit.Eventually(t, "the writer to block", tr.writing)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.reg.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Shutdown returned before the stuck session ended")
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{})
	other, otr := e.open(t, session.Config{})
	other.Do(session.Request{Op: session.OpNick, Arg: "Bob"})
	other.Do(session.Request{Op: session.OpJoin, Arg: "lobby"})
	steps := []struct {
		req  session.Request
		want []string // frames, in order
	}{
		{session.Request{Op: session.OpSay, Text: "hi"}, []string{"! join a room first"}},
		{session.Request{Op: session.OpNick, Arg: "bob"}, []string{"! nick bob is taken"}},
		{session.Request{Op: session.OpNick, Arg: "HTTP"}, []string{"! nick HTTP is taken"}},
		{session.Request{Op: session.OpNick, Arg: "bad!"}, []string{"! bad nick"}},
		{session.Request{Op: session.OpNick, Arg: "alice"}, []string{"* you are now alice"}},
		{session.Request{Op: session.OpJoin, Arg: "lobby"}, []string{"* joined lobby (2 here)"}},
		{session.Request{Op: session.OpJoin, Arg: "lobby"}, []string{"* now talking in lobby (2 here)"}},
		{session.Request{Op: session.OpJoin, Arg: "a.*"}, []string{"! bad topic"}},
		{session.Request{Op: session.OpWho}, []string{"* lobby: Bob, alice (2)"}},
		{session.Request{Op: session.OpWho, Arg: "empty"}, []string{"* empty: nobody here"}},
		{session.Request{Op: session.OpRooms}, []string{"* 1 room: lobby (2)"}},
		{session.Request{Op: session.OpSay, Text: "hello \x1b[2J"}, nil},
		{session.Request{Op: session.OpMsg, Arg: "bob", Text: "psst"}, []string{"* sent to bob"}},
		{session.Request{Op: session.OpMsg, Arg: "alice", Text: "me"}, []string{"! that is you"}},
		{session.Request{Op: session.OpMsg, Arg: "nobody", Text: "x"}, []string{"! no such nick nobody"}},
		{session.Request{Op: session.OpSub, Arg: "a.*", Arg2: "g"}, []string{"* subscribed a.* (group g)"}},
		{session.Request{Op: session.OpSub, Arg: "a..b"}, []string{"! bad pattern"}},
		{session.Request{Op: session.OpUnsub, Arg: "a.*"}, []string{"* unsubscribed a.*"}},
		{session.Request{Op: session.OpUnsub, Arg: "a.*"}, []string{"! not subscribed to a.*"}},
		{session.Request{Op: session.OpPub, Arg: "a.b", Text: "x"}, nil},
		{session.Request{Op: session.OpPub, Arg: "a.>", Text: "x"}, []string{"! bad topic"}},
		{session.Request{Op: session.OpPing, Text: "42"}, []string{"* pong 42"}},
		{session.Request{Op: session.OpPart}, []string{"* left lobby"}},
		{session.Request{Op: session.OpPart}, []string{"! you are not in a room"}},
		{session.Request{Op: session.OpPart, Arg: "dev"}, []string{"! you are not in dev"}},
		{session.Request{Op: session.OpWho}, []string{"! which room?"}},
		{session.Request{Op: 200}, []string{"! unknown operation"}},
	}
	for _, st := range steps {
		got, _ := exchange(t, s, tr, st.req)
		ok := len(got) == len(st.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.HasPrefix(got[i], st.want[i])
		}
		if !ok {
			t.Errorf("%v %q %q: got %q, want prefixes %q", st.req.Op, st.req.Arg, st.req.Text, got, st.want)
		}
	}
	s.Do(session.Request{Op: session.OpHelp})
	testkit.Eventually(t, "help", func() bool {
		return strings.Contains(strings.Join(tr.frames(), ""), "* /quit\n")
	})
	// Bob saw alice join, her sanitized text and her private message.
	other.Do(session.Request{Op: session.OpPing})
	testkit.Eventually(t, "bob's pong", func() bool { f := otr.frames(); return len(f) > 0 && f[len(f)-1] == "* pong\n" })
	all := strings.Join(otr.frames(), "")
	for _, want := range []string{"[lobby] alice: hello \uFFFD[2J\n", "(private) alice: psst\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("bob's frames lack %q:\n%s", want, all)
		}
	}
	s.Do(session.Request{Op: session.OpQuit})
	<-s.Done()
	if f := tr.frames(); f[len(f)-1] != "* bye\n" || s.Reason() != session.ReasonClientQuit {
		t.Errorf("after quit: last frame %q, reason %v", f[len(f)-1], s.Reason())
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(session.Limits{})
	s, tr := e.open(t, session.Config{RateLimit: 0.001, RateBurst: 3})
	for i := 0; i < 5; i++ {
		s.Do(session.Request{Op: session.OpPub, Arg: "t", Text: "x"})
	}
	s.Do(session.Request{Op: session.OpMsg, Arg: "nobody", Text: "x"})
	s.Do(session.Request{Op: session.OpPing})
	testkit.Eventually(t, "pong", func() bool { f := tr.frames(); return len(f) > 0 && f[len(f)-1] == "* pong\n" })
	got := tr.frames()
	want := []string{"! rate limited\n", "! rate limited\n", "! rate limited\n", "* pong\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("frames %q, want %q", got, want)
	}
	if st := e.reg.Stats(); st.RateLimited != 3 || st.Published != 3 {
		t.Errorf("RateLimited=%d Published=%d, want 3 and 3", st.RateLimited, st.Published)
	}
}

func TestCloseReasons(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range session.Reasons() {
		if r.String() == "" || r.String() == "unknown" || seen[r.String()] {
			t.Errorf("reason %d has label %q", r, r.String())
		}
		seen[r.String()] = true
	}
	if session.ReasonSlowConsumer.Notice() != "slow consumer, disconnecting" || !session.ReasonSlowConsumer.IsError() {
		t.Error("slow consumer notice")
	}
	if session.ReasonShutdown.Notice() != "server shutting down" || session.ReasonShutdown.IsError() {
		t.Error("shutdown notice")
	}
	if session.ReasonServerFull.Notice() != "server full" || session.ReasonClientQuit.Notice() != "bye" {
		t.Error("server full / bye notices")
	}
	bogus := session.CloseReason(250)
	if bogus.String() != "unknown" || bogus.Notice() != "" {
		t.Error("out-of-range reason")
	}
}
