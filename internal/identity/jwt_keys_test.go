package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

func TestLoadJWTNothing(t *testing.T) {
	t.Parallel()
	j, err := LoadJWT(JWTKeys{})
	if j != nil || err != nil {
		t.Fatalf("LoadJWT of nothing = %v, %v; want nil, nil", j, err)
	}
	// Stored in a Verifier, the nil *JWT is a non-nil interface.
	var v Verifier = j
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, jwtTestKeys().secret, "", good("alice")), jwtNow); err == nil || err.Error() != "bad token" {
		t.Errorf("nil *JWT: err = %v, want bad token", err)
	}
}

// TestLoadJWTSecret checks the secret file's trailing newlines are not
// part of the secret.
func TestLoadJWTSecret(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s", 32)
	for _, content := range []string{secret, secret + "\n", secret + "\r\n"} {
		j, err := LoadJWT(JWTKeys{SecretFile: writeFile(t, t.TempDir(), "secret", []byte(content))})
		if err != nil {
			t.Fatalf("%q: %v", content, err)
		}
		if _, err := j.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), "", good("alice")), jwtNow); err != nil {
			t.Errorf("%q: %v", content, err)
		}
	}
}

// TestLoadJWTErrors checks each bad key file is refused with an error
// that names the file and says what is wrong.
func TestLoadJWTErrors(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})
	tests := []struct {
		name    string
		field   string // "secret", "pem" or "jwks"
		content string
		want    string
	}{
		{"short secret", "secret", strings.Repeat("s", 31) + "\n", "the secret is 31 bytes; it must be at least 32"},
		{"empty secret", "secret", "\n", "the secret is 0 bytes"},
		{"no PEM", "pem", "hello", "no PEM public key found"},
		{"private PEM", "pem", string(privPEM), "PEM block 1 (PRIVATE KEY): this is a private key"},
		{"small RSA", "pem", string(publicPEM(small.Public())), "RSA key of 1024 bits; at least 2048 wanted"},
		{"P-224", "pem", string(publicPEM(p224.Public())), "unsupported curve"},
		{"second block bad", "pem", string(k.rsaPEM) + "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", "PEM block 2 (FOO): not a public key"},
		{"bad DER", "pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "PEM block 1 (PUBLIC KEY)"},
		{"not JSON", "jwks", "{", "not a JSON Web Key Set"},
		{"no keys", "jwks", `{"keys":[]}`, "no signature key in the set"},
		{"only unknown and enc keys", "jwks", `{"keys":[{"kty":"XYZ"},` + string(jwks(t, jose.JSONWebKey{Key: k.rsa.Public(), Use: "enc"}))[len(`{"keys":[`):], "no signature key in the set"},
		{"private JWK", "jwks", string(jwks(t, jose.JSONWebKey{Key: k.ec, KeyID: "p"})), `key 1 (kid "p"): this is a private key`},
		{"alg does not fit", "jwks", string(jwks(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "e", Algorithm: "RS256"})), `key 1 (kid "e"): alg "RS256" does not fit the key`},
		{"short oct", "jwks", `{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}`, "oct secret of 5 bytes"},
		{"broken key", "jwks", `{"keys":[{"kty":"RSA","n":"!!","e":"AQAB"}]}`, "key 1:"},
		{"small RSA JWK", "jwks", string(jwks(t, jose.JSONWebKey{Key: small.Public()})), "RSA key of 1024 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "key", []byte(tt.content))
			var keys JWTKeys
			switch tt.field {
			case "secret":
				keys.SecretFile = path
			case "pem":
				keys.PublicKeyFile = path
			case "jwks":
				keys.JWKSFile = path
			}
			j, err := LoadJWT(keys)
			if err == nil {
				t.Fatalf("loaded: %+v", j)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want the path and %q", err, tt.want)
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := LoadJWT(JWTKeys{PublicKeyFile: missing}); err == nil || !strings.Contains(err.Error(), "jwt public key file "+missing) {
		t.Errorf("missing file: %v", err)
	}
}

// TestLoadJWTKeyKinds checks the PEM kinds and JWKS key types that are
// accepted, each verifying a token of its algorithm.
func TestLoadJWTKeyKinds(t *testing.T) {
	t.Parallel()
	k := jwtTestKeys()
	cert := selfSigned(t, k.rsa)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	rsTok := sign(t, jwt.SigningMethodRS256, k.rsa, "", good("alice"))
	tests := []struct {
		name  string
		keys  func(dir string) JWTKeys
		token string
	}{
		{"certificate", func(d string) JWTKeys { return JWTKeys{PublicKeyFile: writeFile(t, d, "c", cert)} }, rsTok},
		{"PKCS#1", func(d string) JWTKeys { return JWTKeys{PublicKeyFile: writeFile(t, d, "c", pkcs1)} }, rsTok},
		{"Ed25519 JWK", func(d string) JWTKeys {
			return JWTKeys{JWKSFile: writeFile(t, d, "j", jwks(t, jose.JSONWebKey{Key: k.ed.Public()}))}
		}, sign(t, jwt.SigningMethodEdDSA, k.ed, "", good("alice"))},
		{"oct JWK", func(d string) JWTKeys {
			return JWTKeys{JWKSFile: writeFile(t, d, "j", jwks(t, jose.JSONWebKey{Key: k.secret, KeyID: "s"}))}
		}, sign(t, jwt.SigningMethodHS256, k.secret, "s", good("alice"))},
		{"unknown kty skipped", func(d string) JWTKeys {
			set := string(jwks(t, jose.JSONWebKey{Key: k.rsa.Public()}))
			return JWTKeys{JWKSFile: writeFile(t, d, "j", []byte(`{"keys":[{"kty":"XYZ","kid":"x"},`+set[len(`{"keys":[`):]))}
		}, rsTok},
	}
	for _, tt := range tests {
		j, err := LoadJWT(tt.keys(t.TempDir()))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if _, err := j.Verify(tt.token, jwtNow); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// selfSigned returns a PEM certificate for key.
func selfSigned(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: jwtNow.AddDate(-1, 0, 0), NotAfter: jwtNow.AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
