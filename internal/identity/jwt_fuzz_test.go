package identity

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds token strings to a verifier of every kind of key. It
// must never panic, always answer an *AuthError when it refuses, and
// accept only what one of our keys signed: the signature covers the
// header and payload as sent, so an accepted token's first two segments
// are those of a good seed.
func FuzzVerify(f *testing.F) {
	k := jwtTestKeys()
	j := loadTestJWT(f)
	signed := map[string]bool{}
	// add adds a seed; accepted says whether Verify accepts it.
	add := func(accepted bool, tok string) {
		if _, err := j.Verify(tok, jwtNow); (err == nil) != accepted {
			f.Fatalf("seed %q: err = %v, want accepted %v", tok, err, accepted)
		}
		if accepted {
			signed[tok[:strings.LastIndexByte(tok, '.')]] = true
		}
		f.Add(tok)
	}
	perms := map[string]any{"publish": []string{"a.>"}, "subscribe": []string{"*"}}
	add(true, sign(f, jwt.SigningMethodHS256, k.secret, "", good("alice")))
	add(true, sign(f, jwt.SigningMethodHS256, k.secret, "", good("bot", "permissions", perms)))
	add(true, sign(f, jwt.SigningMethodRS256, k.rsa, "", good("alice")))
	add(true, sign(f, jwt.SigningMethodRS256, k.rsa2, "r2", good("alice")))
	add(true, sign(f, jwt.SigningMethodES256, k.ec, "", good("alice", "nbf", jwtNow.Unix())))
	add(true, sign(f, jwt.SigningMethodES256, k.ec2, "e2", good("alice")))
	add(true, sign(f, jwt.SigningMethodEdDSA, k.ed, "", good("alice")))
	add(false, sign(f, jwt.SigningMethodHS256, k.secret, "", good("alice", "exp", nil)))
	add(false, sign(f, jwt.SigningMethodHS256, k.secret, "", good("alice", "exp", jwtNow.Add(-time.Hour).Unix())))
	add(false, sign(f, jwt.SigningMethodHS256, k.secret, "", good("bot", "permissions", map[string]any{"admin": true})))
	add(false, sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good("alice")))
	add(false, sign(f, jwt.SigningMethodHS256, k.rsaPEM, "", good("admin")))
	f.Add("")
	f.Add("..")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := j.Verify(token, jwtNow)
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Reason == "" {
				t.Fatalf("refusal %v is not an AuthError with a reason", err)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatal("the error holds the token")
			}
			return
		}
		i := strings.LastIndexByte(token, '.')
		if i < 0 || !signed[token[:i]] {
			t.Fatalf("accepted a token none of our keys signed: %q", token)
		}
		if hubNickErr(c.Subject) || c.Expires.Before(jwtNow.Add(-JWTLeeway)) {
			t.Fatalf("accepted bad claims %+v", c)
		}
		if c.Permissions != nil {
			if _, err := Compile(*c.Permissions); err != nil {
				t.Fatalf("accepted bad permissions: %v", err)
			}
		}
	})
}

// hubNickErr reports whether s is not a valid nick, checked here without
// the hub so the property does not lean on the code under test.
func hubNickErr(s string) bool {
	if s == "" || len(s) > 32 {
		return true
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return true
		}
	}
	return false
}

// FuzzPermissionsClaim feeds JSON to the permissions claim's decoder. It
// must never panic, and whatever it accepts must be a JSON object whose
// members are among the four lists, each an array of strings, decoded to
// exactly those strings, with patterns that compile.
func FuzzPermissionsClaim(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"publish":["a.>"],"subscribe":["*"],"deny-publish":["a.b"],"deny-subscribe":["x.>"]}`,
		`{"publish":[]}`,
		`{"publish":["a"],"publish":["b"]}`,
		`{"Publish":["a"]}`,
		`{"publish":null}`,
		`{"publish":[null]}`,
		`{"publish":"a"}`,
		`{"publish":["a.."]}`,
		`{"admin":true}`,
		`{"publish":["a"]} {}`,
		`[]`, `null`, `"x"`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := decodePermissions(raw)
		if err != nil {
			if p != nil {
				t.Fatal("an error and permissions")
			}
			return
		}
		var generic map[string][]string
		if err := json.Unmarshal(raw, &generic); err != nil || generic == nil {
			t.Fatalf("accepted %q, which is not an object of string lists: %v", raw, err)
		}
		want := Permissions{Publish: generic["publish"], Subscribe: generic["subscribe"], DenyPublish: generic["deny-publish"], DenySubscribe: generic["deny-subscribe"]}
		for name, list := range generic {
			switch name {
			case "publish", "subscribe", "deny-publish", "deny-subscribe":
				if list == nil {
					t.Fatalf("accepted %q: %s is null", raw, name)
				}
			default:
				t.Fatalf("accepted %q with member %q", raw, name)
			}
		}
		if !samePermissions(*p, want) {
			t.Fatalf("%q decoded to %+v, want %+v", raw, *p, want)
		}
		if _, err := Compile(*p); err != nil {
			t.Fatalf("accepted %q with bad patterns: %v", raw, err)
		}
	})
}

// samePermissions compares lists, an empty list equal to a nil one.
func samePermissions(a, b Permissions) bool {
	eq := func(x, y []string) bool { return len(x) == 0 && len(y) == 0 || reflect.DeepEqual(x, y) }
	return eq(a.Publish, b.Publish) && eq(a.Subscribe, b.Subscribe) && eq(a.DenyPublish, b.DenyPublish) && eq(a.DenySubscribe, b.DenySubscribe)
}
