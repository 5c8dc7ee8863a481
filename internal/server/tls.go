package server

import (
	"errors"

	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// validateTLS checks the TLS settings without reading their files.
func (c Config) validateTLS() error {
	if err := c.TLS.Validate(); err != nil {
		return err
	}
	if c.TCP.TLSAddr != "" && !c.TLS.Enabled() {
		return errors.New("server: --tcp-tls-addr needs --tls-cert and --tls-key (or --tls-self-signed)")
	}
	return nil
}

// setupTLS loads the certificate when TLS is on, before the doors are
// built, and logs what they will serve.
func (s *Server) setupTLS() error {
	if !s.cfg.TLS.Enabled() {
		return nil
	}
	t, err := tlsconf.New(s.cfg.TLS)
	if err != nil {
		return err
	}
	s.tls = t
	if s.cfg.TLS.SelfSigned {
		s.log.Warn("tls: serving a self-signed certificate made for this run; clients must trust it by its fingerprint (for trials only)", "sha256", t.Fingerprint())
	} else {
		s.log.Info("tls: certificate loaded", "cert", s.cfg.TLS.CertFile, "sha256", t.Fingerprint())
	}
	if t.RequiresClientCert() {
		s.log.Info("tls: client certificates required", "client_ca", s.cfg.TLS.ClientCAFile)
	}
	return nil
}

// reloadTLS loads the certificate files of o again (on SIGHUP) for new
// handshakes and logs what changed. A certificate or CA bundle that fails
// to load keeps the running ones, and the error is logged; the rest of the
// reload goes on.
func (s *Server) reloadTLS(o tlsconf.Options) {
	if s.tls == nil {
		if o.Enabled() {
			s.log.Warn("tls: the server started without TLS; turning it on needs a restart")
		}
		return
	}
	ch, err := s.tls.Reload(o)
	if err != nil {
		s.log.Error("tls: reload failed; keeping the running certificate", "err", err, "sha256", ch.OldFingerprint)
		return
	}
	if ch.Certificate() {
		s.log.Info("tls: certificate changed for new connections", "old_sha256", ch.OldFingerprint, "new_sha256", ch.NewFingerprint)
	} else {
		s.log.Info("tls: certificate unchanged", "sha256", ch.NewFingerprint)
	}
	if ch.ClientCAs {
		s.log.Info("tls: client CAs changed for new connections", "required", s.tls.RequiresClientCert(), "client_ca", o.ClientCAFile)
	}
}

// TCPTLSAddr returns the TCP door's TLS listener address, or "" when it
// has none.
func (s *Server) TCPTLSAddr() string {
	if a := s.tcp.TLSAddr(); a != nil {
		return a.String()
	}
	return ""
}

// TLSFingerprint returns the SHA-256 fingerprint of the certificate the
// doors serve now, or "" without TLS.
func (s *Server) TLSFingerprint() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.Fingerprint()
}
