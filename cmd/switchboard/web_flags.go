package main

import (
	"flag"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/server"
)

// webFlags binds the web door's flags to a server.WebConfig. Each can also
// be set through its environment variable (SWITCHBOARD_PUBLISH_TOKEN …);
// prefer that for tokens, which flags show to ps.
func webFlags(fs *flag.FlagSet, cfg *server.WebConfig) {
	fs.StringVar(&cfg.PublishToken, "publish-token", "", "when set, HTTP and WebSocket publishing need Authorization: Bearer TOKEN (or ?token= on WebSocket); empty = open")
	fs.StringVar(&cfg.SubscribeToken, "subscribe-token", "", "when set, WebSocket and SSE streams need this token (or the publish token); empty = open")
	fs.Var(originList{&cfg.AllowedOrigins}, "allowed-origins", "comma-separated WebSocket Origin host patterns accepted besides the same origin, e.g. \"*.example.com,localhost:3000\"; \"*\" = any")
	fs.DurationVar(&cfg.SSEKeepalive, "sse-keepalive", 30*time.Second, "interval of SSE keepalive comments")
	fs.Int64Var(&cfg.MaxBody, "max-body", 64<<10, "HTTP publish body limit in bytes; larger bodies get 413")
	fs.Int64Var(&cfg.MaxMessage, "max-ws-message", 64<<10, "WebSocket message size limit in bytes; larger messages close the connection (1009)")
}

// originList is a comma-separated flag value.
type originList struct{ p *[]string }

func (o originList) String() string {
	if o.p == nil {
		return ""
	}
	return strings.Join(*o.p, ",")
}

func (o originList) Set(v string) error {
	*o.p = (*o.p)[:0]
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*o.p = append(*o.p, s)
		}
	}
	return nil
}
