package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// testKeys are generated once for all the JWT tests.
type testKeys struct {
	secret       []byte
	rsa, rsa2    *rsa.PrivateKey
	ec, ec2      *ecdsa.PrivateKey
	ed           ed25519.PrivateKey
	rsaPEM       []byte // rsa's public key, PEM
	ecPEM, edPEM []byte
}

var jwtTestKeys = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// A printable secret, as an operator would write it: a random one
	// could end in a newline byte, which the secret file's reader trims.
	raw := make([]byte, 36)
	_, err := rand.Read(raw)
	must(err)
	k.secret = []byte(base64.StdEncoding.EncodeToString(raw))
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.rsaPEM = publicPEM(k.rsa.Public())
	k.ecPEM = publicPEM(k.ec.Public())
	k.edPEM = publicPEM(k.ed.Public())
	return k
})

// publicPEM encodes a public key as a PEM "PUBLIC KEY" block.
func publicPEM(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// writeFile writes b to a file of dir and returns its path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// jwks encodes public keys as a JSON Web Key Set.
func jwks(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign makes a token of claims signed with key by m, with header kid
// when kid is not empty.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwtNow is the time the tests verify at.
var jwtNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// good returns claims valid at jwtNow for sub, with extra claims added.
func good(sub string, extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": jwtNow.Add(time.Hour).Unix(), "iat": jwtNow.Add(-time.Minute).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == nil {
			delete(c, extra[i].(string))
			continue
		}
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

// loadTestJWT loads the test keys: the secret, the RSA, ECDSA and Ed25519
// PEM keys in one file, and a JWKS of rsa2 (kid "r2") and ec2 (kid "e2").
func loadTestJWT(t testing.TB) *JWT {
	t.Helper()
	k := jwtTestKeys()
	dir := t.TempDir()
	pems := append(append(append([]byte(nil), k.rsaPEM...), k.ecPEM...), k.edPEM...)
	j, err := LoadJWT(JWTKeys{
		SecretFile:    writeFile(t, dir, "secret", append(append([]byte(nil), k.secret...), '\n')),
		PublicKeyFile: writeFile(t, dir, "keys.pem", pems),
		JWKSFile: writeFile(t, dir, "keys.jwks", jwks(t,
			jose.JSONWebKey{Key: k.rsa2.Public(), KeyID: "r2", Use: "sig"},
			jose.JSONWebKey{Key: k.ec2.Public(), KeyID: "e2", Algorithm: "ES256"})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJWTVerify(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	j := loadTestJWT(t)
	hs, rs, es, ed := jwt.SigningMethodHS256, jwt.SigningMethodRS256, jwt.SigningMethodES256, jwt.SigningMethodEdDSA
	perms := map[string]any{"publish": []string{"alerts.>"}, "deny-subscribe": []string{"secret.*"}}
	tok := sign(t, hs, k.secret, "", good("alice"))
	parts := strings.Split(tok, ".")
	tests := []struct {
		name   string
		token  string
		reason string       // the refusal's, "" for an accepted token
		perms  *Permissions // the claim expected of an accepted token
	}{
		{name: "HS256", token: sign(t, hs, k.secret, "", good("alice"))},
		{name: "HS512", token: sign(t, jwt.SigningMethodHS512, k.secret, "", good("alice"))},
		{name: "RS256", token: sign(t, rs, k.rsa, "", good("alice"))},
		{name: "RS512", token: sign(t, jwt.SigningMethodRS512, k.rsa, "", good("alice"))},
		{name: "ES256", token: sign(t, es, k.ec, "", good("alice"))},
		{name: "EdDSA", token: sign(t, ed, k.ed, "", good("alice"))},
		{name: "PEM key with a kid in the token", token: sign(t, rs, k.rsa, "whatever", good("alice"))},
		{name: "JWKS by kid", token: sign(t, rs, k.rsa2, "r2", good("alice"))},
		{name: "JWKS ES by kid", token: sign(t, es, k.ec2, "e2", good("alice"))},
		{name: "JWKS without kid", token: sign(t, rs, k.rsa2, "", good("alice"))},
		// The kid of an ES key: only the PEM key, which has no kid, is tried.
		{name: "JWKS kid of another key", token: sign(t, rs, k.rsa2, "e2", good("alice")), reason: "bad signature"},
		{name: "nbf and iat within the leeway", token: sign(t, hs, k.secret, "", good("alice", "nbf", jwtNow.Add(20*time.Second).Unix(), "iat", jwtNow.Add(20*time.Second).Unix()))},
		{name: "expired within the leeway", token: sign(t, hs, k.secret, "", good("alice", "exp", jwtNow.Add(-20*time.Second).Unix()))},
		{name: "permissions", token: sign(t, hs, k.secret, "", good("bot", "permissions", perms)),
			perms: &Permissions{Publish: []string{"alerts.>"}, DenySubscribe: []string{"secret.*"}}},
		{name: "empty permissions", token: sign(t, es, k.ec, "", good("bot", "permissions", map[string]any{})), perms: &Permissions{}},

		{name: "expired", token: sign(t, hs, k.secret, "", good("alice", "exp", jwtNow.Add(-time.Minute).Unix())), reason: "expired"},
		{name: "not valid yet", token: sign(t, rs, k.rsa, "", good("alice", "nbf", jwtNow.Add(time.Minute).Unix())), reason: "not valid yet"},
		{name: "issued in the future", token: sign(t, rs, k.rsa, "", good("alice", "iat", jwtNow.Add(time.Minute).Unix())), reason: "not valid yet"},
		{name: "missing exp", token: sign(t, hs, k.secret, "", good("alice", "exp", nil)), reason: "missing exp"},
		{name: "exp not a number", token: sign(t, hs, k.secret, "", good("alice", "exp", "tomorrow")), reason: "malformed"},
		{name: "missing sub", token: sign(t, hs, k.secret, "", good("", "sub", nil)), reason: "missing sub"},
		{name: "empty sub", token: sign(t, hs, k.secret, "", good("")), reason: "missing sub"},
		{name: "bad sub", token: sign(t, hs, k.secret, "", good("alice smith")), reason: "bad sub"},
		{name: "sub too long", token: sign(t, hs, k.secret, "", good(strings.Repeat("a", 33))), reason: "bad sub"},
		{name: "HS other secret", token: sign(t, hs, []byte(strings.Repeat("x", 40)), "", good("alice")), reason: "bad signature"},
		{name: "RS other key", token: sign(t, rs, mustRSA(t), "", good("alice")), reason: "bad signature"},
		{name: "ES other key", token: sign(t, es, mustEC(t), "", good("alice")), reason: "bad signature"},
		{name: "JWKS key with a kid fixed to ES256", token: sign(t, jwt.SigningMethodES384, mustEC384(t), "e2", good("alice")), reason: "algorithm not allowed"},
		{name: "EdDSA other key", token: sign(t, ed, mustEd(t), "", good("alice")), reason: "bad signature"},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good("alice")), reason: "algorithm not allowed"},
		{name: "PS256 (not offered)", token: sign(t, jwt.SigningMethodPS256, k.rsa, "", good("alice")), reason: "algorithm not allowed"},
		{name: "alg unknown", token: reheader(t, sign(t, hs, k.secret, "", good("alice")), `{"alg":"XX256","typ":"JWT"}`), reason: "algorithm not allowed"},
		{name: "alg missing", token: reheader(t, sign(t, hs, k.secret, "", good("alice")), `{"typ":"JWT"}`), reason: "algorithm not allowed"},
		{name: "kid not a string", token: reheader(t, sign(t, hs, k.secret, "", good("alice")), `{"alg":"HS256","kid":7}`), reason: "malformed"},
		{name: "crit header", token: reheaderSigned(t, `{"alg":"HS256","crit":["exp"],"exp":1}`, good("alice"), k.secret), reason: "malformed"},
		{name: "payload swapped", token: parts[0] + "." + strings.Split(sign(t, hs, k.secret, "", good("admin")), ".")[1] + "." + parts[2], reason: "bad signature"},
		{name: "signature cut", token: parts[0] + "." + parts[1] + ".", reason: "bad signature"},
		{name: "header resigned by nobody", token: reheader(t, tok, `{"alg":"HS256","typ":"JWT","kid":"r2"}`), reason: "bad signature"},
		{name: "bad permissions: unknown list", token: sign(t, hs, k.secret, "", good("bot", "permissions", map[string]any{"publish": []string{"a"}, "admin": true})), reason: "bad permissions claim"},
		{name: "bad permissions: not an object", token: sign(t, hs, k.secret, "", good("bot", "permissions", []string{"a"})), reason: "bad permissions claim"},
		{name: "bad permissions: null", token: sign(t, hs, k.secret, "", good("bot", "permissions", json.RawMessage("null"))), reason: "bad permissions claim"},
		{name: "bad permissions: bad pattern", token: sign(t, hs, k.secret, "", good("bot", "permissions", map[string]any{"subscribe": []string{"a..b"}})), reason: "bad permissions claim"},
		{name: "bad permissions: wrong case", token: sign(t, hs, k.secret, "", good("bot", "permissions", map[string]any{"Publish": []string{"a"}})), reason: "bad permissions claim"},
		{name: "malformed: two segments", token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0", reason: "malformed"},
		{name: "malformed: garbage", token: "not.a.jwt", reason: "malformed"},
		{name: "malformed: empty", token: "", reason: "malformed"},
		{name: "malformed: too long", token: sign(t, hs, k.secret, "", good("alice", "pad", strings.Repeat("x", MaxJWTLen))), reason: "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := j.Verify(tt.token, jwtNow)
			if tt.reason != "" {
				var ae *AuthError
				if !errors.As(err, &ae) || ae.Reason != tt.reason {
					t.Fatalf("err = %v, want bad token: %s", err, tt.reason)
				}
				if err.Error() != "bad token: "+tt.reason {
					t.Errorf("text %q", err.Error())
				}
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Error("the error holds the token")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.Subject == "" || c.Expires.IsZero() {
				t.Errorf("claims %+v", c)
			}
			if !reflect.DeepEqual(c.Permissions, tt.perms) {
				t.Errorf("permissions %+v, want %+v", c.Permissions, tt.perms)
			}
		})
	}
}

// TestJWTKeySetByKid checks a JWKS's keys are chosen by kid, and that a
// token without one is tried against each key of its algorithm.
func TestJWTKeySetByKid(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	j, err := LoadJWT(JWTKeys{JWKSFile: writeFile(t, t.TempDir(), "keys.jwks", jwks(t,
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "r1", Algorithm: "RS256"},
		jose.JSONWebKey{Key: k.rsa2.Public(), KeyID: "r2"},
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "e1"}))})
	if err != nil {
		t.Fatal(err)
	}
	rs := jwt.SigningMethodRS256
	tests := []struct {
		name, token, reason string
	}{
		{"r1", sign(t, rs, k.rsa, "r1", good("alice")), ""},
		{"r2", sign(t, rs, k.rsa2, "r2", good("alice")), ""},
		{"e1", sign(t, jwt.SigningMethodES256, k.ec, "e1", good("alice")), ""},
		{"no kid, first key", sign(t, rs, k.rsa, "", good("alice")), ""},
		{"no kid, second key", sign(t, rs, k.rsa2, "", good("alice")), ""},
		{"kid of the other RSA key", sign(t, rs, k.rsa2, "r1", good("alice")), "bad signature"},
		{"unknown kid", sign(t, rs, k.rsa, "r3", good("alice")), "unknown key"},
		{"alg other than the key's", sign(t, jwt.SigningMethodRS512, k.rsa, "r1", good("alice")), "unknown key"},
		{"alg the key without alg allows", sign(t, jwt.SigningMethodRS512, k.rsa2, "r2", good("alice")), ""},
		{"kid of a key of another type", sign(t, rs, k.rsa, "e1", good("alice")), "unknown key"},
		{"HS token", sign(t, jwt.SigningMethodHS256, k.secret, "", good("alice")), "algorithm not allowed"},
	}
	for _, tt := range tests {
		_, err := j.Verify(tt.token, jwtNow)
		if got := errText(err); got != tt.reason {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.reason)
		}
	}
}

// TestJWTAlgorithmConfusion signs an HS256 token with the PEM bytes of
// the RSA public key as the HMAC secret: a verifier that let the RSA key
// verify HMAC tokens would accept it.
func TestJWTAlgorithmConfusion(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	dir := t.TempDir()
	pemFile := writeFile(t, dir, "rsa.pem", k.rsaPEM)
	forged := sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", good("admin"))
	tests := []struct {
		name   string
		keys   JWTKeys
		reason string
	}{
		{"RSA key alone", JWTKeys{PublicKeyFile: pemFile}, "algorithm not allowed"},
		{"RSA key and a secret", JWTKeys{PublicKeyFile: pemFile, SecretFile: writeFile(t, dir, "secret", k.secret)}, "bad signature"},
		{"RSA key in a JWKS", JWTKeys{JWKSFile: writeFile(t, dir, "rsa.jwks", jwks(t, jose.JSONWebKey{Key: k.rsa.Public()}))}, "algorithm not allowed"},
	}
	for _, tt := range tests {
		j, err := LoadJWT(tt.keys)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Verify(forged, jwtNow); errText(err) != tt.reason {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.reason)
		}
		// The same key still verifies what it should.
		if _, err := j.Verify(sign(t, jwt.SigningMethodRS256, k.rsa, "", good("alice")), jwtNow); err != nil {
			t.Errorf("%s: a good RS256 token refused: %v", tt.name, err)
		}
	}
}

// TestDecodePermissions checks the permissions claim is decoded strictly.
func TestDecodePermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		claim string
		want  *Permissions // nil: refused
	}{
		{`{}`, &Permissions{}},
		{`{"publish":["a.>"],"subscribe":["*"],"deny-publish":["a.b"],"deny-subscribe":["x.>"]}`,
			&Permissions{Publish: []string{"a.>"}, Subscribe: []string{"*"}, DenyPublish: []string{"a.b"}, DenySubscribe: []string{"x.>"}}},
		{` { "publish" : [ "a" , "b" ] } `, &Permissions{Publish: []string{"a", "b"}}},
		{`{"publish":[]}`, &Permissions{Publish: []string{}}},
		{`{"publish":["a"],"publish":["b"]}`, nil},
		{`{"Publish":["a"]}`, nil},
		{`{"publish":null}`, nil},
		{`{"publish":[null]}`, nil},
		{`{"publish":[1]}`, nil},
		{`{"publish":"a"}`, nil},
		{`{"publish":["a.."]}`, nil},
		{`{"publish":[""]}`, nil},
		{`{"admin":true}`, nil},
		{`{"publish":["a"]} {}`, nil},
		{`{"publish":["a"]`, nil},
		{`{"publish":["a"],}`, nil},
		{`[]`, nil}, {`null`, nil}, {`"x"`, nil}, {``, nil},
	}
	for _, tt := range tests {
		got, err := decodePermissions([]byte(tt.claim))
		if tt.want == nil {
			if err == nil {
				t.Errorf("%s: accepted as %+v", tt.claim, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, %v; want %+v", tt.claim, got, err, tt.want)
		}
	}
}

// errText is err's reason: "" for nil, the AuthError's Reason, or the
// whole text of another error (which Verify must never return).
func errText(err error) string {
	var ae *AuthError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.Reason
	}
	return "not an AuthError: " + err.Error()
}

