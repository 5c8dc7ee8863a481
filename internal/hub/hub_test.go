package hub_test

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/hubtest"
)

// recorder records what a client receives, with filters by kind.
type recorder struct{ hubtest.Inbox }

func (r *recorder) all() []*hub.Message { return r.Messages() }

// texts returns the texts of the deliveries of kind k.
func (r *recorder) texts(k hub.Kind) []string {
	var out []string
	for _, m := range r.all() {
		if m.Kind == k {
			out = append(out, m.Text)
		}
	}
	return out
}

func (r *recorder) count(k hub.Kind) int { return len(r.texts(k)) }

func (r *recorder) reset() { r.Reset() }

type peer struct {
	*hub.Client
	rec *recorder
}

func connect(t *testing.T, h *hub.Hub) peer {
	t.Helper()
	rec := &recorder{}
	c := h.Connect(rec)
	t.Cleanup(c.Close)
	return peer{c, rec}
}

func mustSub(t *testing.T, p peer, pattern, group string) {
	t.Helper()
	if err := p.Subscribe(pattern, group); err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", pattern, group, err)
	}
}

func mustPub(t *testing.T, p peer, topic, text string) int {
	t.Helper()
	n, err := hubtest.Publish(p.Client, topic, text)
	if err != nil {
		t.Fatalf("Publish(%q): %v", topic, err)
	}
	return n
}

func TestWildcardSubscriptions(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub := connect(t, h)
	subs := map[string]peer{}
	for _, p := range []string{"a", "a.b", "a.*", "a.>", "*.b", ">", "a.*.c", "b.>"} {
		s := connect(t, h)
		mustSub(t, s, p, "")
		subs[p] = s
	}
	topics := []string{"a", "a.b", "a.c", "a.b.c", "b", "b.b", "x.y.z"}
	for _, topic := range topics {
		mustPub(t, pub, topic, "on "+topic)
	}
	for p, s := range subs {
		var want []string
		for _, topic := range topics {
			if refMatch(p, topic) {
				want = append(want, "on "+topic)
			}
		}
		if got := s.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, want) {
			t.Errorf("subscriber of %q got %q, want %q", p, got, want)
		}
	}
	if pub.rec.count(hub.KindMessage) != 0 {
		t.Errorf("publisher received %d messages, want 0", pub.rec.count(hub.KindMessage))
	}
}

func TestPublishReturnsDeliveriesAndFields(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub, a, b := connect(t, h), connect(t, h), connect(t, h)
	if err := pub.SetNick("pubber"); err != nil {
		t.Fatal(err)
	}
	mustSub(t, a, "t.x", "")
	mustSub(t, b, "t.*", "")
	if n := mustPub(t, pub, "t.x", "hello"); n != 2 {
		t.Errorf("Publish returned %d deliveries, want 2", n)
	}
	if n := mustPub(t, pub, "nobody.here", "x"); n != 0 {
		t.Errorf("Publish to no subscriber returned %d", n)
	}
	ma, mb := a.rec.all(), b.rec.all()
	if len(ma) != 1 || len(mb) != 1 {
		t.Fatalf("deliveries: a=%d b=%d, want 1 each", len(ma), len(mb))
	}
	if ma[0] != mb[0] {
		t.Error("subscribers got different *Message values; one message should be shared")
	}
	m := ma[0]
	if m.Kind != hub.KindMessage || m.Topic != "t.x" || m.From != "pubber" || m.Text != "hello" || m.Seq != 1 || m.Time == 0 || m.SenderID != pub.ID() {
		t.Errorf("message = %+v", m)
	}
	if _, err := hubtest.Publish(pub.Client, "a.*", "x"); !errors.Is(err, hub.ErrBadTopic) {
		t.Errorf("Publish to a wildcard: err = %v, want ErrBadTopic", err)
	}
}

