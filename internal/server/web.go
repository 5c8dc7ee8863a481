package server

import (
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/session"
)

// WebConfig configures the web door (WebSocket, SSE, HTTP publish, chat
// app, dashboard, metrics). Zero values mean the documented defaults.
type WebConfig struct {
	// PublishToken, when set, is required to publish over HTTP
	// (Authorization: Bearer TOKEN) and WebSocket (the header or
	// ?token=). Empty means publishing is open.
	PublishToken string
	// SubscribeToken, when set, is required to open WebSocket and SSE
	// streams (the publish token works too). Empty means open.
	SubscribeToken string
	// AllowedOrigins are WebSocket Origin host patterns accepted besides
	// the same origin ("*.example.com"; "*" for any). Empty means same
	// origin only.
	AllowedOrigins []string
	// SSEKeepalive is the interval of SSE keepalive comments (default 30s).
	SSEKeepalive time.Duration
	// MaxBody is the POST /pub body limit in bytes (default 64 KiB).
	MaxBody int64
	// MaxMessage is the WebSocket message size limit in bytes (default
	// 64 KiB).
	MaxMessage int64
	// ClusterStatus, when set, feeds the "cluster" field of /api/stats;
	// its result must marshal to JSON.
	ClusterStatus func() any
}

// setupWeb builds the web door when Config.HTTPAddr is set and appends it to
// s.door. It runs after the hub, registry and TCP door exist.
func (s *Server) setupWeb() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	w := s.cfg.Web
	f, err := webfront.Listen(webfront.Config{
		Addr:           s.cfg.HTTPAddr,
		PublishToken:   w.PublishToken,
		SubscribeToken: w.SubscribeToken,
		AllowedOrigins: w.AllowedOrigins,
		SSEKeepalive:   w.SSEKeepalive,
		MaxBody:        w.MaxBody,
		MaxMessage:     w.MaxMessage,
		ClusterStatus:  w.ClusterStatus,
		Logger:         s.log,
		Session: session.Config{
			MaxPending: s.cfg.MaxPending,
			RateLimit:  s.cfg.RateLimit,
			RateBurst:  s.cfg.RateBurst,
		},
	}, s.hub, s.reg)
	if err != nil {
		return err
	}
	s.door = append(s.door, f)
	s.log.Info("web door listening", "addr", f.Addr().String())
	return nil
}

// HTTPAddr returns the web door's bound address, or "" when it is off.
func (s *Server) HTTPAddr() string {
	for _, d := range s.door {
		if f, ok := d.(*webfront.Front); ok {
			return f.Addr().String()
		}
	}
	return ""
}
