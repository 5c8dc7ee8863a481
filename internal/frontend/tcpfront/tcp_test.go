package tcpfront_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBannerAndGuestNicks(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	re := regexp.MustCompile(`^\* Welcome to the concurrent server! You are (\S+)\. Type /help for commands\.$`)
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		c := dialRaw(t, srv.addr)
		l := c.Next()
		m := re.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("banner %q does not match %s", l, re)
		}
		if seen[strings.ToLower(m[1])] {
			t.Errorf("guest nick %q given twice", m[1])
		}
		seen[strings.ToLower(m[1])] = true
		if err := hub.ValidateNick(m[1]); err != nil {
			t.Errorf("guest nick %q: %v", m[1], err)
		}
	}

	custom := startServer(t, tcpfront.Config{Banner: "Hello there."})
	c := dialRaw(t, custom.addr)
	if l := c.Next(); !regexp.MustCompile(`^\* Hello there\. You are \S+\. Type /help for commands\.$`).MatchString(l) {
		t.Errorf("custom banner line %q", l)
	}
}

func TestTwoClientsChatting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	alice := dialNick(t, srv.addr, "alice")
	bob := dialNick(t, srv.addr, "bob")

	alice.Send("/join lobby")
	alice.ExpectLine("* joined lobby (1 here)")
	bob.Send("/JOIN lobby")
	bob.ExpectLine("* joined lobby (2 here)")
	alice.ExpectLine("* bob joined lobby")

	alice.Send("hello bob")
	bob.ExpectLine("[lobby] alice: hello bob")
	bob.Send("hi alice", "//me waves")
	alice.ExpectLine("[lobby] bob: hi alice")
	alice.ExpectLine("[lobby] bob: /me waves")
	alice.Quiet() // the sender never gets its own message back
	bob.Quiet()

	alice.Send("/who")
	alice.ExpectLine("* lobby: alice, bob (2)")
	carol := dialNick(t, srv.addr, "carol")
	carol.Send("/sub lobby") // a subscriber is not a member
	carol.ExpectLine("* subscribed lobby")
	carol.Send("/who lobby", "/rooms")
	carol.ExpectLine("* lobby: alice, bob (2)")
	carol.ExpectLine("* 1 room: lobby (2)")
	alice.Send("for everyone")
	carol.ExpectLine("[lobby] alice: for everyone")
	bob.ExpectLine("[lobby] alice: for everyone")

	alice.Send("/msg BOB psst")
	alice.ExpectLine("* sent to BOB")
	bob.ExpectLine("(private) alice: psst")
	carol.Quiet()

	bob.Send("/nick bobby")
	bob.ExpectLine("* you are now bobby")
	alice.ExpectLine("* bob is now known as bobby")

	bob.Send("/part")
	bob.ExpectLine("* left lobby")
	alice.ExpectLine("* bobby left lobby")
	alice.Send("anyone?")
	carol.ExpectLine("[lobby] alice: anyone?")
	bob.Quiet()

	bob.Send("/quit")
	bob.ExpectLine("* bye")
	if rest := bob.ExpectEOF(); len(rest) != 0 {
		t.Errorf("lines after bye: %q", rest)
	}
	carol.Send("/help")
	carol.Expect("* commands")
	if got := carol.Ping(); len(got) < 10 || !strings.HasPrefix(got[len(got)-1], "* ") {
		t.Errorf("help: %q", got)
	}
}