func TestSequenceNumbersPerTopic(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub, s := connect(t, h), connect(t, h)
	mustSub(t, s, ">", "")
	for i := 0; i < 3; i++ {
		mustPub(t, pub, "one", "x")
		mustPub(t, pub, "two", "x")
	}
	seqs := map[string][]uint64{}
	for _, m := range s.rec.all() {
		seqs[m.Topic] = append(seqs[m.Topic], m.Seq)
	}
	want := map[string][]uint64{"one": {1, 2, 3}, "two": {1, 2, 3}}
	if !reflect.DeepEqual(seqs, want) {
		t.Errorf("sequence numbers %v, want %v", seqs, want)
	}
}

func TestOverlappingSubscriptionsDeliverOncePerSubscription(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub, s := connect(t, h), connect(t, h)
	mustSub(t, s, "a.*", "")
	mustSub(t, s, "a.>", "")
	mustSub(t, s, "a.b", "")
	mustPub(t, pub, "a.b", "x")
	mustPub(t, pub, "a.b.c", "y")
	if got := s.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, []string{"x", "x", "x", "y"}) {
		t.Errorf("got %q, want x three times then y once", got)
	}
	if err := s.Subscribe("a.*", ""); !errors.Is(err, hub.ErrAlreadySub) {
		t.Errorf("duplicate Subscribe: err = %v, want ErrAlreadySub", err)
	}
	// Room membership counts as one more subscription to the room's topic.
	if _, err := s.Join("a.b"); err != nil {
		t.Fatal(err)
	}
	s.rec.reset()
	mustPub(t, pub, "a.b", "z")
	if n := s.rec.count(hub.KindMessage); n != 4 {
		t.Errorf("member with three overlapping subscriptions got %d copies, want 4", n)
	}
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub, s := connect(t, h), connect(t, h)
	mustSub(t, s, "a.*", "")
	mustSub(t, s, "a.*", "g")
	mustSub(t, s, "b", "")
	if got := s.Subscriptions(); !reflect.DeepEqual(got, []string{"a.*", "a.* g", "b"}) {
		t.Errorf("Subscriptions() = %q", got)
	}
	if err := s.Unsubscribe("a.*"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe("a.*"); !errors.Is(err, hub.ErrNotSubscribed) {
		t.Errorf("second Unsubscribe: err = %v, want ErrNotSubscribed", err)
	}
	mustPub(t, pub, "a.x", "gone")
	mustPub(t, pub, "b", "kept")
	if got := s.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, []string{"kept"}) {
		t.Errorf("after Unsubscribe got %q, want [kept]", got)
	}
	if got := s.Subscriptions(); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("Subscriptions() = %q, want [b]", got)
	}
}

func TestSubscribeRejectsBadInput(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	s := connect(t, h)
	if err := s.Subscribe("a..b", ""); !errors.Is(err, hub.ErrBadPattern) {
		t.Errorf("bad pattern: err = %v", err)
	}
	if err := s.Subscribe("a", "bad group!"); !errors.Is(err, hub.ErrBadGroup) {
		t.Errorf("bad group: err = %v", err)
	}
	if _, err := s.Join("a.*"); !errors.Is(err, hub.ErrBadTopic) {
		t.Errorf("join wildcard: err = %v", err)
	}
	s.Close()
	if err := s.Subscribe("a", ""); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Join("a"); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("Join after Close: err = %v, want ErrClosed", err)
	}
	if err := s.SetNick("zed"); !errors.Is(err, hub.ErrClosed) {
		t.Errorf("SetNick after Close: err = %v, want ErrClosed", err)
	}
}

