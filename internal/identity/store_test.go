package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func testStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	st, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestAuthenticate(t *testing.T) {
	sum := sha256.Sum256([]byte("bot-secret"))
	st := testStore(t, Config{Users: []User{
		{Name: "alice", Token: "alice-secret", Permissions: everything, Nick: true},
		{Name: "bot", Token: "sha256:" + hex.EncodeToString(sum[:]), Permissions: Permissions{Publish: []string{"alerts.>"}}},
	}})
	tests := []struct {
		token, name, reason string
		kind                Kind
	}{
		{"alice-secret", "alice", "", KindUser},
		{"bot-secret", "bot", "", KindUser},
		{"wrong", "", "bad token", 0},
		{"", "", "bad token: empty", 0},
		{"a.b.c", "", "bad token", 0}, // looks like a JWT but none are accepted
	}
	for _, tt := range tests {
		id, err := st.Authenticate(tt.token, time.Now())
		if tt.reason != "" {
			var ae *AuthError
			if !errors.As(err, &ae) || err.Error() != tt.reason {
				t.Errorf("%q: err = %v, want %q", tt.token, err, tt.reason)
			}
			continue
		}
		if err != nil || id.Name != tt.name || id.Kind != tt.kind {
			t.Errorf("%q: got %+v, %v; want %s", tt.token, id, err, tt.name)
		}
	}
	bot, _ := st.Authenticate("bot-secret", time.Now())
	if !bot.Perms.MayPublish("alerts.disk") || bot.Perms.MayPublish("lobby") || bot.Perms.MaySubscribe("alerts.>") || bot.MayNick {
		t.Errorf("bot's permissions wrong: %+v", bot)
	}
	if a := st.Anonymous(); a.Perms.CanPublish() || a.Perms.CanSubscribe() || st.IsOpen() {
		t.Error("with users and no [anonymous], anonymous clients may do something")
	}
	if !st.Reserved("alice") || st.Reserved("guest") || !st.Reserved("ALICE") {
		t.Error("Reserved wrong")
	}
}

func TestAnonymousDefaults(t *testing.T) {
	no := false
	tests := []struct {
		name           string
		cfg            Config
		open, pub, sub bool
		mayNick        bool
	}{
		{"open server", Config{}, true, true, true, true},
		{"publish token only", Config{PublishToken: "p"}, false, false, true, true},
		{"subscribe token only", Config{SubscribeToken: "s"}, false, true, false, true},
		{"both tokens", Config{PublishToken: "p", SubscribeToken: "s"}, false, false, false, true},
		{"[anonymous] lobby only", Config{Users: []User{{Name: "op", Token: "t"}}, Anonymous: &Anonymous{
			Permissions: Permissions{Publish: []string{"lobby"}, Subscribe: []string{"lobby"}}, Nick: &no}}, false, true, true, false},
	}
	for _, tt := range tests {
		st := testStore(t, tt.cfg)
		a := st.Anonymous()
		if st.IsOpen() != tt.open || a.Perms.CanPublish() != tt.pub || a.Perms.CanSubscribe() != tt.sub || a.MayNick != tt.mayNick {
			t.Errorf("%s: open %v pub %v sub %v nick %v", tt.name, st.IsOpen(), a.Perms.CanPublish(), a.Perms.CanSubscribe(), a.MayNick)
		}
	}
	st := testStore(t, Config{PublishToken: "p", SubscribeToken: "s"})
	pub, err := st.Authenticate("p", time.Now())
	if err != nil || !pub.Perms.MayPublish("x") || !pub.Perms.MaySubscribe(">") || pub.Name != "" {
		t.Errorf("publish token: %+v %v", pub, err)
	}
	sub, err := st.Authenticate("s", time.Now())
	if err != nil || sub.Perms.MayPublish("x") || !sub.Perms.MaySubscribe(">") {
		t.Errorf("subscribe token: %+v %v", sub, err)
	}
	only := testStore(t, Config{SubscribeToken: "s"})
	if sub, _ := only.Authenticate("s", time.Now()); !sub.Perms.MayPublish("x") {
		t.Error("the subscribe token takes away the publishing everyone has without a publish token")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Users: []User{{Name: "bad name"}}}, "name"},
		{Config{Users: []User{{Name: "a"}, {Name: "a"}}}, "defined twice"},
		{Config{Users: []User{{Name: "a", Token: "sha256:zz"}}}, "64 hex digits"},
		{Config{Users: []User{{Name: "a", Token: "x"}, {Name: "b", Token: "x"}}}, "given twice"},
		{Config{Users: []User{{Name: "a", Permissions: Permissions{Subscribe: []string{"a.>.b"}}}}}, "subscribe"},
		{Config{Anonymous: &Anonymous{Permissions: Permissions{Publish: []string{""}}}}, "anonymous"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", tt.cfg, err, tt.want)
		}
	}
}

