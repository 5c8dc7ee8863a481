package server

// WebConfig configures the web door (WebSocket, SSE, HTTP publish, chat
// app, dashboard, metrics). Zero values mean the documented defaults.
type WebConfig struct{}

// setupWeb builds the web door when Config.HTTPAddr is set and appends it to
// s.door. It runs after the hub, registry and TCP door exist.
func (s *Server) setupWeb() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	// The web door is added by the web-door work (issue 4).
	return nil
}

// HTTPAddr returns the web door's bound address, or "" when it is off.
func (s *Server) HTTPAddr() string { return "" }