func TestWildcardSubscribers(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	pub := dialNick(t, srv.addr, "pub")
	patterns := []string{"a.b", "a.*", "a.>", "*.b", ">"}
	subs := map[string]*client{}
	for _, p := range patterns {
		c := dial(t, srv.addr)
		c.Send("/sub " + p)
		c.ExpectLine("* subscribed " + p)
		subs[p] = c
	}
	both := dial(t, srv.addr) // overlapping subscriptions: once per subscription
	both.Send("/sub a.*", "/sub a.>")
	both.ExpectLine("* subscribed a.*")
	both.ExpectLine("* subscribed a.>")

	topics := []string{"a", "a.b", "a.c", "a.b.c", "x.b", "x.y"}
	for _, topic := range topics {
		pub.Send("/pub " + topic + " on " + topic)
	}
	pub.Quiet()
	want := map[string][]string{
		"a.b": {"a.b"},
		"a.*": {"a.b", "a.c"},
		"a.>": {"a.b", "a.c", "a.b.c"},
		"*.b": {"a.b", "x.b"},
		">":   topics,
	}
	for p, c := range subs {
		var exp []string
		for _, topic := range want[p] {
			exp = append(exp, "["+topic+"] pub: on "+topic)
		}
		if got := c.Ping(); strings.Join(got, "\n") != strings.Join(exp, "\n") {
			t.Errorf("subscriber of %s got %q, want %q", p, got, exp)
		}
	}
	exp := []string{"[a.b] pub: on a.b", "[a.b] pub: on a.b", "[a.c] pub: on a.c", "[a.c] pub: on a.c", "[a.b.c] pub: on a.b.c"}
	if got := both.Ping(); strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("overlapping subscriber got %q, want %q", got, exp)
	}

	both.Send("/unsub a.*")
	both.ExpectLine("* unsubscribed a.*")
	pub.Send("/pub a.z once")
	pub.Quiet()
	if got := both.Ping(); len(got) != 1 || got[0] != "[a.z] pub: once" {
		t.Errorf("after unsub got %q", got)
	}
	// A member of a room that also subscribes to its topic gets two copies.
	both.Send("/join a.z")
	both.ExpectLine("* joined a.z (1 here)")
	pub.Send("/pub a.z twice")
	pub.Quiet()
	if got := both.Ping(); len(got) != 2 {
		t.Errorf("member + subscriber got %q, want two copies", got)
	}
}

func TestQueueGroupDistribution(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	pub := dialNick(t, srv.addr, "pub")
	pub.Send("/sub jobs.* workers") // the publisher is in the group too
	pub.ExpectLine("* subscribed jobs.* (group workers)")
	var members []*client
	for i := 0; i < 3; i++ {
		c := dialNick(t, srv.addr, fmt.Sprintf("w%d", i))
		c.Send("/sub jobs.* workers")
		c.ExpectLine("* subscribed jobs.* (group workers)")
		members = append(members, c)
	}
	plain := dial(t, srv.addr)
	plain.Send("/sub jobs.>")
	plain.ExpectLine("* subscribed jobs.>")

	const n = 30
	for i := 0; i < n; i++ {
		pub.Send(fmt.Sprintf("/pub jobs.run job %d", i))
	}
	if got := pub.Ping(); len(got) != 0 {
		t.Errorf("publisher in the group received %q; it must never get its own messages", got)
	}
	count := map[string]int{}
	for _, m := range members {
		got := m.Ping()
		if len(got) == 0 {
			t.Errorf("%s got no job", m.Nick)
		}
		for _, l := range got {
			count[l]++
		}
	}
	for i := 0; i < n; i++ {
		if l := fmt.Sprintf("[jobs.run] pub: job %d", i); count[l] != 1 {
			t.Errorf("%q delivered %d times across the group, want 1", l, count[l])
		}
	}
	if got := plain.Ping(); len(got) != n {
		t.Errorf("plain subscriber got %d, want every one of %d", len(got), n)
	}
}

