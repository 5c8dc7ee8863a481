package server

import (
	"fmt"

	"github.com/switchboard-hub/switchboard/internal/identity"
)

// AuthConfig says who is who and who may do what (docs/security.md): the
// config file's [[user]] and [anonymous] tables and the shorthand tokens
// of the command line. Its zero value is the open server of the quick
// start.
type AuthConfig struct {
	// PublishToken and SubscribeToken are --publish-token and
	// --subscribe-token: two anonymous-style identities, one that may
	// publish and subscribe everywhere, one that may subscribe.
	PublishToken, SubscribeToken string
	// Users are the [[user]] tables.
	Users []identity.User
	// Anonymous is the [anonymous] table; nil means the default of
	// identity.Config.
	Anonymous *identity.Anonymous
	// JWT names the files of the keys that sign the JWTs this server
	// accepts (--jwt-secret-file, --jwt-public-key, --jwks-file).
	JWT identity.JWTKeys
}

// identities builds the identity store of a.
func identities(a AuthConfig) (*identity.Store, error) {
	jwt, err := identity.LoadJWT(a.JWT)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cfg := identity.Config{
		Users:          a.Users,
		Anonymous:      a.Anonymous,
		PublishToken:   a.PublishToken,
		SubscribeToken: a.SubscribeToken,
	}
	if jwt != nil { // a nil *JWT in the interface would not be nil
		cfg.JWT = jwt
	}
	st, err := identity.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: identities: %w", err)
	}
	return st, nil
}