// reheader replaces a token's header, keeping its payload and signature.
func reheader(t testing.TB, tok, header string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	return b64([]byte(header)) + "." + parts[1] + "." + parts[2]
}

// reheaderSigned signs claims with secret under a header of its own.
func reheaderSigned(t testing.TB, header string, claims jwt.MapClaims, secret []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64([]byte(header)) + "." + b64(payload)
	sig, err := jwt.SigningMethodHS256.Sign(input, secret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// b64 encodes a token segment.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustRSA(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEC384(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustEd(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJWTInStore checks a Store given the real verifier: a token's
// identity, its permissions claim, and a refusal passed on as it is.
func TestJWTInStore(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	st := testStore(t, Config{JWT: loadTestJWT(t)})
	perms := map[string]any{"publish": []string{"alerts.>"}, "subscribe": []string{">"}}
	id, err := st.Authenticate(sign(t, jwt.SigningMethodES256, k.ec, "", good("bot", "permissions", perms)), jwtNow)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "bot" || id.Kind != KindJWT || !id.Perms.MayPublish("alerts.disk") || id.Perms.MayPublish("lobby") {
		t.Errorf("identity %+v", id)
	}
	_, err = st.Authenticate(sign(t, jwt.SigningMethodES256, k.ec, "", good("bot", "exp", jwtNow.Add(-time.Hour).Unix())), jwtNow)
	if err == nil || err.Error() != "bad token: expired" {
		t.Errorf("expired token: err = %v", err)
	}
}
