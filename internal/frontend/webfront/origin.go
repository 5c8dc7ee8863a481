package webfront

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// hostRule is which Host headers the door answers: a defence against DNS
// rebinding, where a page on evil.example re-points its own name at
// 127.0.0.1 and so reaches a hub on localhost with Host: evil.example.
type hostRule struct {
	any      bool     // every host is allowed
	patterns []string // lower-case host patterns as in path.Match, no port
	loopback bool     // every loopback address (127.0.0.0/8, ::1) is allowed too
}

// newHostRule builds the rule of a door listening on addr. With allowed
// patterns, those ("*" for any). Without: any host when the door listens on
// all interfaces; otherwise the listen address's host, "localhost" and the
// loopback addresses.
func newHostRule(addr string, allowed []string) (hostRule, error) {
	for _, p := range allowed {
		if _, err := path.Match(p, ""); err != nil {
			return hostRule{}, fmt.Errorf("web door: bad allowed host pattern %q: %w", p, err)
		}
		if p == "*" {
			return hostRule{any: true}, nil
		}
	}
	if len(allowed) > 0 {
		r := hostRule{}
		for _, p := range allowed {
			r.patterns = append(r.patterns, strings.ToLower(p))
		}
		return r, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return hostRule{any: true}, nil
	}
	return hostRule{patterns: []string{strings.ToLower(host), "localhost"}, loopback: true}, nil
}

// allows reports whether a request's Host header (host or host:port) is
// one the door answers.
func (h hostRule) allows(hostport string) bool {
	if h.any {
		return true
	}
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if ip := net.ParseIP(host); h.loopback && ip != nil && ip.IsLoopback() {
		return true
	}
	for _, p := range h.patterns {
		if ok, _ := path.Match(p, host); ok {
			return true
		}
	}
	return false
}

// checkHost answers 403 to a request whose Host the door does not serve.
func (f *Front) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.hosts.allows(r.Host) {
			f.log.Debug("web door: host refused", "remote", r.RemoteAddr, "host", r.Host)
			httpError(w, http.StatusForbidden, fmt.Sprintf("host %q is not served here: start the server with --allowed-hosts naming it", clip(r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed applies the WebSocket origin rule to any request a browser
// may send from another site: no Origin header (not a browser, or a
// same-origin navigation) is fine; otherwise the origin's host must be the
// request's own host or match --allowed-origins, as coder/websocket checks
// for upgrades.
func (f *Front) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // "null" from sandboxed pages and files
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range f.cfg.AllowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}
