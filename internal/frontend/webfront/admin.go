package webfront

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// The operator endpoints — /metrics, /api/stats and the dashboard — say
// how busy the hub is and who uses which door; a public hub may keep
// them to itself with Config.AdminToken, or serve them only on an
// address of their own (Config.AdminSeparate and AdminHandler).

// adminRoutes adds the operator endpoints to mux: the figures behind the
// admin token when one is set, and the dashboard's page and files, which
// hold no figures (the page passes its ?token= on to /api/stats).
func (f *Front) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", f.operator(f.collector.Handler()))
	mux.Handle("GET /api/stats", f.operator(http.HandlerFunc(f.serveStats)))
	mux.HandleFunc("GET /dashboard", f.page("dashboard/index.html"))
	mux.Handle("GET /dashboard/", f.static())
}

// AdminHandler serves the operator endpoints alone (and /healthz), for a
// listener of their own such as --admin-addr. They stay behind the admin
// token when one is set.
func (f *Front) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	f.adminRoutes(mux)
	mux.HandleFunc("GET /healthz", f.serveHealth)
	return securityHeaders(mux)
}

// operator lets a request through when no admin token is set, or when it
// carries the token (Authorization: Bearer, or ?token= so the dashboard
// can be opened in a browser); otherwise it answers 401.
func (f *Front) operator(next http.Handler) http.Handler {
	want := f.cfg.AdminToken
	if want == "" {
		return next
	}
	wantSum := sha256.Sum256([]byte(want))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := streamToken(r)
		got := sha256.Sum256([]byte(tok))
		// Comparing hashes takes the same time whatever the lengths.
		if subtle.ConstantTimeCompare(got[:], wantSum[:]) != 1 {
			unauthorized(w, "operator endpoint: needs the admin token (Authorization: Bearer TOKEN or ?token=TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}
