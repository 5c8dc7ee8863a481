package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/server"
)

// get fetches url with an optional bearer token and returns the status
// and body.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminToken: with --admin-token, the figures of /metrics and
// /api/stats need it (header or ?token=); the rest of the web door does
// not, and the token never appears in what is served.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{AdminToken: "ops-secret"})
	base := "http://" + srv.HTTPAddr()
	tests := []struct {
		path, token string
		want        int
	}{
		{"/metrics", "", 401},
		{"/metrics", "wrong", 401},
		{"/metrics", "ops-secret", 200},
		{"/api/stats", "", 401},
		{"/api/stats", "ops-secret", 200},
		{"/api/stats?token=ops-secret", "", 200},
		{"/dashboard", "", 200}, // the page holds no figures
		{"/healthz", "", 200},
		{"/api/doors", "", 200},
	}
	for _, tt := range tests {
		code, body := get(t, base+tt.path, tt.token)
		if code != tt.want {
			t.Errorf("GET %s (token %q): %d, want %d", tt.path, tt.token, code, tt.want)
		}
		if code == 200 && strings.Contains(body, "ops-secret") {
			t.Errorf("GET %s shows the admin token", tt.path)
		}
	}
}

// TestAdminAddr: with --admin-addr the operator endpoints move off the
// public web door onto their own address.
func TestAdminAddr(t *testing.T) {
	t.Parallel()
	srv, _ := startWeb(t, webfront.Config{}, func(c *server.Config) { c.AdminAddr = "127.0.0.1:0" })
	public, admin := "http://"+srv.HTTPAddr(), "http://"+srv.AdminAddr()
	for _, p := range []string{"/metrics", "/api/stats", "/dashboard"} {
		if code, _ := get(t, public+p, ""); code != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", p, code)
		}
		if code, _ := get(t, admin+p, ""); code != http.StatusOK {
			t.Errorf("admin %s: %d, want 200", p, code)
		}
	}
	if code, _ := get(t, public+"/healthz", ""); code != http.StatusOK {
		t.Errorf("public /healthz: %d", code)
	}
	if _, err := server.New(server.Config{TCP: tcpfront.Config{Addr: "127.0.0.1:0"}, AdminAddr: "127.0.0.1:0"}, nil); err == nil || !strings.Contains(err.Error(), "needs the web door") {
		t.Errorf("--admin-addr without a web door: %v", err)
	}
}