func TestNickRules(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	dialNick(t, srv.addr, "Alice")
	c := dial(t, srv.addr)
	tests := []struct{ cmd, want string }{
		{"/nick bad!name", "! bad nick"},
		{"/nick dot.ted", "! bad nick"},
		{"/nick " + strings.Repeat("x", 33), "! bad nick"},
		{"/nick zoë", "! bad nick"},
		{"/nick alice", "! nick alice is taken"},
		{"/nick ALICE", "! nick ALICE is taken"},
		{"/nick http", "! nick http is taken"},
		{"/nick HTTP", "! nick HTTP is taken"},
		{"/nick", "! usage: /nick NAME"},
		{"/nick a b", "! usage: /nick NAME"},
		{"/nick " + strings.Repeat("x", 32), "* you are now " + strings.Repeat("x", 32)},
		{"/NiCk ok_name-1", "* you are now ok_name-1"},
		{"/nick OK_NAME-1", "* you are now OK_NAME-1"},
	}
	for _, tt := range tests {
		c.Send(tt.cmd)
		if l := c.Next(); !strings.HasPrefix(l, tt.want) {
			t.Errorf("%q: got %q, want prefix %q", tt.cmd, l, tt.want)
		} else if strings.HasPrefix(l, "! ") && !strings.Contains(l, "/help") && !strings.Contains(l, "taken") {
			t.Errorf("%q: error %q should point to /help", tt.cmd, l)
		}
	}
	c.Quiet()
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})

	t.Run("line too long then normal line", func(t *testing.T) {
		t.Parallel()
		c := dial(t, srv.addr)
		c.Send(strings.Repeat("x", 5000))
		c.ExpectLine("! line too long (max 4096 bytes)")
		c.Send(strings.Repeat("y", 4096)) // exactly the limit is fine
		c.Expect("! join a room first")
		c.Write(strings.Repeat("z", 4096) + "\r\n") // the \r does not count
		c.Expect("! join a room first")
		c.Send(strings.Repeat("y", 4097))
		c.ExpectLine("! line too long (max 4096 bytes)")
		// A long line arriving in pieces is reported once and discarded.
		for i := 0; i < 5; i++ {
			c.Write(strings.Repeat("w", 2000))
		}
		c.Write("end\n/ping after\n")
		c.ExpectLine("! line too long (max 4096 bytes)")
		c.ExpectLine("* pong after")
		c.Quiet()
	})

	t.Run("line split across writes and CRLF", func(t *testing.T) {
		t.Parallel()
		sub := dial(t, srv.addr)
		sub.Send("/sub split")
		sub.ExpectLine("* subscribed split")
		c := dial(t, srv.addr)
		for _, part := range []string{"/pu", "b spl", "it hel", "lo", "\r", "\n"} {
			c.Write(part)
			time.Sleep(time.Millisecond) // make separate segments likely; not a timing assertion
		}
		c.Write("/ping crlf\r\n")
		c.ExpectLine("* pong crlf")
		sub.ExpectLine("[split] " + c.Nick + ": hello")
		c.Write("/pub split a\r\n/pub split b\n/pub split c\r\n")
		c.Quiet()
		if got := sub.Ping(); strings.Join(got, "|") != "[split] "+c.Nick+": a|[split] "+c.Nick+": b|[split] "+c.Nick+": c" {
			t.Errorf("got %q", got)
		}
	})

	t.Run("unknown command and bad args", func(t *testing.T) {
		t.Parallel()
		c := dial(t, srv.addr)
		tests := []struct{ cmd, want string }{
			{"/frobnicate", "! unknown command /frobnicate"},
			{"/", "! missing command"},
			{"/join", "! usage: /join ROOM [since=POSITION]"},
			{"/join a b", "! usage: /join ROOM [since=POSITION]"},
			{"/join a.*", "! bad topic"},
			{"/join a..b", "! bad topic"},
			{"/sub", "! usage: /sub PATTERN [GROUP]"},
			{"/sub a..b", "! bad pattern"},
			{"/sub a.>.b", "! bad pattern"},
			{"/sub a bad!group", "! bad group"},
			{"/unsub nothing", "! not subscribed to nothing"},
			{"/pub a.*", "! usage: /pub TOPIC TEXT"},
			{"/pub a.* text", "! bad topic"},
			{"/pub a.> text", "! bad topic"},
			{"/msg bob", "! usage: /msg NICK TEXT"},
			{"/msg nobody hi", "! no such nick nobody"},
			{"/rooms now", "! usage: /rooms"},
			{"/who", "! which room?"},
			{"/part", "! you are not in a room"},
			{"/quit now", "! usage: /quit"},
			{"plain text", "! join a room first"},
		}
		for _, tt := range tests {
			c.Send(tt.cmd)
			l := c.Next()
			if !strings.HasPrefix(l, tt.want) {
				t.Errorf("%q: got %q, want prefix %q", tt.cmd, l, tt.want)
			}
			if strings.HasPrefix(tt.want, "! usage") || strings.HasPrefix(tt.want, "! unknown") || strings.HasPrefix(tt.want, "! bad") {
				if !strings.Contains(l, "/help") {
					t.Errorf("%q: %q should point to /help", tt.cmd, l)
				}
			}
		}
		c.Send("", "   ") // blank lines are ignored
		c.Quiet()
	})

	t.Run("invalid UTF-8 and control characters", func(t *testing.T) {
		t.Parallel()
		room := "sanitize"
		a := dialNick(t, srv.addr, "sanA")
		b := dialNick(t, srv.addr, "sanB")
		for _, c := range []*client{a, b} {
			c.Send("/join " + room)
			c.Expect("* joined")
		}
		a.ExpectLine("* sanB joined " + room)
		b.Send("/sub evil")
		b.ExpectLine("* subscribed evil")
		evil := "bad \xff\xfe esc \x1b[31mred bell\a del\x7f c1 \xc2\x9b nul\x00 tab\tok é"
		clean := "bad \uFFFD\uFFFD esc \uFFFD[31mred bell\uFFFD del\uFFFD c1 \uFFFD nul\uFFFD tab\tok é"
		a.Write(evil + "\n")
		a.Write("/pub evil " + evil + "\n")
		a.Write("/msg sanB " + evil + "\n")
		a.ExpectLine("* sent to sanB")
		b.ExpectLine("[" + room + "] sanA: " + clean)
		b.ExpectLine("[evil] sanA: " + clean)
		b.ExpectLine("(private) sanA: " + clean)
		b.Write("/ping \x1b[2J\n")
		b.ExpectLine("* pong \uFFFD[2J")
		b.Write("/join \x1b[2J\n") // echoed names are made safe too
		b.Expect("! ")
		b.Write("/\x1b[2J\n")
		b.Expect("! unknown command")
	})

	t.Run("double slash", func(t *testing.T) {
		t.Parallel()
		a := dial(t, srv.addr)
		b := dial(t, srv.addr)
		for _, c := range []*client{a, b} {
			c.Send("/join slashes")
			c.Expect("* joined")
		}
		a.Expect("* " + b.Nick + " joined")
		a.Send("//help me", "//", "///x")
		b.ExpectLine("[slashes] " + a.Nick + ": /help me")
		b.ExpectLine("[slashes] " + a.Nick + ": /")
		b.ExpectLine("[slashes] " + a.Nick + ": //x")
		a.Quiet()
	})
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	// One message per 100 s with a burst of 3: the 4th message in a row is
	// refused however slowly the test runs.
	srv := startServer(t, withSession(session.Config{RateLimit: 0.01, RateBurst: 3}))
	sub := dial(t, srv.addr)
	sub.Send("/sub rl")
	sub.ExpectLine("* subscribed rl")
	c := dial(t, srv.addr)
	for i := 0; i < 5; i++ {
		c.Send(fmt.Sprintf("/pub rl m%d", i))
	}
	if got := c.Ping(); strings.Join(got, "|") != "! rate limited|! rate limited" {
		t.Errorf("publisher got %q, want two refusals", got)
	}
	if got := sub.Ping(); strings.Join(got, "|") != fmt.Sprintf("[rl] %[1]s: m0|[rl] %[1]s: m1|[rl] %[1]s: m2", c.Nick) {
		t.Errorf("subscriber got %q", got)
	}
	if n := srv.Registry().Stats().RateLimited; n != 2 {
		t.Errorf("RateLimited = %d, want 2", n)
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	t.Run("max conns", func(t *testing.T) {
		t.Parallel()
		srv := startServerLimits(t, tcpfront.Config{}, session.Limits{MaxConns: 2})
		a := dial(t, srv.addr)
		dial(t, srv.addr)
		over := dialRaw(t, srv.addr)
		over.ExpectLine("! server full")
		if rest := over.ExpectEOF(); len(rest) != 0 {
			t.Errorf("after server full: %q", rest)
		}
		// A place frees when a client leaves.
		a.Send("/quit")
		a.ExpectLine("* bye")
		a.ExpectEOF()
		testkit.Eventually(t, "the place to free up", func() bool { return srv.Registry().Len() == 1 })
		dial(t, srv.addr).Quiet()
		if st := srv.Registry().Stats(); st.Rejected != 1 {
			t.Errorf("Rejected = %d, want 1", st.Rejected)
		}
	})
	t.Run("per ip", func(t *testing.T) {
		t.Parallel()
		srv := startServerLimits(t, tcpfront.Config{}, session.Limits{MaxConnsPerIP: 1})
		dial(t, srv.addr)
		over := dialRaw(t, srv.addr)
		over.ExpectLine("! server full")
		over.ExpectEOF()
		// Another loopback address is another IP.
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		conn, err := d.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatalf("cannot dial from 127.0.0.2: %v", err)
		}
		other := &client{T: t, Conn: conn, R: bufio.NewReader(conn)}
		t.Cleanup(func() { _ = conn.Close() })
		other.Expect("* Welcome")
		other.Quiet()
	})
}

