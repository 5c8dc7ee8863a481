package identity

import "time"

// Permissions are the pattern lists of one identity, as written in the
// config file ([[user]], [anonymous]) and in a JWT's "permissions" claim.
// A nil list is empty: an empty Publish allows no publishing.
type Permissions struct {
	Publish       []string `toml:"publish" json:"publish,omitempty"`
	Subscribe     []string `toml:"subscribe" json:"subscribe,omitempty"`
	DenyPublish   []string `toml:"deny-publish" json:"deny-publish,omitempty"`
	DenySubscribe []string `toml:"deny-subscribe" json:"deny-subscribe,omitempty"`
}

// Claims are what a verified JWT says about its holder.
type Claims struct {
	Subject string    // "sub": the identity's name
	Expires time.Time // "exp": required
	// Permissions is the optional "permissions" claim; nil means the
	// token carries none, and the identity gets those of the user of the
	// same name, if any, else none.
	Permissions *Permissions
}

// Verifier checks a JWT's signature and times and returns its claims. The
// error says why a token is refused (see AuthError).
type Verifier interface {
	Verify(token string, now time.Time) (Claims, error)
}
