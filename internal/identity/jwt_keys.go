package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"

	jose "github.com/go-jose/go-jose/v4"
)

// MinJWTSecret is the shortest HMAC secret accepted, in bytes: 256 bits,
// the size of HS256's hash.
const MinJWTSecret = 32

// minRSABits is the smallest RSA modulus accepted.
const minRSABits = 2048

// The algorithms each kind of key verifies.
var (
	hmacAlgs    = []string{"HS256", "HS384", "HS512"}
	rsaAlgs     = []string{"RS256", "RS384", "RS512"}
	ed25519Algs = []string{"EdDSA"}
)

// LoadJWT reads the key files named in k and returns the verifier of
// tokens signed with any of their keys; nil, nil when k names no file.
// Errors name the file.
func LoadJWT(k JWTKeys) (*JWT, error) {
	if k == (JWTKeys{}) {
		return nil, nil
	}
	var keys []jwtKey
	if k.SecretFile != "" {
		key, err := loadSecret(k.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("jwt secret file %s: %w", k.SecretFile, err)
		}
		keys = append(keys, key)
	}
	if k.PublicKeyFile != "" {
		ks, err := loadKeys(k.PublicKeyFile, parsePEM)
		if err != nil {
			return nil, fmt.Errorf("jwt public key file %s: %w", k.PublicKeyFile, err)
		}
		keys = append(keys, ks...)
	}
	if k.JWKSFile != "" {
		ks, err := loadKeys(k.JWKSFile, parseJWKS)
		if err != nil {
			return nil, fmt.Errorf("jwks file %s: %w", k.JWKSFile, err)
		}
		keys = append(keys, ks...)
	}
	return newJWT(keys), nil
}

// loadSecret reads an HMAC secret: the file's bytes without trailing
// newlines.
func loadSecret(path string) (jwtKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return jwtKey{}, err
	}
	secret := bytes.TrimRight(b, "\r\n")
	if len(secret) < MinJWTSecret {
		return jwtKey{}, fmt.Errorf("the secret is %d bytes; it must be at least %d (e.g. `openssl rand -base64 48`)", len(secret), MinJWTSecret)
	}
	return jwtKey{algs: hmacAlgs, key: secret}, nil
}

// loadKeys reads the file at path and parses its keys with parse.
func loadKeys(path string, parse func([]byte) ([]jwtKey, error)) ([]jwtKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(b)
}

// parsePEM returns the public keys of the PEM blocks in b, at least one.
func parsePEM(b []byte) ([]jwtKey, error) {
	var keys []jwtKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		pub, err := pemPublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		key, err := publicJWTKey(pub)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

// pemPublicKey decodes one PEM block holding a public key.
func pemPublicKey(block *pem.Block) (any, error) {
	switch block.Type {
	case "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, errors.New("this is a private key: give the server the public key only (`openssl pkey -pubout`)")
	}
	return nil, errors.New("not a public key (want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE)")
}

// publicJWTKey wraps a public key with the algorithms it verifies.
func publicJWTKey(pub any) (jwtKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return jwtKey{}, fmt.Errorf("RSA key of %d bits; at least %d wanted", k.N.BitLen(), minRSABits)
		}
		return jwtKey{algs: rsaAlgs, key: k}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jwtKey{algs: []string{"ES256"}, key: k}, nil
		case elliptic.P384():
			return jwtKey{algs: []string{"ES384"}, key: k}, nil
		case elliptic.P521():
			return jwtKey{algs: []string{"ES512"}, key: k}, nil
		}
		return jwtKey{}, errors.New("ECDSA key on an unsupported curve (want P-256, P-384 or P-521)")
	case ed25519.PublicKey:
		return jwtKey{algs: ed25519Algs, key: k}, nil
	}
	return jwtKey{}, fmt.Errorf("unsupported key type %T (want RSA, ECDSA or Ed25519)", pub)
}

// parseJWKS returns the signature keys of a JSON Web Key Set, at least
// one. go-jose parses each key; a key of a type it does not know, or for
// encryption, is skipped as RFC 7517 §5 advises.
func parseJWKS(b []byte) ([]jwtKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	var keys []jwtKey
	for i, raw := range set.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		if jwk.Use == "enc" {
			continue
		}
		key, err := jwkKey(jwk)
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i+1, jwk.KeyID, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no signature key in the set")
	}
	return keys, nil
}

// jwkKey turns a parsed JWK into a trusted key, restricted to its "alg"
// when it has one.
func jwkKey(jwk jose.JSONWebKey) (jwtKey, error) {
	var key jwtKey
	switch k := jwk.Key.(type) {
	case []byte:
		if len(k) < MinJWTSecret {
			return jwtKey{}, fmt.Errorf("oct secret of %d bytes; at least %d wanted", len(k), MinJWTSecret)
		}
		key = jwtKey{algs: hmacAlgs, key: k}
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		var err error
		if key, err = publicJWTKey(k); err != nil {
			return jwtKey{}, err
		}
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return jwtKey{}, errors.New("this is a private key: give the server the public keys only")
	default:
		return jwtKey{}, fmt.Errorf("unsupported key type %T", jwk.Key)
	}
	key.kid = jwk.KeyID
	if jwk.Algorithm != "" {
		if !slices.Contains(key.algs, jwk.Algorithm) {
			return jwtKey{}, fmt.Errorf("alg %q does not fit the key (want one of %v)", jwk.Algorithm, key.algs)
		}
		key.algs = []string{jwk.Algorithm}
	}
	return key, nil
}
