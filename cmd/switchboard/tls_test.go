package main

import (
	"crypto/tls"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// loggedAddr returns the addr of the first JSON log record with message
// msg, or "".
func loggedAddr(logs, msg string) string {
	for _, l := range strings.Split(logs, "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == msg {
			return rec.Addr
		}
	}
	return ""
}

// TestReloadTLSOnSIGHUP: SIGHUP reads the certificate files named by the
// config file again: new TLS connections get the new certificate, one
// made before stays up, and a broken file keeps the running certificate,
// with the reason logged.
func TestReloadTLSOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "test CA")
	first, second := ca.Server(t), ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	file := dir + "/sb.toml"
	body := "tcp-addr = \"127.0.0.1:0\"\nhttp-addr = \"\"\ntcp-tls-addr = \"127.0.0.1:0\"\ntls-cert = \"" + certFile + "\"\ntls-key = \"" + keyFile + "\"\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, logs, cancel, done := serveFile(t, file)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var addr string
	testkit.Eventually(t, "the TLS address in the logs", func() bool {
		addr = loggedAddr(logs.String(), "tcp door listening for TLS")
		return addr != ""
	})
	dial := func() (*linetest.Client, string) {
		t.Helper()
		c, err := linetest.DialTLS(t, addr, ca.ClientConfig())
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		c.ReadBanner()
		return c, tlsconf.Fingerprint(c.Conn.(*tls.Conn).ConnectionState().PeerCertificates[0].Raw)
	}
	old, fp := dial()
	if fp != tlsconf.Fingerprint(first.DER) {
		t.Fatal("not the first certificate")
	}
	hup := func(want string) {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, "the log to say "+want, func() bool { return strings.Contains(logs.String(), want) })
	}

	second.Write(t, dir)
	hup(`"msg":"tls: certificate changed for new connections"`)
	if _, fp := dial(); fp != tlsconf.Fingerprint(second.DER) {
		t.Error("after SIGHUP a new connection did not get the second certificate")
	}
	old.Send("/ping")
	old.ExpectLine("* pong")

	certtest.WriteFile(t, certFile, []byte("not a certificate"))
	hup(`"msg":"tls: reload failed; keeping the running certificate"`)
	if _, fp := dial(); fp != tlsconf.Fingerprint(second.DER) {
		t.Error("after a failed reload a new connection did not get the running certificate")
	}
	old.Send("/ping")
	old.ExpectLine("* pong")
}
