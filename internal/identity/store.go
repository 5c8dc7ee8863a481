package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// User is one [[user]] table of the config file: a name, the token that
// proves it, and what it may do.
type User struct {
	Name string `toml:"name"`
	// Token is the secret itself, or "sha256:HEX", the SHA-256 of it in
	// hex, so the file need not hold the secret. Empty: the user can
	// only be proved by a JWT or a client certificate naming it.
	Token string `toml:"token"`
	Permissions
	// Nick says whether the user may take another nick with /nick
	// (default false: its nick is its name).
	Nick bool `toml:"nick"`
}

// Anonymous is the [anonymous] table: what clients that have not
// authenticated may do.
type Anonymous struct {
	Permissions
	// Nick says whether they may choose a nick (default true).
	Nick *bool `toml:"nick"`
}

// Kind says how an identity was proved, for logs and replies.
type Kind uint8

// Kinds of identity.
const (
	KindAnonymous Kind = iota // nothing presented
	KindToken                 // --publish-token or --subscribe-token
	KindUser                  // a [[user]]'s token
	KindJWT                   // a verified JWT
	KindCert                  // a verified TLS client certificate
)

var kindNames = [...]string{"anonymous", "token", "user", "jwt", "cert"}

// String names the kind: "anonymous", "token", "user", "jwt", "cert".
func (k Kind) String() string { return kindNames[k] }

// Identity is who a client is. Name is empty for anonymous clients and
// for the shorthand tokens, which prove a right, not a person. An
// Identity holds no secret, so it may be logged.
type Identity struct {
	Name    string
	Kind    Kind
	Perms   *Perms // nil allows everything
	MayNick bool   // may change nick with /nick
	// Expires is when the credential stops being good: a JWT's "exp"
	// plus JWTLeeway, the moment Verify would refuse it. Zero for
	// credentials that do not expire. The session layer ends a
	// connection holding an identity that expired.
	Expires time.Time
	// named is set on a JWT identity whose permissions are those of the
	// user of its name, so a reload refreshes them.
	named bool
}

// AuthError is the refusal of a credential. Its text never contains the
// credential.
type AuthError struct {
	// Reason says what is wrong ("expired", "bad signature" …); empty for
	// a token that is simply unknown.
	Reason string
}

// Error renders "bad token" or "bad token: REASON".
func (e *AuthError) Error() string {
	if e.Reason == "" {
		return "bad token"
	}
	return "bad token: " + e.Reason
}

// Config is everything a Store is made from.
type Config struct {
	Users []User
	// Anonymous is what unauthenticated clients may do. Nil means: all
	// of it on an open server (no users, tokens or JWT keys); with only
	// the shorthand tokens, whatever the unset token does not guard;
	// otherwise nothing.
	Anonymous *Anonymous
	// PublishToken and SubscribeToken are the shorthand of two
	// anonymous-style identities: the first may publish and subscribe
	// everywhere, the second subscribe everywhere.
	PublishToken, SubscribeToken string
	// JWT verifies JWTs; nil accepts none.
	JWT Verifier
}

// Store answers who presented a credential and what everyone may do. It is
// immutable and safe for concurrent use; a reload builds a new one.
type Store struct {
	byHash map[[sha256.Size]byte]*Identity
	byName map[string]*User
	folded map[string]bool   // the users' names in lower case, for Reserved
	perms  map[string]*Perms // the users' compiled permissions by name
	anon   *Identity
	jwt    Verifier
	open   bool
}

// Open is the store of a server with no identities: everyone may do
// everything without authenticating.
func Open() *Store {
	st, _ := New(Config{})
	return st
}

var everything = Permissions{Publish: []string{">"}, Subscribe: []string{">"}}

// New checks cfg and builds its store. Errors name the user concerned.
func New(cfg Config) (*Store, error) {
	st := &Store{
		byHash: map[[sha256.Size]byte]*Identity{},
		byName: map[string]*User{},
		folded: map[string]bool{},
		perms:  map[string]*Perms{},
		jwt:    cfg.JWT,
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if err := st.addUser(u); err != nil {
			return nil, fmt.Errorf("user %d (%q): %w", i+1, u.Name, err)
		}
	}
	if cfg.PublishToken != "" {
		all, _ := Compile(everything)
		if err := st.addToken(cfg.PublishToken, &Identity{Kind: KindToken, Perms: all, MayNick: true}); err != nil {
			return nil, fmt.Errorf("publish token: %w", err)
		}
	}
	if cfg.SubscribeToken != "" {
		// It adds to what anonymous clients may do: with no publish
		// token, everyone may publish, its holder too.
		p := Permissions{Subscribe: []string{">"}}
		if cfg.PublishToken == "" {
			p.Publish = []string{">"}
		}
		sub, _ := Compile(p)
		if err := st.addToken(cfg.SubscribeToken, &Identity{Kind: KindToken, Perms: sub, MayNick: true}); err != nil {
			return nil, fmt.Errorf("subscribe token: %w", err)
		}
	}
	anon, err := anonymous(cfg)
	if err != nil {
		return nil, fmt.Errorf("anonymous: %w", err)
	}
	st.anon = anon
	st.open = anon.Perms == nil
	return st, nil
}

