package server

import (
	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// Reload applies the settings that may change while the server runs,
// without dropping a connection: Session (queue limit and publish rate
// limit, for connections opened from now on, and the HTTP publish
// limiter), Limits (the next connection is admitted under the
// connection limits; Limits.IdleTimeout applies to every live session of
// every door from the registry's next sweep, within a second) and Auth
// (users, tokens and permissions: every live connection's rights change at
// once, see session.Registry.SetIdentities) and TLS (the certificate
// files are read again and serve new handshakes; one that fails to load
// keeps the running certificate and is logged, see reloadTLS). The rest
// of cfg is ignored; the caller reports changes there as needing a
// restart. An invalid cfg is refused and nothing changes. Safe for
// concurrent use.
func (s *Server) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	ids, err := identities(cfg.Auth)
	if err != nil {
		return err
	}
	s.reg.SetIdentities(ids)
	if cfg.Session.RateBurst == 0 {
		cfg.Session.RateBurst = session.DefaultRateBurst
	}
	s.reg.SetLimits(s.registryLimits(cfg))
	s.tcp.SetReloadable(tcpfront.Reloadable{Session: cfg.Session})
	if s.web != nil {
		s.web.SetSession(cfg.Session)
	}
	s.reloadTLS(cfg.TLS)
	return nil
}