func TestQueueGroups(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub := connect(t, h)
	var workers []peer
	for i := 0; i < 3; i++ {
		w := connect(t, h)
		mustSub(t, w, "jobs.*", "workers")
		workers = append(workers, w)
	}
	other := connect(t, h) // a second group on an overlapping pattern
	mustSub(t, other, "jobs.>", "audit")
	plain1, plain2 := connect(t, h), connect(t, h)
	mustSub(t, plain1, "jobs.run", "")
	mustSub(t, plain2, "jobs.*", "")

	const n = 30
	for i := 0; i < n; i++ {
		if got := mustPub(t, pub, "jobs.run", fmt.Sprint(i)); got != 4 {
			t.Fatalf("Publish returned %d deliveries, want 4 (2 plain + 1 per group)", got)
		}
	}
	seen := map[string]int{}
	for _, w := range workers {
		got := w.rec.texts(hub.KindMessage)
		if len(got) == 0 {
			t.Errorf("worker %s got nothing: distribution should spread", w.Nick())
		}
		for _, x := range got {
			seen[x]++
		}
	}
	for i := 0; i < n; i++ {
		if seen[fmt.Sprint(i)] != 1 {
			t.Errorf("message %d reached the group %d times, want 1", i, seen[fmt.Sprint(i)])
		}
	}
	for _, p := range []peer{other, plain1, plain2} {
		if c := p.rec.count(hub.KindMessage); c != n {
			t.Errorf("%s got %d, want %d", p.Nick(), c, n)
		}
	}
}

