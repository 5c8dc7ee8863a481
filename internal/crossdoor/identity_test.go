package crossdoor_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// idClient is what the identity scenario needs of a client, whatever its
// door: each call returns the server's refusal, or "" when it agreed.
type idClient interface {
	Publish(topic, text string) string
	Subscribe(pattern string) string
	// Next returns the next message as "TOPIC TEXT", skipping notices.
	Next() string
}

// idDoor dials a client of one door that presents token ("" = none) the
// way that door's users do, and returns it or the refusal of the token.
type idDoor struct {
	name string
	dial func(t *testing.T, ts *testServer, token string) (idClient, string)
	// cfg, if set, adjusts the server for the door (TLS).
	cfg func(t *testing.T, c *server.Config)
}

var idDoors = []idDoor{
	{"tcp", dialLineAs, nil},
	{"tcp+tls", dialLineTLSAs, withLineTLS},
	{"ws", dialWSAs, nil},
	{"sse+http", dialSSEAs, nil},
}

// lineCA signs the certificate of the line protocol's TLS listener in
// the tcp+tls runs.
var lineCA struct {
	once sync.Once
	ca   *certtest.CA
}

// withLineTLS serves the line protocol over TLS too (the web door keeps
// plain HTTP: the certificate goes to the TCP door only in these runs,
// so the TLS settings below are the TCP door's).
func withLineTLS(t *testing.T, c *server.Config) {
	lineCA.once.Do(func() { lineCA.ca = certtest.NewCA(t, "crossdoor CA") })
	cert, key := lineCA.ca.Server(t).Write(t, t.TempDir())
	c.TLS.CertFile, c.TLS.KeyFile = cert, key
	c.TCP.TLSAddr = "127.0.0.1:0"
}

func dialLineTLSAs(t *testing.T, ts *testServer, token string) (idClient, string) {
	lc, err := linetest.DialTLS(t, ts.TCPTLSAddr(), lineCA.ca.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	lc.ReadBanner()
	return authLine(&lineAs{lc}, token)
}

// The identities of the scenario: the worked example of docs/security.md
// in small.
var idUsers = []identity.User{
	{Name: "bot", Token: "bot-secret", Permissions: identity.Permissions{
		Publish: []string{"alerts.>"}, DenyPublish: []string{"alerts.secret"}}},
	{Name: "reader", Token: "reader-secret", Permissions: identity.Permissions{
		Subscribe: []string{"alerts.>"}, DenySubscribe: []string{"alerts.disk"}}},
}

var idAnonymous = &identity.Anonymous{Permissions: identity.Permissions{
	Publish: []string{"lobby"}, Subscribe: []string{"lobby"}}}

// TestIdentitiesEveryDoor checks the rules of identities and permissions
// on every door: wrong and missing tokens, what each identity may
// publish and subscribe to, deny winning over allow, and a wildcard
// subscription that overlaps a denied subject never delivering from it.
func TestIdentitiesEveryDoor(t *testing.T) {
	t.Parallel()
	for _, d := range idDoors {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			secret := writeSecret(t)
			ts := startIDServer(t, d, secret)
			for _, tc := range []struct{ token, want string }{
				{"guess", "bad token"},
				{secret.sign(t, "carol", -time.Minute, nil), "bad token: expired"},
				{signHS(t, strings.Repeat("k", 32), "carol", time.Hour, nil), "bad token: bad signature"},
			} {
				if _, refusal := d.dial(t, ts, tc.token); !strings.Contains(refusal, tc.want) {
					t.Fatalf("token %q: refusal %q, want %q", tc.token, refusal, tc.want)
				}
			}
			// A JWT's permissions claim says what its holder may do.
			carol, refusal := d.dial(t, ts, secret.sign(t, "carol", time.Hour, &identity.Permissions{Publish: []string{"news.>"}}))
			if refusal != "" {
				t.Fatalf("a good JWT refused: %q", refusal)
			}
			if got := carol.Publish("alerts.cpu", "x"); !strings.Contains(got, "permission denied: publish to alerts.cpu") {
				t.Fatalf("JWT holder publishing outside its claim: %q", got)
			}
			if got := carol.Publish("news.a", "x"); got != "" {
				t.Fatalf("JWT holder publishing inside its claim: %q", got)
			}
			anon, _ := d.dial(t, ts, "")
			if got := anon.Publish("alerts.cpu", "x"); !strings.Contains(got, "authentication required") {
				t.Fatalf("anonymous publish outside lobby: %q, want authentication required", got)
			}
			if got := anon.Publish("lobby", "hi"); got != "" {
				t.Fatalf("anonymous publish to lobby: %q", got)
			}
			bot, refusal := d.dial(t, ts, "bot-secret")
			if refusal != "" {
				t.Fatalf("bot's token refused: %q", refusal)
			}
			if got := bot.Publish("alerts.secret", "x"); !strings.Contains(got, "permission denied: publish to alerts.secret") {
				t.Fatalf("deny-publish: %q", got)
			}
			if got := bot.Publish("lobby", "x"); !strings.Contains(got, "permission denied: publish to lobby") {
				t.Fatalf("bot publishing outside alerts.>: %q", got)
			}
			reader, _ := d.dial(t, ts, "reader-secret")
			if got := reader.Subscribe("alerts.disk"); !strings.Contains(got, "permission denied: subscribe to alerts.disk") {
				t.Fatalf("deny-subscribe: %q", got)
			}
			if got := reader.Subscribe("alerts.>"); got != "" {
				t.Fatalf("a wildcard overlapping a denied subject: %q", got)
			}
			if got := reader.Publish("alerts.cpu", "x"); !strings.Contains(got, "permission denied") {
				t.Fatalf("reader publishing: %q", got)
			}
			for _, topic := range []string{"alerts.disk", "alerts.cpu"} {
				if got := bot.Publish(topic, "on "+topic); got != "" {
					t.Fatalf("bot publishing to %s: %q", topic, got)
				}
			}
			// The denied subject is filtered out at delivery: the first
			// message the reader gets is the second one.
			if got := reader.Next(); got != "alerts.cpu on alerts.cpu" {
				t.Fatalf("reader got %q first, want alerts.cpu (alerts.disk must be filtered)", got)
			}
			// Refusals are counted by door and kind, and /metrics shows
			// them (over HTTPS when the server has a certificate);
			// tokens never show.
			door := map[string]string{"tcp": "tcp", "tcp+tls": "tcp", "ws": "ws", "sse+http": "http"}[d.name]
			counts := ts.Registry().Violations()
			for _, kind := range []string{"auth", "publish"} {
				if counts[session.Violation{Door: door, Kind: kind}] == 0 {
					t.Errorf("no %s violations counted for door %s: %v", kind, door, counts)
				}
			}
			metrics := ""
			if d.cfg == nil {
				_, _, metrics = webtest.Get(t, ts.base+"/metrics")
				if !strings.Contains(metrics, `switchboard_session_violations_total{door="`+door+`",kind="publish"}`) {
					t.Errorf("/metrics does not show the violations")
				}
			}
			if strings.Contains(metrics, "secret") || strings.Contains(ts.Logs.Text(), "-secret") {
				t.Error("a token reached the metrics or the logs")
			}
		})
	}
}