// fakeJWT is a Verifier for the store's tests; the real one has its own.
type fakeJWT map[string]Claims

func (f fakeJWT) Verify(token string, now time.Time) (Claims, error) {
	c, ok := f[token]
	switch {
	case !ok:
		return Claims{}, &AuthError{Reason: "bad signature"}
	case now.After(c.Expires):
		return Claims{}, &AuthError{Reason: "expired"}
	}
	return c, nil
}

func TestJWTIdentities(t *testing.T) {
	now := time.Now()
	jwt := fakeJWT{
		"h.own.s":   {Subject: "carol", Expires: now.Add(time.Hour), Permissions: &Permissions{Subscribe: []string{"news.>"}}},
		"h.named.s": {Subject: "alice", Expires: now.Add(time.Hour)},
		"h.old.s":   {Subject: "alice", Expires: now.Add(-time.Hour)},
	}
	cfg := Config{JWT: jwt, Users: []User{{Name: "alice", Permissions: Permissions{Publish: []string{"a"}}}}}
	st := testStore(t, cfg)
	own, err := st.Authenticate("h.own.s", now)
	if err != nil || own.Name != "carol" || !own.Perms.MaySubscribe("news.x") || own.Perms.CanPublish() {
		t.Errorf("claims permissions: %+v %v", own, err)
	}
	named, err := st.Authenticate("h.named.s", now)
	if err != nil || !named.Perms.MayPublish("a") {
		t.Errorf("user's permissions: %+v %v", named, err)
	}
	if _, err := st.Authenticate("h.old.s", now); err == nil || err.Error() != "bad token: expired" {
		t.Errorf("expired: %v", err)
	}
	if _, err := st.Authenticate("h.forged.s", now); err == nil || err.Error() != "bad token: bad signature" {
		t.Errorf("forged: %v", err)
	}
	// A reload that changes alice's permissions reaches the JWT identity
	// that relied on them, not the one with its own.
	cfg.Users[0].Permissions = Permissions{Publish: []string{"b"}}
	st2 := testStore(t, cfg)
	if n := st2.Refresh(named); n.Perms.MayPublish("a") || !n.Perms.MayPublish("b") {
		t.Error("reload did not reach a JWT identity named after a user")
	}
	if st2.Refresh(own) != own {
		t.Error("reload changed a JWT identity with its own permissions")
	}
}

func TestCertified(t *testing.T) {
	st := testStore(t, Config{Users: []User{{Name: "svc", Permissions: Permissions{Publish: []string{"x"}}}},
		Anonymous: &Anonymous{Permissions: Permissions{Subscribe: []string{"lobby"}}}})
	if id := st.Certified("svc"); id.Name != "svc" || id.Kind != KindCert || !id.Perms.MayPublish("x") {
		t.Errorf("certified user: %+v", id)
	}
	if id := st.Certified("stranger"); id.Name != "stranger" || id.Perms.CanPublish() || !id.Perms.MaySubscribe("lobby") {
		t.Errorf("certified stranger: %+v", id)
	}
}
