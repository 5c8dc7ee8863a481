package webfront

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/session"
)

// tokenEqual compares a presented token with the configured one in
// constant time. Hashing first makes the time independent of the lengths
// too.
func tokenEqual(got, want string) bool {
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header, and whether there was one.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true // present but not a bearer token: never matches
	}
	return strings.TrimSpace(tok), true
}

// streamToken returns the token of a WebSocket or SSE request: the bearer
// header, else the ?token= parameter (browsers cannot set headers on
// WebSocket or EventSource).
func streamToken(r *http.Request) (string, bool) {
	if tok, ok := bearerToken(r); ok {
		return tok, true
	}
	if r.URL.Query().Has("token") {
		return r.URL.Query().Get("token"), true
	}
	return "", false
}

// grant is what a stream's token allows.
type grant struct {
	subscribe bool
	publish   bool
	wrong     bool // a token was given and matches none configured
}

// streamGrant works out what a WebSocket or SSE request may do. A token
// that is presented must be right when any token is configured; the
// publish token also allows subscribing.
func (f *Front) streamGrant(r *http.Request) grant {
	pub, sub := f.cfg.PublishToken, f.cfg.SubscribeToken
	tok, given := streamToken(r)
	g := grant{subscribe: sub == "", publish: pub == ""}
	if !given || (pub == "" && sub == "") {
		return g
	}
	pubOK := pub != "" && tokenEqual(tok, pub)
	subOK := sub != "" && tokenEqual(tok, sub)
	if !pubOK && !subOK {
		g.wrong = true
		return g
	}
	g.publish = g.publish || pubOK
	g.subscribe = g.subscribe || subOK || pubOK
	return g
}

// authorizeStream checks that a WebSocket or SSE request may subscribe,
// answering 401 (and counting the failure for door) when it may not.
func (f *Front) authorizeStream(w http.ResponseWriter, r *http.Request, door string) (grant, bool) {
	g := f.streamGrant(r)
	switch {
	case g.wrong:
		f.metrics.authFailures.WithLabelValues(door).Inc()
		unauthorized(w, "wrong token")
		return g, false
	case !g.subscribe:
		f.metrics.authFailures.WithLabelValues(door).Inc()
		unauthorized(w, "this server needs a token: Authorization: Bearer TOKEN or ?token=TOKEN")
		return g, false
	}
	return g, true
}

// unauthorized answers 401 with a bearer challenge and a clear message.
func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	httpError(w, http.StatusUnauthorized, msg)
}

// httpError answers with a JSON error body, {"error": msg}.
func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

// subscribeOnly is the session Guard of a stream whose token allows
// subscribing but not publishing.
type subscribeOnly struct{}

// Allow implements session.Guard.
func (subscribeOnly) Allow(op session.Op, _ string) *session.Error {
	if op == session.OpSub {
		return nil
	}
	return &session.Error{Code: session.CodeDenied, Text: "unauthorized: publishing needs the publish token (Authorization: Bearer TOKEN or ?token=TOKEN)"}
}