// anonymous builds the identity of unauthenticated clients.
func anonymous(cfg Config) (*Identity, error) {
	if a := cfg.Anonymous; a != nil {
		p, err := Compile(a.Permissions)
		if err != nil {
			return nil, err
		}
		return &Identity{Kind: KindAnonymous, Perms: p, MayNick: a.Nick == nil || *a.Nick}, nil
	}
	id := &Identity{Kind: KindAnonymous, MayNick: true}
	switch {
	case len(cfg.Users) == 0 && cfg.JWT == nil && cfg.PublishToken == "" && cfg.SubscribeToken == "":
		// Open: Perms stays nil.
	case len(cfg.Users) == 0 && cfg.JWT == nil:
		var p Permissions
		if cfg.PublishToken == "" {
			p.Publish = []string{">"}
		}
		if cfg.SubscribeToken == "" {
			p.Subscribe = []string{">"}
		}
		id.Perms, _ = Compile(p)
	default:
		id.Perms, _ = Compile(Permissions{})
	}
	return id, nil
}

func (st *Store) addUser(u *User) error {
	if err := hub.ValidateNick(u.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if st.folded[strings.ToLower(u.Name)] {
		return errors.New("name: defined twice (names are compared ignoring case, as nicks are)")
	}
	p, err := Compile(u.Permissions)
	if err != nil {
		return err
	}
	st.byName[u.Name] = u
	st.folded[strings.ToLower(u.Name)] = true
	st.perms[u.Name] = p
	if u.Token == "" {
		return nil
	}
	return st.addToken(u.Token, &Identity{Name: u.Name, Kind: KindUser, Perms: p, MayNick: u.Nick})
}

// addToken indexes an identity under its token's hash.
func (st *Store) addToken(token string, id *Identity) error {
	var h [sha256.Size]byte
	if hexed, ok := strings.CutPrefix(token, "sha256:"); ok {
		b, err := hex.DecodeString(hexed)
		if err != nil || len(b) != sha256.Size {
			return errors.New("token: sha256: wants 64 hex digits")
		}
		copy(h[:], b)
	} else {
		h = sha256.Sum256([]byte(token))
	}
	if _, dup := st.byHash[h]; dup {
		return errors.New("token: the same token is given twice")
	}
	st.byHash[h] = id
	return nil
}

// IsOpen reports whether everyone may do everything unauthenticated, so
// credentials are not needed (though they are still checked).
func (st *Store) IsOpen() bool { return st.open }

// Anonymous returns the identity of clients that have not authenticated.
func (st *Store) Anonymous() *Identity { return st.anon }

// Authenticate returns the identity a token proves: a user's or shorthand
// token, or a JWT. The error is an *AuthError.
func (st *Store) Authenticate(token string, now time.Time) (*Identity, error) {
	if token == "" {
		return nil, &AuthError{Reason: "empty"}
	}
	// Looking the hash up, rather than the token, keeps the time taken
	// independent of how much of a token is right.
	if id, ok := st.byHash[sha256.Sum256([]byte(token))]; ok {
		return id, nil
	}
	if st.jwt == nil || strings.Count(token, ".") != 2 {
		return nil, &AuthError{}
	}
	c, err := st.jwt.Verify(token, now)
	if err != nil {
		var ae *AuthError
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, &AuthError{Reason: "invalid"}
	}
	id := &Identity{Name: c.Subject, Kind: KindJWT, Expires: c.Expires.Add(JWTLeeway)}
	if u := st.byName[c.Subject]; u != nil {
		id.MayNick = u.Nick
	}
	if c.Permissions != nil {
		p, err := Compile(*c.Permissions)
		if err != nil {
			return nil, &AuthError{Reason: "bad permissions claim"}
		}
		id.Perms = p
	} else {
		id.Perms, id.named = st.namedPerms(c.Subject), true
	}
	return id, nil
}

// namedPerms returns the permissions of the user called name, or none.
func (st *Store) namedPerms(name string) *Perms {
	if p := st.perms[name]; p != nil {
		return p
	}
	none, _ := Compile(Permissions{})
	return none
}

// Certified returns the identity of a client whose TLS certificate, with
// common name cn, the server verified: the user of that name, with its
// permissions, or else a name with the anonymous client's permissions.
func (st *Store) Certified(cn string) *Identity {
	id := &Identity{Name: cn, Kind: KindCert, Perms: st.anon.Perms}
	if u := st.byName[cn]; u != nil {
		id.Perms, id.MayNick = st.perms[cn], u.Nick
	}
	return id
}

// Refresh returns id as this store sees it, for a reload: users' and
// certificates' identities get the store's current permissions (a user
// that is gone has none left); JWT identities keep what their token
// says unless they relied on a user's; anonymous ones get the new
// anonymous permissions.
func (st *Store) Refresh(id *Identity) *Identity {
	switch id.Kind {
	case KindAnonymous:
		return st.anon
	case KindUser:
		n := *id
		n.Perms = st.namedPerms(id.Name)
		if u := st.byName[id.Name]; u != nil {
			n.MayNick = u.Nick
		}
		return &n
	case KindCert:
		return st.Certified(id.Name)
	case KindJWT:
		if id.named {
			n := *id
			n.Perms = st.namedPerms(id.Name)
			return &n
		}
	}
	return id
}

// Reserved reports whether nick is a user's name (ignoring case, as nicks
// are compared), which only that user may take.
func (st *Store) Reserved(nick string) bool { return st.folded[strings.ToLower(nick)] }
