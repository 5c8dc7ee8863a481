package webfront

import (
	"net/http"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/identity"
)

// The web door only finds the credential a request carries; who that is
// and what it may do is the session layer's decision (session/auth.go),
// the same as on every other door.

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header, and whether the header was there at all (a header that is not a
// bearer token counts as a wrong token, never as none).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// streamToken returns the token of a WebSocket, SSE or history request:
// the bearer header, else the ?token= parameter (browsers cannot set
// headers on WebSocket or EventSource).
func streamToken(r *http.Request) (string, bool) {
	if tok, ok := bearerToken(r); ok {
		return tok, true
	}
	if r.URL.Query().Has("token") {
		return r.URL.Query().Get("token"), true
	}
	return "", false
}

// identify returns who the client of r is: the identity its token proves
// (header only, or also ?token= when query is set), else that of its
// verified TLS client certificate, else nil for the anonymous client. A
// token that is refused answers 401 with the reason and returns false.
func (f *Front) identify(w http.ResponseWriter, r *http.Request, door string, query bool) (*identity.Identity, bool) {
	tok, given := bearerToken(r)
	if !given && query {
		tok, given = streamToken(r)
	}
	if given {
		id, e := f.reg.Authenticate(door, tok)
		if e != nil {
			unauthorized(w, e.Text)
			return nil, false
		}
		return id, true
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return f.reg.Certified(r.TLS.VerifiedChains[0][0].Subject.CommonName), true
	}
	return nil, true
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