func TestQueueGroupNeverReturnsToSender(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	a, b := connect(t, h), connect(t, h)
	mustSub(t, a, "work", "g")
	mustSub(t, b, "work", "g")
	for i := 0; i < 20; i++ {
		mustPub(t, a, "work", fmt.Sprint(i))
	}
	if c := a.rec.count(hub.KindMessage); c != 0 {
		t.Errorf("sender in the group got %d of its own messages", c)
	}
	if c := b.rec.count(hub.KindMessage); c != 20 {
		t.Errorf("other member got %d, want all 20", c)
	}
	// A group whose only member is the sender delivers nowhere.
	solo := connect(t, h)
	mustSub(t, solo, "solo", "g")
	if n := mustPub(t, solo, "solo", "x"); n != 0 || solo.rec.count(hub.KindMessage) != 0 {
		t.Errorf("solo group: %d deliveries, %d received", n, solo.rec.count(hub.KindMessage))
	}
	// Plain and room subscriptions never echo either.
	mustSub(t, solo, "echo", "")
	if _, err := solo.Join("echo"); err != nil {
		t.Fatal(err)
	}
	mustPub(t, solo, "echo", "x")
	if c := solo.rec.count(hub.KindMessage); c != 0 {
		t.Errorf("sender got its own message %d times", c)
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	alice, bob, carol := connect(t, h), connect(t, h), connect(t, h)
	for p, n := range map[peer]string{alice: "alice", bob: "bob", carol: "carol"} {
		if err := p.SetNick(n); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := alice.Join("lobby"); err != nil || n != 1 {
		t.Fatalf("alice Join = %d, %v", n, err)
	}
	if n, err := bob.Join("lobby"); err != nil || n != 2 {
		t.Fatalf("bob Join = %d, %v", n, err)
	}
	if _, err := bob.Join("lobby"); !errors.Is(err, hub.ErrAlreadyMember) {
		t.Errorf("second Join: err = %v, want ErrAlreadyMember", err)
	}
	if _, err := bob.Join("dev"); err != nil {
		t.Fatal(err)
	}
	// A subscriber to a room's topic is not a member.
	mustSub(t, carol, "lobby", "")
	if got := h.Who("lobby"); !reflect.DeepEqual(got, []string{"alice", "bob"}) {
		t.Errorf("Who(lobby) = %q", got)
	}
	if got := h.Rooms(); !reflect.DeepEqual(got, map[string]int{"lobby": 2, "dev": 1}) {
		t.Errorf("Rooms() = %v", got)
	}
	if got := bob.Rooms(); !reflect.DeepEqual(got, []string{"dev", "lobby"}) {
		t.Errorf("bob.Rooms() = %q", got)
	}
	// alice heard bob join; bob did not hear himself.
	if got := alice.rec.all(); len(got) != 1 || got[0].Kind != hub.KindJoin || got[0].From != "bob" || got[0].Topic != "lobby" {
		t.Errorf("alice's events = %+v", got)
	}
	if bob.rec.count(hub.KindJoin) != 0 {
		t.Error("bob heard his own join")
	}
	// Members and subscribers receive room messages.
	mustPub(t, alice, "lobby", "hi")
	if bob.rec.count(hub.KindMessage) != 1 || carol.rec.count(hub.KindMessage) != 1 {
		t.Errorf("room message: bob %d, carol %d", bob.rec.count(hub.KindMessage), carol.rec.count(hub.KindMessage))
	}
	// Part: membership and subscription end, others hear it.
	if err := alice.Part("lobby"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Part("lobby"); !errors.Is(err, hub.ErrNotMember) {
		t.Errorf("second Part: err = %v, want ErrNotMember", err)
	}
	if bob.rec.count(hub.KindPart) != 1 {
		t.Errorf("bob heard %d parts, want 1", bob.rec.count(hub.KindPart))
	}
	alice.rec.reset()
	mustPub(t, bob, "lobby", "after part")
	if alice.rec.count(hub.KindMessage) != 0 {
		t.Error("alice still receives the room after Part")
	}
	// Close: rooms hear a part and empty rooms disappear.
	bob.Close()
	bob.Close() // idempotent
	if got := h.Rooms(); len(got) != 0 {
		t.Errorf("Rooms() after everyone left = %v", got)
	}
	if got := h.Who("lobby"); len(got) != 0 {
		t.Errorf("Who(lobby) = %q, want empty", got)
	}
}

func TestNicks(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{ReservedNicks: []string{"http", "Server"}})
	a, b := connect(t, h), connect(t, h)
	if a.Nick() == b.Nick() || a.Nick() == "" {
		t.Fatalf("guest nicks %q and %q should be unique", a.Nick(), b.Nick())
	}
	if err := hub.ValidateNick(a.Nick()); err != nil {
		t.Errorf("guest nick %q is not a valid nick: %v", a.Nick(), err)
	}
	if err := a.SetNick("Alice"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"alice", "ALICE", "HTTP", "server"} {
		if err := b.SetNick(n); !errors.Is(err, hub.ErrNickTaken) {
			t.Errorf("SetNick(%q) = %v, want ErrNickTaken", n, err)
		}
	}
	for _, n := range []string{"", "bad nick", "x.y", "0123456789012345678901234567890123"} {
		if err := b.SetNick(n); !errors.Is(err, hub.ErrBadNick) {
			t.Errorf("SetNick(%q) = %v, want ErrBadNick", n, err)
		}
	}
	// Changing case of one's own nick is allowed.
	if err := a.SetNick("ALICE"); err != nil || a.Nick() != "ALICE" {
		t.Errorf("case change: %v, nick %q", err, a.Nick())
	}
	// The old nick is free again.
	if err := a.SetNick("al"); err != nil {
		t.Fatal(err)
	}
	if err := b.SetNick("alice"); err != nil {
		t.Errorf("old nick should be free: %v", err)
	}
	// Closing frees the nick.
	b.Close()
	c := connect(t, h)
	if err := c.SetNick("alice"); err != nil {
		t.Errorf("nick of a closed client should be free: %v", err)
	}
	// Room peers hear a rename once, even when sharing two rooms.
	d := connect(t, h)
	for _, p := range []peer{c, d} {
		for _, room := range []string{"r1", "r2"} {
			if _, err := p.Join(room); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.SetNick("alicia"); err != nil {
		t.Fatal(err)
	}
	var nickEvents []*hub.Message
	for _, m := range d.rec.all() {
		if m.Kind == hub.KindNick {
			nickEvents = append(nickEvents, m)
		}
	}
	if len(nickEvents) != 1 || nickEvents[0].From != "alice" || nickEvents[0].Text != "alicia" {
		t.Errorf("nick events at peer: %+v", nickEvents)
	}
	if c.rec.count(hub.KindNick) != 0 {
		t.Error("renamed client heard its own rename")
	}
}

func TestPrivate(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	a, b := connect(t, h), connect(t, h)
	if err := b.SetNick("Bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.Private("bob", "psst"); err != nil {
		t.Fatal(err)
	}
	got := b.rec.all()
	if len(got) != 1 || got[0].Kind != hub.KindPrivate || got[0].From != a.Nick() || got[0].To != "Bob" || got[0].Text != "psst" {
		t.Errorf("private delivery = %+v", got)
	}
	if err := a.Private("nobody", "x"); !errors.Is(err, hub.ErrNoSuchNick) {
		t.Errorf("to unknown nick: %v", err)
	}
	if err := a.Private(a.Nick(), "x"); !errors.Is(err, hub.ErrSelf) {
		t.Errorf("to self: %v", err)
	}
	if err := a.Private("bad nick", "x"); !errors.Is(err, hub.ErrBadNick) {
		t.Errorf("to bad nick: %v", err)
	}
}

func TestHubPublishAndStats(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	a, b := connect(t, h), connect(t, h)
	mustSub(t, a, "news.>", "")
	mustSub(t, b, "news.>", "g")
	if _, err := b.Join("lobby"); err != nil {
		t.Fatal(err)
	}
	m := &hub.Message{Topic: "news.today", From: "http", Text: "extra"}
	if n := hubtest.Deliver(m, h.Publish(m)); n != 2 {
		t.Errorf("Hub.Publish = %d deliveries, want 2", n)
	}
	if got := a.rec.all(); len(got) != 1 || got[0].Kind != hub.KindMessage || got[0].From != "http" {
		t.Errorf("a got %+v", got)
	}
	st := h.Stats()
	if st.Clients != 2 || st.Rooms != 1 || st.Subscriptions != 3 || st.Published != 1 || st.Delivered != 0 { // local deliveries are the publisher's to count
		t.Errorf("Stats = %+v", st)
	}
	a.Close()
	b.Close()
	if st := h.Stats(); st.Clients != 0 || st.Subscriptions != 0 || st.Rooms != 0 {
		t.Errorf("Stats after Close = %+v", st)
	}
}

// TestPerPublisherOrder checks that concurrent publishers' messages reach a
// subscriber in each publisher's order while subscriptions churn (run with
// -race).
func TestPerPublisherOrder(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	sub := connect(t, h)
	mustSub(t, sub, "load.>", "")
	const pubs, per = 4, 500
	var wg sync.WaitGroup
	for p := 0; p < pubs; p++ {
		c := connect(t, h)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := hubtest.Publish(c.Client, fmt.Sprintf("load.%d", i%3), fmt.Sprint(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Churn: subscriptions come and go meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		churn := h.Connect(&recorder{})
		defer churn.Close()
		for i := 0; i < 200; i++ {
			p := fmt.Sprintf("load.%d", i%3)
			_ = churn.Subscribe(p, "")
			_ = churn.Subscribe("load.*", "g")
			_ = churn.Unsubscribe(p)
			_ = churn.Unsubscribe("load.*")
		}
	}()
	wg.Wait()
	last := map[uint64]int{}
	n := 0
	for _, m := range sub.rec.all() {
		var i int
		fmt.Sscan(m.Text, &i)
		if prev, ok := last[m.SenderID]; ok && i != prev+1 {
			t.Fatalf("publisher %d: message %d after %d", m.SenderID, i, prev)
		}
		last[m.SenderID] = i
		n++
	}
	if n != pubs*per {
		t.Errorf("received %d, want %d", n, pubs*per)
	}
}

// TestSubscribeIsActiveOnReturn: a message published after Subscribe
// returns is always delivered, even with the match cache warm.
func TestSubscribeIsActiveOnReturn(t *testing.T) {
	t.Parallel()
	h := hub.New(hub.Config{})
	pub := connect(t, h)
	for i := 0; i < 50; i++ {
		mustPub(t, pub, "warm.topic", "cache me") // warm the cache with no subscriber
		s := connect(t, h)
		pattern := []string{"warm.topic", "warm.*", "warm.>", ">"}[i%4]
		mustSub(t, s, pattern, "")
		mustPub(t, pub, "warm.topic", "now")
		if got := s.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, []string{"now"}) {
			t.Fatalf("iteration %d (%s): got %q", i, pattern, got)
		}
		s.Close()
	}
}

// fakeBackplane records interest changes and forwarded messages.
type fakeBackplane struct {
	mu       sync.Mutex
	interest map[string]int
	changes  []string
	fwd      []*hub.Message
}

func (b *fakeBackplane) Interest(pattern, group string, add bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := pattern + "|" + group
	if add {
		b.interest[k]++
		b.changes = append(b.changes, "+"+k)
	} else {
		b.interest[k]--
		b.changes = append(b.changes, "-"+k)
	}
	return nil
}

func (b *fakeBackplane) Forward(m *hub.Message) error {
	b.mu.Lock()
	b.fwd = append(b.fwd, m)
	b.mu.Unlock()
	return nil
}

func TestBackplaneInterestFirstAndLast(t *testing.T) {
	t.Parallel()
	bp := &fakeBackplane{interest: map[string]int{}}
	h := hub.New(hub.Config{Backplane: bp})
	a, b := connect(t, h), connect(t, h)
	mustSub(t, a, "x.*", "")
	mustSub(t, b, "x.*", "")
	mustSub(t, b, "x.*", "g")
	if _, err := a.Join("room"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := b.Unsubscribe("x.*"); err != nil {
		t.Fatal(err)
	}
	bp.mu.Lock()
	changes := append([]string(nil), bp.changes...)
	bp.mu.Unlock()
	sort.Strings(changes)
	want := []string{"+room|", "+x.*|", "+x.*|g", "-room|", "-x.*|", "-x.*|g"}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("interest changes %q, want %q", changes, want)
	}
	// Publishing forwards; remote deliveries reach plain subscribers and one
	// group member.
	c, d := connect(t, h), connect(t, h)
	mustSub(t, c, "y", "")
	mustSub(t, d, "y", "q")
	mustPub(t, connect(t, h), "y", "local")
	bp.mu.Lock()
	nf := len(bp.fwd)
	bp.mu.Unlock()
	if nf == 0 {
		t.Error("publish was not forwarded to the backplane")
	}
	remote := &hub.Message{Kind: hub.KindMessage, Topic: "y", From: "far", Text: "remote", SenderNode: h.Node() + 2, SenderID: 1}
	if n := h.DeliverRemote(remote, ""); n != 1 {
		t.Errorf("DeliverRemote plain = %d, want 1", n)
	}
	if n := h.DeliverRemote(remote, "q"); n != 1 {
		t.Errorf("DeliverRemote group = %d, want 1", n)
	}
	if got := d.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, []string{"remote"}) {
		t.Errorf("group member got %q, want only the remote group delivery", got)
	}
}

// TestManySubscriptionsOnOneClient covers a client past the size where its
// subscriptions move from a slice to a map: duplicates are still refused,
// Unsubscribe still drops every group of a pattern, and Close still
// removes everything from the index.
func TestManySubscriptionsOnOneClient(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			h := hub.New(hub.Config{})
			pub, s := connect(t, h), connect(t, h)
			var want []string
			for i := range n {
				p := fmt.Sprintf("t.%03d", i)
				mustSub(t, s, p, "")
				mustSub(t, s, p, "g")
				want = append(want, p, p+" g")
			}
			if err := s.Subscribe("t.001", "g"); !errors.Is(err, hub.ErrAlreadySub) {
				t.Errorf("duplicate Subscribe: err = %v, want ErrAlreadySub", err)
			}
			if got := s.Subscriptions(); !reflect.DeepEqual(got, want) {
				t.Errorf("Subscriptions() = %d entries, want %d", len(got), len(want))
			}
			if err := s.Unsubscribe("t.001"); err != nil {
				t.Fatal(err)
			}
			mustPub(t, pub, "t.001", "gone")
			mustPub(t, pub, "t.002", "kept")
			if got := s.rec.texts(hub.KindMessage); !reflect.DeepEqual(got, []string{"kept", "kept"}) {
				t.Errorf("got %q, want kept twice (plain and group)", got)
			}
			if got, want := h.Stats().Subscriptions, 2*n-2; got != want {
				t.Errorf("index holds %d subscriptions, want %d", got, want)
			}
			s.Close()
			if got := h.Stats().Subscriptions; got != 0 {
				t.Errorf("index holds %d subscriptions after Close, want 0", got)
			}
		})
	}
}
