package crossdoor_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// expiredNotice is what a client whose JWT expired is told last.
const expiredNotice = "token expired, disconnecting"

// expiringIn returns the ttl to sign a JWT with so that this server takes
// it now and refuses it, and ends the connections holding it, after
// about left: its "exp" lies in the past, within the leeway.
func expiringIn(left time.Duration) time.Duration { return left - identity.JWTLeeway }

// TestJWTExpiryEveryDoor: a connection authenticated with a JWT ends when
// the token does, on every door, with the notice as its last word (a
// WebSocket closes with 1008); a client on the same server holding a
// token that does not expire stays. The deadline is the moment the
// server would refuse the token (its exp plus identity.JWTLeeway).
func TestJWTExpiryEveryDoor(t *testing.T) {
	t.Parallel()
	news := &identity.Permissions{Publish: []string{"news.>"}, Subscribe: []string{"news.>"}}
	for _, d := range idDoors {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			secret := writeSecret(t)
			ts := startIDServer(t, d, secret)
			short, refusal := d.dial(t, ts, secret.sign(t, "carol", expiringIn(2*time.Second), news))
			if refusal != "" {
				t.Fatalf("a JWT within its leeway refused: %q", refusal)
			}
			if got := short.Subscribe("news.>"); got != "" {
				t.Fatalf("subscribe: %q", got)
			}
			stays, _ := d.dial(t, ts, "reader-secret")
			if got := expectEnd(t, short); got != expiredNotice {
				t.Fatalf("the expired client's last word %q, want %q", got, expiredNotice)
			}
			if got := stays.Subscribe("alerts.>"); got != "" {
				t.Fatalf("a client with a lasting token, after the other expired: %q", got)
			}
		})
	}
}

// TestJWTRefreshKeepsConnection: on the doors that take a token in band
// (/auth, the WebSocket auth frame), presenting a newer JWT before the
// old one expires moves the deadline and the connection stays.
func TestJWTRefreshKeepsConnection(t *testing.T) {
	t.Parallel()
	news := &identity.Permissions{Publish: []string{"news.>"}, Subscribe: []string{"news.>"}}
	refresh := map[string]func(c idClient, token string) string{
		"tcp": func(c idClient, token string) string { _, r := authLine(c.(*lineAs), token); return r },
		"ws": func(c idClient, token string) string {
			w := c.(*wsAs)
			w.Send(map[string]string{"op": "auth", "token": token})
			return w.refusal()
		},
	}
	for _, d := range idDoors {
		re, ok := refresh[d.name]
		if !ok {
			continue // SSE and HTTP present a token per request
		}
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			secret := writeSecret(t)
			ts := startIDServer(t, d, secret)
			left := time.Second
			c, refusal := d.dial(t, ts, secret.sign(t, "carol", expiringIn(left), news))
			if refusal != "" {
				t.Fatalf("a JWT within its leeway refused: %q", refusal)
			}
			deadline := time.Now().Add(left)
			if got := re(c, secret.sign(t, "carol", time.Hour, news)); got != "" {
				t.Fatalf("refresh refused: %q", got)
			}
			time.Sleep(time.Until(deadline) + 500*time.Millisecond)
			if got := c.Publish("news.a", "still here"); got != "" {
				t.Fatalf("publish after the first token's deadline: %q", got)
			}
		})
	}
}

// expectEnd reads c until the server ends its connection and returns the
// text of the last notice (for SSE, of the stream's final event).
func expectEnd(t *testing.T, c idClient) string {
	t.Helper()
	switch c := c.(type) {
	case *lineAs:
		lines := c.ExpectEOF()
		if len(lines) == 0 {
			t.Fatal("tcp: the connection ended without a word")
		}
		return strings.TrimPrefix(strings.TrimPrefix(lines[len(lines)-1], "! "), "* ")
	case *wsAs:
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		last := ""
		for {
			f, err := c.WS.Next(ctx)
			if err != nil {
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation {
					t.Fatalf("ws: ended with %v, want a close with 1008", err)
				}
				return last
			}
			if f.S("final") != "" {
				last = f.S("text")
			}
		}
	case *sseAs:
		timer := time.AfterFunc(testkit.Timeout, func() { _ = c.stream.Resp.Body.Close() })
		defer timer.Stop()
		last := ""
		for {
			ev, err := c.stream.Read()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("sse: ended with %v, want a clean end of stream", err)
				}
				return last
			}
			if ev.Data.S("final") != "" {
				last = ev.Data.S("text")
			}
		}
	}
	t.Fatalf("expectEnd: unknown client %T", c)
	return ""
}
