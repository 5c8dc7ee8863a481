package server_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/frontend/webfront"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/testkit/servertest"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// tlsServerConfig is a server with every door on loopback and TLS on
// the certificate in certFile and keyFile.
func tlsServerConfig(certFile, keyFile string) server.Config {
	return server.Config{
		TCP: tcpfront.Config{Addr: servertest.Loopback, TLSAddr: servertest.Loopback},
		Web: webfront.Config{Addr: servertest.Loopback},
		TLS: tlsconf.Options{CertFile: certFile, KeyFile: keyFile},
	}
}

// servedFingerprint is the fingerprint of the certificate conn got.
func servedFingerprint(c *linetest.Client) string {
	return tlsconf.Fingerprint(c.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw)
}

// TestTLSReload: Reload (what SIGHUP calls) reads the certificate files
// again: new handshakes on both doors get the new certificate while a TLS
// connection made before stays up; a certificate that fails to load keeps
// the running one, the failure is logged, and the rest of the reload
// still applies.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "server CA")
	dir := t.TempDir()
	first, second := ca.Server(t), ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	cfg := tlsServerConfig(certFile, keyFile)
	srv := servertest.Start(t, cfg)
	dial := func() *linetest.Client {
		t.Helper()
		c, err := linetest.DialTLS(t, srv.TCPTLSAddr(), ca.ClientConfig())
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		c.ReadBanner()
		return c
	}
	tr := &http.Transport{TLSClientConfig: ca.ClientConfig(), DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	httpsFingerprint := func() string {
		t.Helper()
		resp, err := (&http.Client{Transport: tr, Timeout: testkit.Timeout}).Get("https://" + srv.HTTPAddr() + "/healthz")
		if err != nil {
			t.Fatalf("HTTPS: %v", err)
		}
		_ = resp.Body.Close()
		return tlsconf.Fingerprint(resp.TLS.PeerCertificates[0].Raw)
	}
	old := dial()
	if got, want := servedFingerprint(old), tlsconf.Fingerprint(first.DER); got != want || srv.TLSFingerprint() != want {
		t.Fatalf("served %s, TLSFingerprint %s, want %s", got, srv.TLSFingerprint(), want)
	}

	second.Write(t, dir)
	if err := srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	want := tlsconf.Fingerprint(second.DER)
	fresh := dial()
	if got := servedFingerprint(fresh); got != want {
		t.Errorf("after the reload the line door served %s, want %s", got, want)
	}
	if got := httpsFingerprint(); got != want {
		t.Errorf("after the reload the web door served %s, want %s", got, want)
	}
	if srv.Logs.Count("tls: certificate changed") != 1 {
		t.Error("the certificate change was not logged")
	}
	// The connection made before the reload is still up.
	old.Send("/ping")
	old.ExpectLine("* pong")

	// A broken certificate: the second stays, the failure is logged,
	// the rest of the reload (here the rate burst) applies.
	certtest.WriteFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	next := cfg
	next.Session.RateLimit, next.Session.RateBurst = 0.001, 1
	if err := srv.Reload(next); err != nil {
		t.Fatalf("Reload with a broken certificate: %v", err)
	}
	if srv.Logs.Count("tls: reload failed; keeping the running certificate") != 1 {
		t.Error("the failed reload was not logged")
	}
	limited := dial()
	if got := servedFingerprint(limited); got != want {
		t.Errorf("after a failed reload the line door served %s, want the running %s", got, want)
	}
	if got := httpsFingerprint(); got != want {
		t.Errorf("after a failed reload the web door served %s, want the running %s", got, want)
	}
	limited.Send("/pub t one", "/pub t two")
	limited.ExpectLine("! rate limited")
	for _, c := range []*linetest.Client{old, fresh} {
		c.Send("/ping")
		c.ExpectLine("* pong")
	}
}

// TestTLSConfig: settings that cannot work are refused by Validate or
// New; --tls-self-signed serves a certificate whose fingerprint is the
// logged one.
func TestTLSConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"TLS address without a certificate", server.Config{TCP: tcpfront.Config{Addr: servertest.Loopback, TLSAddr: servertest.Loopback}}, "--tcp-tls-addr needs"},
		{"certificate without key", server.Config{TCP: tcpfront.Config{Addr: servertest.Loopback}, TLS: tlsconf.Options{CertFile: missing}}, "go together"},
		{"missing files", tlsServerConfig(missing, missing), "load certificate"},
	} {
		_, err := server.New(tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New: %v, want %q", tc.name, err, tc.want)
		}
	}

	cfg := tlsServerConfig("", "")
	cfg.TLS = tlsconf.Options{SelfSigned: true}
	srv := servertest.Start(t, cfg)
	fp := srv.TLSFingerprint()
	if fp == "" || srv.Logs.Count("self-signed certificate") != 1 {
		t.Fatalf("fingerprint %q not logged", fp)
	}
	pin := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error { //nolint:gosec // pinned by fingerprint
		if tlsconf.Fingerprint(cs.PeerCertificates[0].Raw) != fp {
			return errors.New("not the logged fingerprint")
		}
		return nil
	}}
	c, err := linetest.DialTLS(t, srv.TCPTLSAddr(), pin)
	if err != nil {
		t.Fatal(err)
	}
	c.ReadBanner()
	c.Send("/ping")
	c.ExpectLine("* pong")
}
