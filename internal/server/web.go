package server

import (
	"errors"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
)

// setupWeb builds the web door when Config.Web.Addr is set and appends it
// to s.door. It runs after the hub, registry and TCP door exist.
func (s *Server) setupWeb() error {
	if s.cfg.Web.Addr == "" {
		if s.cfg.AdminAddr != "" {
			return errors.New("server: --admin-addr serves the web door's operator endpoints and needs the web door (--http-addr)")
		}
		return nil
	}
	w := s.cfg.Web
	w.AdminSeparate = s.cfg.AdminAddr != ""
	w.Session = s.cfg.Session
	w.Logger = s.log
	w.Metrics = s.metrics
	w.LineAddr = s.tcp.Addr().String()
	if s.tls != nil {
		w.TLS = s.tls.Config()
	}
	f, err := webfront.Listen(w, s.hub, s.reg)
	if err != nil {
		return err
	}
	s.web = f
	s.door = append(s.door, f)
	s.log.Info("web door listening", "addr", f.Addr().String(), "https", s.tls != nil)
	if s.cfg.AdminAddr != "" {
		a, err := listenAdmin(s.cfg.AdminAddr, f.AdminHandler(), s.log)
		if err != nil {
			_ = f.Close()
			return err
		}
		s.admin = a
		s.door = append(s.door, a)
		s.log.Info("admin door listening", "addr", a.ln.Addr().String())
	}
	return nil
}

// AdminAddr returns the admin door's bound address, or "" when it is off.
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.ln.Addr().String()
}

// HTTPAddr returns the web door's bound address, or "" when it is off.
func (s *Server) HTTPAddr() string {
	if s.web == nil {
		return ""
	}
	return s.web.Addr().String()
}