// startIDServer starts a server for door d with the identity scenario's
// users and anonymous rules, taking JWTs signed with secret.
func startIDServer(t *testing.T, d idDoor, secret jwtSecret) *testServer {
	return startServer(t, func(c *server.Config) {
		c.Auth.Users, c.Auth.Anonymous = idUsers, idAnonymous
		c.Auth.JWT.SecretFile = secret.file
		if d.cfg != nil {
			d.cfg(t, c)
		}
	})
}

// jwtSecret is an HS256 secret in a file, as --jwt-secret-file reads it.
type jwtSecret struct {
	file, key string
}

func writeSecret(t *testing.T) jwtSecret {
	key := "a test secret that is long enough for HS256"
	file := filepath.Join(t.TempDir(), "jwt.secret")
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return jwtSecret{file, key}
}

func (s jwtSecret) sign(t *testing.T, sub string, ttl time.Duration, p *identity.Permissions) string {
	return signHS(t, s.key, sub, ttl, p)
}

// signHS makes an HS256 JWT for sub expiring in ttl, with p as its
// permissions claim when not nil.
func signHS(t *testing.T, key, sub string, ttl time.Duration, p *identity.Permissions) string {
	claims := jwt.MapClaims{"sub": sub, "exp": time.Now().Add(ttl).Unix()}
	if p != nil {
		claims["permissions"] = p
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// lineAs is a line-protocol client for the identity scenario.
type lineAs struct{ *linetest.Client }

func dialLineAs(t *testing.T, ts *testServer, token string) (idClient, string) {
	return authLine(&lineAs{linetest.Dial(t, ts.TCP)}, token)
}

// authLine presents token with /auth, unless it is empty.
func authLine(c *lineAs, token string) (idClient, string) {
	if token == "" {
		return c, ""
	}
	c.Send("/auth " + token)
	for {
		switch l := c.Client.Next(); {
		case strings.HasPrefix(l, "* authenticated"):
			return c, ""
		case strings.HasPrefix(l, "! "):
			return c, l[2:]
		}
	}
}

// refusal returns the first error line before a ping barrier.
func (c *lineAs) refusal() string {
	for _, l := range c.Ping() {
		if strings.HasPrefix(l, "! ") {
			return l[2:]
		}
	}
	return ""
}

func (c *lineAs) Publish(topic, text string) string {
	c.Send("/pub " + topic + " " + text)
	return c.refusal()
}

func (c *lineAs) Subscribe(pattern string) string {
	c.Send("/sub " + pattern)
	return c.refusal()
}

func (c *lineAs) Next() string {
	for {
		l := c.Client.Next()
		if topic, rest, ok := strings.Cut(strings.TrimPrefix(l, "["), "] "); ok && strings.HasPrefix(l, "[") {
			_, text, _ := strings.Cut(rest, ": ")
			return topic + " " + text
		}
	}
}

// wsAs is a WebSocket client for the identity scenario; it presents its
// token as a bearer header.
type wsAs struct {
	*webtest.WS
	seq int
}

func dialWSAs(t *testing.T, ts *testServer, token string) (idClient, string) {
	var hdr http.Header
	if token != "" {
		hdr = webtest.Bearer(token)
	}
	conn, err := webtest.TryDialWS(ts.base, "", hdr)
	if err != nil {
		// The dialer does not show the refusal's body: ask again
		// without upgrading, as the token is checked first.
		req, _ := http.NewRequest(http.MethodGet, ts.base+"/ws", nil)
		req.Header = hdr
		resp, rerr := http.DefaultClient.Do(req)
		if rerr != nil {
			t.Fatal(rerr)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Sprintf("%v: %s", err, b)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	w := &wsAs{WS: &webtest.WS{T: t, C: conn}}
	w.Expect("welcome", func(f webtest.Frame) bool { return f.S("op") == "info" })
	return w, ""
}

// refusal sends a ping and returns the first error frame before its pong.
func (c *wsAs) refusal() string {
	c.seq++
	tok := fmt.Sprintf("barrier-%d", c.seq)
	c.Send(map[string]string{"op": "ping", "text": tok})
	got := ""
	c.Expect("pong", func(f webtest.Frame) bool {
		if f.S("op") == "error" && got == "" {
			got = f.S("text")
		}
		return f.S("re") == "ping" && strings.HasSuffix(f.S("text"), tok)
	})
	return got
}

func (c *wsAs) Publish(topic, text string) string {
	c.Send(map[string]string{"op": "pub", "topic": topic, "text": text})
	return c.refusal()
}

func (c *wsAs) Subscribe(pattern string) string {
	c.Send(map[string]string{"op": "sub", "topic": pattern})
	return c.refusal()
}

func (c *wsAs) Next() string {
	f := c.Expect("a message", func(f webtest.Frame) bool { return f.S("op") == "msg" })
	return f.S("topic") + " " + f.S("text")
}

// sseAs subscribes with SSE streams and publishes with HTTP POSTs, both
// with the bearer header.
type sseAs struct {
	t      *testing.T
	base   string
	token  string
	stream *webtest.SSE
}

func dialSSEAs(t *testing.T, ts *testServer, token string) (idClient, string) {
	c := &sseAs{t: t, base: ts.base, token: token}
	if token == "" {
		return c, ""
	}
	// The token is checked on every request; a publish to nowhere
	// allowed shows whether it is good.
	code, body := webtest.Post(t, ts.base, "probe", "x", webtest.Bearer(token))
	if code == http.StatusUnauthorized {
		return c, body.S("error")
	}
	return c, ""
}

func (c *sseAs) header() http.Header {
	if c.token == "" {
		return nil
	}
	return webtest.Bearer(c.token)
}

func (c *sseAs) Publish(topic, text string) string {
	code, body := webtest.Post(c.t, c.base, topic, text, c.header())
	if code == http.StatusAccepted {
		return ""
	}
	return fmt.Sprintf("%d %s", code, body.S("error"))
}

func (c *sseAs) Subscribe(pattern string) string {
	req, err := http.NewRequest(http.MethodGet, c.base+"/sse"+webtest.Query("topic", pattern), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header() {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	c.stream = &webtest.SSE{T: c.t, Resp: resp, R: bufio.NewReader(resp.Body)}
	c.stream.Expect("subscribed", func(e webtest.Event) bool { return e.Comment == "subscribed "+pattern })
	return ""
}

func (c *sseAs) Next() string {
	ev := c.stream.Expect("a message", func(e webtest.Event) bool { return e.Event == "msg" })
	return ev.Data.S("topic") + " " + ev.Data.S("text")
}

// TestShorthandTokensOnTCP: --publish-token and --subscribe-token cover
// the line protocol too; until /auth, publishing and subscribing are
// refused, and a wrong token gets "bad token" and nothing more.
func TestShorthandTokensOnTCP(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) { c.Auth.PublishToken, c.Auth.SubscribeToken = "pub-tok", "sub-tok" })
	c := linetest.Dial(t, ts.TCP)
	c.Send("/pub news hello")
	c.ExpectLine("! authentication required")
	c.Send("/sub news")
	c.ExpectLine("! authentication required")
	c.Send("/auth wrong")
	c.ExpectLine("! bad token")
	c.Quiet()
	c.Send("/auth sub-tok")
	c.ExpectLine("* authenticated")
	c.Send("/sub news")
	c.ExpectLine("* subscribed news")
	c.Send("/pub news x")
	c.ExpectLine("! permission denied: publish to news")
	p := linetest.Dial(t, ts.TCP)
	p.Send("/auth pub-tok", "/pub news hello")
	p.ExpectLine("* authenticated")
	c.ExpectLine("[news] " + p.Nick + ": hello")
	if logs := ts.Logs.Text(); strings.Contains(logs, "pub-tok") || strings.Contains(logs, "sub-tok") || strings.Contains(logs, "wrong") {
		t.Fatalf("a token reached the logs:\n%s", logs)
	}
}

// TestNicksBelongToUsers: an authenticated client's nick is its name; a
// guest cannot take a user's name, and a guest holding it before the
// user logs in yields it; a user without the nick right cannot /nick.
func TestNicksBelongToUsers(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(c *server.Config) {
		c.Auth.Users = []identity.User{
			{Name: "alice", Token: "alice-secret", Permissions: identity.Permissions{Publish: []string{">"}, Subscribe: []string{">"}}},
			{Name: "nomad", Token: "nomad-secret", Nick: true},
		}
		c.Auth.Anonymous = &identity.Anonymous{Permissions: identity.Permissions{Publish: []string{">"}, Subscribe: []string{">"}}}
	})
	guest := linetest.Dial(t, ts.TCP)
	guest.Send("/nick ALICE")
	guest.ExpectLine("! nick ALICE belongs to a registered user")
	a := linetest.Dial(t, ts.TCP)
	a.Send("/auth alice-secret")
	a.ExpectLine("* authenticated as alice")
	a.ExpectLine("* you are now alice")
	a.Send("/nick other")
	a.ExpectLine("! permission denied: your nick is your name, alice")
	// A second connection of alice keeps its guest nick.
	a2 := linetest.Dial(t, ts.TCP)
	a2.Send("/auth alice-secret")
	a2.ExpectLine("* authenticated as alice")
	a2.Expect("* nick alice is in use by another connection")
	n := linetest.Dial(t, ts.TCP)
	n.Send("/auth nomad-secret", "/nick wanderer")
	n.ExpectLine("* authenticated as nomad")
	n.ExpectLine("* you are now nomad")
	n.ExpectLine("* you are now wanderer")
}

// TestReloadChangesPermissions: a reload that takes a right away applies
// at once to connections already up, their subscriptions included, and
// the connections stay.
func TestReloadChangesPermissions(t *testing.T) {
	t.Parallel()
	all := identity.Permissions{Publish: []string{">"}, Subscribe: []string{">"}}
	var cfg server.Config
	ts := startServer(t, func(c *server.Config) {
		c.Auth.Users = []identity.User{{Name: "carol", Token: "carol-secret", Permissions: all}}
		cfg = *c
	})
	carol := linetest.Dial(t, ts.TCP)
	carol.Send("/auth carol-secret", "/sub news.>")
	carol.ExpectLine("* authenticated as carol")
	carol.ExpectLine("* you are now carol")
	carol.ExpectLine("* subscribed news.>")
	pub := linetest.Dial(t, ts.TCP)
	pub.Send("/auth carol-secret")
	pub.Ping()
	pub.Send("/pub news.a one")
	carol.ExpectLine("[news.a] " + pub.Nick + ": one")

	cfg.Auth.Users = []identity.User{{Name: "carol", Token: "carol-secret", Permissions: identity.Permissions{
		Publish: []string{">"}, Subscribe: []string{">"}, DenySubscribe: []string{"news.a"}}}}
	if err := ts.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	pub.Send("/pub news.a two", "/pub news.b three")
	carol.ExpectLine("[news.b] " + pub.Nick + ": three")
	carol.Send("/sub news.a")
	carol.ExpectLine("! permission denied: subscribe to news.a")

	// A bad configuration on reload changes nothing.
	bad := cfg
	bad.Auth.Users = []identity.User{{Name: "bad name"}}
	if err := ts.Reload(bad); err == nil {
		t.Fatal("a reload with a bad user was accepted")
	}
	pub.Send("/pub news.b four")
	carol.ExpectLine("[news.b] " + pub.Nick + ": four")
}
