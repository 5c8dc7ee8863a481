package server

import (
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
)

// setupWeb builds the web door when Config.Web.Addr is set and appends it
// to s.door. It runs after the hub, registry and TCP door exist.
func (s *Server) setupWeb() error {
	if s.cfg.Web.Addr == "" {
		return nil
	}
	w := s.cfg.Web
	w.Session = s.cfg.Session
	w.Logger = s.log
	w.Metrics = s.metrics
	w.LineAddr = s.tcp.Addr().String()
	f, err := webfront.Listen(w, s.hub, s.reg)
	if err != nil {
		return err
	}
	s.web = f
	s.door = append(s.door, f)
	s.log.Info("web door listening", "addr", f.Addr().String())
	return nil
}

// HTTPAddr returns the web door's bound address, or "" when it is off.
func (s *Server) HTTPAddr() string {
	if s.web == nil {
		return ""
	}
	return s.web.Addr().String()
}