// TestIdleTimeout: the registry's idle timeout cuts a TCP client that
// sends nothing, with the notice, and not one that keeps sending, even
// bytes that are not a whole line yet.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	srv := startServerLimits(t, tcpfront.Config{}, session.Limits{IdleTimeout: idle})
	pinger, partial := dial(t, srv.addr), dial(t, srv.addr)
	silent := dial(t, srv.addr)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(idle / 5)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				// Not Send: Fatalf belongs to the test's goroutine.
				_, _ = io.WriteString(pinger.Conn, "/ping\n")
				_, _ = io.WriteString(partial.Conn, "/pi") // never a whole line
			}
		}
	}()
	silent.ExpectLine("! idle timeout, disconnecting; nothing from the client for 300ms (--idle-timeout)")
	if rest := silent.ExpectEOF(); len(rest) != 0 {
		t.Errorf("after idle notice: %q", rest)
	}
	// Well past the timeout, the two that send are still there.
	time.Sleep(2 * idle)
	close(stop)
	<-done
	if n := srv.Registry().Len(); n != 2 {
		t.Fatalf("%d sessions left, want the 2 that kept sending", n)
	}
	for _, l := range pinger.Ping() {
		if l != "* pong" {
			t.Errorf("pinger got %q besides its pongs", l)
		}
	}
}

