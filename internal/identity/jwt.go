package identity

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// JWTLeeway is the clock skew allowed between the token's issuer and this
// server: a token is still accepted JWTLeeway after its "exp", and
// JWTLeeway before its "nbf" or "iat".
const JWTLeeway = 30 * time.Second

// MaxJWTLen is the longest token Verify looks at, in bytes; a longer one
// is refused as malformed before anything is decoded.
const MaxJWTLen = 8192

// JWTKeys names the files of the keys JWTs may be signed with. Any of them
// may be given, together or alone; the keys of all are trusted.
type JWTKeys struct {
	// SecretFile holds the HMAC secret (HS256, HS384, HS512): the file's
	// bytes, trailing newlines removed; at least 32 bytes.
	SecretFile string
	// PublicKeyFile holds one or more PEM public keys (PUBLIC KEY, RSA
	// PUBLIC KEY or CERTIFICATE blocks): RSA of 2048 bits or more (RS256,
	// RS384, RS512), ECDSA on P-256, P-384 or P-521 (ES256, ES384, ES512)
	// or Ed25519 (EdDSA), the kind detected from the key.
	PublicKeyFile string
	// JWKSFile holds a JSON Web Key Set (RFC 7517) of public keys (or
	// "oct" secrets). A key's "kid" selects it; its "alg", when given,
	// restricts it to that algorithm. Keys of an unknown type or marked
	// "use":"enc" are skipped.
	JWKSFile string
}

// JWT verifies JWTs signed with the keys of a JWTKeys. It implements
// Verifier. It is immutable once loaded and safe for concurrent use.
//
// A token is accepted when its algorithm is one of the loaded keys' (so
// never "none", and an RSA key never verifies an HMAC token), its
// signature is good, it has an "exp" that has not passed, its "nbf" and
// "iat", if any, are not in the future (each with JWTLeeway), its "sub"
// is a valid nick, and its optional "permissions" claim is an object of
// the Permissions lists and nothing else, with valid patterns.
type JWT struct {
	keys    []jwtKey
	methods []string // every algorithm some key verifies, for jwt.WithValidMethods
}

// jwtKey is one trusted key and the algorithms it verifies.
type jwtKey struct {
	kid  string // empty for keys from a secret or PEM file, or a JWK without one
	algs []string
	key  any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// newJWT indexes keys.
func newJWT(keys []jwtKey) *JWT {
	j := &JWT{keys: keys}
	for _, k := range keys {
		for _, a := range k.algs {
			if !slices.Contains(j.methods, a) {
				j.methods = append(j.methods, a)
			}
		}
	}
	return j
}

// jwtClaims is the payload as the parser decodes it. The permissions are
// kept raw and decoded strictly only once the signature is verified.
type jwtClaims struct {
	jwt.RegisteredClaims
	Permissions json.RawMessage `json:"permissions"`
}

// Verify checks token as of now and returns its claims. The error is
// always an *AuthError whose reason says why the token was refused; it
// never contains the token. A nil *JWT, which LoadJWT returns when no
// key is configured, accepts no token: so a nil *JWT stored in a
// Verifier (a non-nil interface) refuses rather than panics.
func (j *JWT) Verify(token string, now time.Time) (Claims, error) {
	if j == nil {
		return Claims{}, &AuthError{}
	}
	if len(token) > MaxJWTLen {
		return Claims{}, &AuthError{Reason: "malformed"}
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(j.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(JWTLeeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithStrictDecoding(),
	)
	var c jwtClaims
	tok, err := p.ParseWithClaims(token, &c, j.keyFor)
	if err != nil {
		return Claims{}, j.refusal(tok, err)
	}
	if c.Subject == "" {
		return Claims{}, &AuthError{Reason: "missing sub"}
	}
	if hub.ValidateNick(c.Subject) != nil {
		return Claims{}, &AuthError{Reason: "bad sub"}
	}
	out := Claims{Subject: c.Subject, Expires: c.ExpiresAt.Time}
	if c.Permissions != nil {
		perms, err := decodePermissions(c.Permissions)
		if err != nil {
			return Claims{}, &AuthError{Reason: "bad permissions claim"}
		}
		out.Permissions = perms
	}
	return out, nil
}

// keyFor is the parser's Keyfunc: the keys that may have signed tok, by
// its algorithm and kid. A token with a kid gets the keys of that kid
// and those without one; a token without a kid gets every key of its
// algorithm. The parser has checked the algorithm is one of j.methods.
func (j *JWT) keyFor(tok *jwt.Token) (any, error) {
	if _, crit := tok.Header["crit"]; crit {
		// RFC 7515 §4.1.11: extensions we do not understand must refuse.
		return nil, &AuthError{Reason: "malformed"}
	}
	alg := tok.Method.Alg()
	var kid string
	if v, ok := tok.Header["kid"]; ok {
		s, isString := v.(string)
		if !isString {
			return nil, &AuthError{Reason: "malformed"}
		}
		kid = s
	}
	var set jwt.VerificationKeySet
	for _, k := range j.keys {
		if !slices.Contains(k.algs, alg) || (kid != "" && k.kid != "" && k.kid != kid) {
			continue
		}
		set.Keys = append(set.Keys, k.key)
	}
	switch len(set.Keys) {
	case 0:
		return nil, &AuthError{Reason: "unknown key"}
	case 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// refusal words the parser's error err about tok (which may be nil) as
// an *AuthError.
func (j *JWT) refusal(tok *jwt.Token, err error) *AuthError {
	var ae *AuthError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &AuthError{Reason: "malformed"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok == nil || tok.Method == nil || !slices.Contains(j.methods, tok.Method.Alg()) {
			return &AuthError{Reason: "algorithm not allowed"}
		}
		return &AuthError{Reason: "bad signature"}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The algorithm is missing or unknown to the library.
		return &AuthError{Reason: "algorithm not allowed"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return &AuthError{Reason: "missing exp"}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &AuthError{Reason: "expired"}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &AuthError{Reason: "not valid yet"}
	}
	return &AuthError{Reason: "malformed"}
}
