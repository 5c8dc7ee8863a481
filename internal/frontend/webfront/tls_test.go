package webfront_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
	"github.com/switchboard-hub/switchboard/internal/webtest"
)

// startHTTPS starts the door serving HTTPS with a certificate of ca; with
// clients, TLS clients must present a certificate clients signed.
func startHTTPS(t *testing.T, ca, clients *certtest.CA) (ts *testServer, base string) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t).Write(t, dir)
	opts := tlsconf.Options{CertFile: certFile, KeyFile: keyFile}
	if clients != nil {
		opts.ClientCAFile = filepath.Join(dir, "clients.pem")
		certtest.WriteFile(t, opts.ClientCAFile, clients.PEM)
	}
	srv, err := tlsconf.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts = startServer(t, func(c *webfront.Config) { c.TLS = srv.Config() })
	return ts, "https://" + ts.front.Addr().String()
}

// httpsClient returns an HTTP client with TLS config conf; its idle
// connections are closed when the test ends.
func httpsClient(t *testing.T, conf *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: conf}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitFor}
}

// TestHTTPS: with a certificate the door serves HTTPS and WSS: a
// WebSocket over TLS gets what an HTTPS publish sends, and so does an SSE
// stream; plain HTTP on the port, a client trusting another CA and a TLS
// 1.1 client get nothing served, and the door goes on.
func TestHTTPS(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "server CA")
	_, base := startHTTPS(t, ca, nil)
	hc := httpsClient(t, ca.ClientConfig())

	ws := webtest.DialWSWith(t, hc, base, "", nil)
	ws.Send(map[string]string{"op": "sub", "topic": "news"})
	ws.Expect("subscribed", func(f webtest.Frame) bool { return f.S("re") == "sub" && f.S("op") == "info" })
	sse := webtest.DialSSEWith(t, hc, base, webtest.Query("topic", "news"))
	if code, body := webtest.PostWith(t, hc, base, "news", "over TLS", nil); code != http.StatusAccepted {
		t.Fatalf("HTTPS publish: %d %v", code, body)
	}
	ws.Expect("the message", func(f webtest.Frame) bool { return f.S("op") == "msg" && f.S("text") == "over TLS" })
	sse.Expect("the message", func(e webtest.Event) bool { return e.Data.S("text") == "over TLS" })

	// Plain HTTP: net/http's 400, nothing of the door.
	resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/healthz")
	if err != nil {
		t.Fatalf("plain GET: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(b), "ok") {
		t.Errorf("plain HTTP on the HTTPS port: %d %q", resp.StatusCode, b)
	}
	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"trusting another CA", certtest.NewCA(t, "other CA").ClientConfig()},
		{"TLS 1.1 at most", old},
	} {
		if resp, err := httpsClient(t, tc.conf).Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			t.Errorf("%s: got %d", tc.name, resp.StatusCode)
		}
		if _, err := webtest.TryDialWSWith(httpsClient(t, tc.conf), base, "", nil); err == nil {
			t.Errorf("%s: WebSocket opened", tc.name)
		}
	}

	// Still serving.
	resp, err = hc.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("healthz over HTTPS: %d, %+v", resp.StatusCode, resp.TLS)
	}
}

// TestHTTPSClientCertificates: with a client CA, a client without a
// certificate gets nothing; a WebSocket with a verified certificate is
// named after its common name.
func TestHTTPSClientCertificates(t *testing.T) {
	t.Parallel()
	ca, clients := certtest.NewCA(t, "server CA"), certtest.NewCA(t, "client CA")
	_, base := startHTTPS(t, ca, clients)
	if resp, err := httpsClient(t, ca.ClientConfig()).Get(base + "/healthz"); err == nil {
		_ = resp.Body.Close()
		t.Errorf("no client certificate: got %d", resp.StatusCode)
	}
	conf := ca.ClientConfig()
	conf.Certificates = []tls.Certificate{clients.Client(t, "alice").TLS(t)}
	if ws := webtest.DialWSWith(t, httpsClient(t, conf), base, "", nil); ws.Nick != "alice" {
		t.Errorf("WebSocket named %q, want the certificate's alice", ws.Nick)
	}
}
