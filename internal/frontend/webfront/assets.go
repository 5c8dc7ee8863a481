package webfront

import (
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
)

// assetRoutes serves the embedded web assets: the chat app at /, the
// dashboard at /dashboard (admin.go), and their files under /chat/, /dashboard/ and
// /vendor/. Directories are not listed: they answer 404.
func (f *Front) assetRoutes(mux *http.ServeMux) {
	static := f.static()
	mux.Handle("GET /chat/", static)
	mux.Handle("GET /vendor/", static)
	mux.HandleFunc("GET /{$}", f.page("chat/index.html"))
}

// static serves the files of the assets; directories answer 404.
func (f *Front) static() http.Handler {
	files := http.FileServerFS(f.cfg.Assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Files only: a directory would be listed.
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if st, err := fs.Stat(f.cfg.Assets, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// page serves one HTML page of the assets.
func (f *Front) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(f.cfg.Assets, name)
		if err != nil {
			http.Error(w, "page missing from the build", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

// safeHost matches Host headers that may be echoed into the CSP.
var safeHost = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)

// securityHeaders sets a strict Content-Security-Policy (no inline script
// or style anywhere) and the usual hardening headers on every response.
// connect-src names the WebSocket URL of the same host explicitly, for
// browsers whose 'self' does not cover ws:.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connect := "'self'"
		if safeHost.MatchString(r.Host) {
			connect += " ws://" + r.Host + " wss://" + r.Host
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src "+connect+"; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