// TestSlowConsumer: a subscriber that never reads is cut off as a slow
// consumer while the publisher never waits and a subscriber that keeps up
// receives everything, in order.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, withSession(session.Config{MaxPending: 64 << 10}))
	slow := dial(t, srv.addr)
	slow.Send("/sub load")
	slow.ExpectLine("* subscribed load")
	good := dial(t, srv.addr)
	good.Send("/sub load")
	good.ExpectLine("* subscribed load")
	pub := dialNick(t, srv.addr, "pub")

	// The good subscriber reads concurrently, checks order and reports its
	// progress, so that the publisher can keep within what it has read: a
	// subscriber that keeps up never loses a message.
	progress := make(chan int, 1000)
	errc := make(chan error, 1)
	go func() {
		defer close(progress)
		for n := 0; ; n++ {
			l, err := good.ReadLine()
			if err != nil {
				errc <- fmt.Errorf("after %d messages: %w", n, err)
				return
			}
			if l == "* pong done" {
				progress <- -n // the total, negated
				errc <- nil
				return
			}
			if exp := fmt.Sprintf("[load] pub: %d %s", n, padding); l != exp {
				errc <- fmt.Errorf("message %d: got %.60q", n, l)
				return
			}
			if n%100 == 99 {
				progress <- n + 1
			}
		}
	}()
	waitGood := func(n int) {
		t.Helper()
		for {
			select {
			case got, ok := <-progress:
				if !ok {
					t.Fatalf("good subscriber stopped: %v", <-errc)
				}
				if got >= n {
					return
				}
			case <-time.After(timeout):
				t.Fatalf("good subscriber stuck before %d messages", n)
			}
		}
	}

	// Publish in rounds until the slow consumer is gone (bounded: a few
	// times what the kernel's socket buffers can absorb).
	n := 0
	for round := 0; round < 1000 && srv.Registry().Stats().SlowConsumers == 0; round++ {
		var b strings.Builder
		for i := 0; i < 100; i++ {
			fmt.Fprintf(&b, "/pub load %d %s\n", n, padding)
			n++
		}
		pub.Write(b.String())
		pub.Quiet() // the publisher is answered whatever the slow one does
		waitGood(n)
	}
	if got := srv.Registry().Stats().SlowConsumers; got != 1 {
		t.Fatalf("SlowConsumers = %d after %d messages, want 1", got, n)
	}
	t.Logf("slow consumer cut after %d messages", n)
	good.Send("/ping done")
	for got := range progress {
		if got < 0 && -got != n {
			t.Errorf("good subscriber received %d messages, publisher sent %d", -got, n)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("good subscriber: %v", err)
	}
	if srv.logs.Count("slow consumer") == 0 {
		t.Error("slow consumer not logged")
	}
	// The server cuts the slow client without waiting for it to read;
	// what it then reads ends in EOF, and if the notice made it, it is the
	// last line.
	testkit.Eventually(t, "the slow session to end", func() bool { return srv.Registry().Len() == 2 })
	got := slow.ExpectEOF()
	for i, l := range got {
		if strings.HasPrefix(l, "!") && (l != "! slow consumer, disconnecting" || i != len(got)-1) {
			t.Errorf("slow client: unexpected %q at %d of %d", l, i, len(got))
		}
	}
}

var padding = strings.Repeat("p", 200)

