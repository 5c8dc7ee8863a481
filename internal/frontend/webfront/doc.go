// Package webfront is switchboard's web door: one HTTP listener serving the
// chat app (GET /), the live dashboard (GET /dashboard), a WebSocket door
// speaking JSON frames (GET /ws), Server-Sent Events (GET /sse), HTTP
// publish (POST /pub/{topic}), Prometheus metrics (GET /metrics), the
// dashboard's data (GET /api/stats) and health checks.
//
// Entry points: Listen builds a Front from a Config; Serve, Close and Wait
// give it the same lifecycle as every other door. Like the TCP door it does
// only I/O and lifecycle: every WebSocket and SSE stream is a
// session.Session, so commands, sanitising, rate limits, slow-consumer
// rules and graceful shutdown are the same on every door.
//
// Files by job: front.go (config, mux, lifecycle), ws.go (WebSocket door),
// wscork.go (one write per batch under coder/websocket), frame.go (JSON
// frames in), codec.go (JSON and SSE frames out), sse.go, publish.go,
// auth.go, metrics.go (the door's counters and /api/stats, served from
// the server's internal/metrics collector), assets.go.
package webfront