// TestGracefulShutdownDeliversQueued: messages queued for a subscriber that
// is not reading are all delivered after Shutdown starts, followed by the
// shutdown notice.
func TestGracefulShutdownDeliversQueued(t *testing.T) {
	t.Parallel()
	srv := startServer(t, withSession(session.Config{MaxPending: 64 << 20}))
	sub := dial(t, srv.addr)
	sub.Send("/sub news")
	sub.ExpectLine("* subscribed news")
	pub := dialNick(t, srv.addr, "pub")
	// Publish in rounds until a good amount waits in the session queue
	// itself, beyond what the kernel's socket buffers absorb (bounded).
	n := 0
	for round := 0; round < 200 && srv.Registry().Stats().QueuedBytes < 1<<20; round++ {
		var b strings.Builder
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&b, "/pub news %d %s\n", n, padding)
			n++
		}
		pub.Write(b.String())
		pub.Quiet() // every message so far is queued for sub
	}
	if q := srv.Registry().Stats().QueuedBytes; q < 1<<20 {
		t.Fatalf("only %d bytes queued after %d messages", q, n)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for i := 0; i < n; i++ {
		if l, want := sub.Next(), fmt.Sprintf("[news] pub: %d %s", i, padding); l != want {
			t.Fatalf("message %d: got %.60q", i, l)
		}
	}
	sub.ExpectLine("* server shutting down")
	if rest := sub.ExpectEOF(); len(rest) != 0 {
		t.Errorf("after the notice: %q", rest)
	}
	pub.ExpectLine("* server shutting down")
	pub.ExpectEOF()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(timeout):
		t.Fatal("Shutdown hung")
	}
	if c, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}

// panicSub is a hub subscriber whose Deliver panics, which makes the
// goroutine of whichever connection publishes to it panic.
type panicSub struct{}

func (panicSub) Deliver(*hub.Message) { panic("test: subscriber exploded") }

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	bomb := srv.Hub().Connect(panicSub{})
	defer bomb.Close()
	if err := bomb.Subscribe("boom", ""); err != nil {
		t.Fatal(err)
	}
	bystander := dial(t, srv.addr)
	bystander.Send("/join calm")
	bystander.Expect("* joined")
	victim := dial(t, srv.addr)
	victim.Send("/pub boom x")
	victim.ExpectEOF()
	testkit.Eventually(t, "the panic to be logged", func() bool { return srv.logs.Count("panic") > 0 })
	bystander.Quiet()
	late := dial(t, srv.addr)
	late.Send("/join calm")
	late.ExpectLine("* joined calm (2 here)")
	bystander.Expect("* " + late.Nick + " joined calm")
	// The victim's connection closes before its session is unregistered.
	testkit.Eventually(t, "the victim's session to end, the other two to stay", func() bool { return srv.Registry().Len() == 2 })
}

func TestQuitAndClientClose(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	a := dialNick(t, srv.addr, "leaver")
	b := dial(t, srv.addr)
	for _, c := range []*client{a, b} {
		c.Send("/join exit")
		c.Expect("* joined")
	}
	a.ExpectLine("* " + b.Nick + " joined exit")
	_ = a.Conn.Close() // vanish without /quit
	b.ExpectLine("* leaver left exit")
	testkit.Eventually(t, "the session to end", func() bool { return srv.Registry().Len() == 1 })
	c := dial(t, srv.addr)
	c.Send("/nick leaver") // the nick is free again
	c.ExpectLine("* you are now leaver")
}

// TestIdleConnectionsWakeUp: connections that stay silent long enough for
// the door to park them (tcpfront.DefaultParkAfter) still receive, and
// still answer as soon as they speak again. Each round waits until the
// door reports both parked, so the test fails if they never park.
func TestIdleConnectionsWakeUp(t *testing.T) {
	t.Parallel()
	srv := startServer(t, tcpfront.Config{})
	a := dial(t, srv.addr)
	a.Send("/sub wake")
	a.ExpectLine("* subscribed wake")
	b := dial(t, srv.addr)
	for round := 0; round < 3; round++ {
		srv.waitParked(t, 2)
		b.Send(fmt.Sprintf("/pub wake round %d", round))
		a.ExpectLine(fmt.Sprintf("[wake] %s: round %d", b.Nick, round))
		srv.waitParked(t, 2)
		a.Quiet()
		b.Quiet()
	}
	if st := srv.front.Stats(); st.Parks < 6 {
		t.Errorf("connections parked %d times in three rounds, want at least 6", st.Parks)
	}
	a.Send("/quit")
	a.ExpectLine("* bye")
	a.ExpectEOF()
	testkit.Eventually(t, "the session to end", func() bool { return srv.Registry().Len() == 1 })
}
