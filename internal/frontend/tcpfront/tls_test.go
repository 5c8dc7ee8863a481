package tcpfront_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/session"
	"github.com/switchboard-hub/switchboard/internal/testkit"
	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
)

// tlsServer is the TCP door with its TLS listener, on a certificate of a
// test CA.
type tlsServer struct {
	*testServer
	tlsAddr string
	ca      *certtest.CA
	clients *certtest.CA // signs client certificates, when they are required
}

// startTLS starts the door with a TLS listener; with clientCerts, TLS
// clients must present a certificate the clients CA signed.
func startTLS(t *testing.T, cfg tcpfront.Config, clientCerts bool) *tlsServer {
	t.Helper()
	return startTLSLimits(t, cfg, clientCerts, session.Limits{})
}

// startTLSLimits is startTLS with the registry's limits.
func startTLSLimits(t *testing.T, cfg tcpfront.Config, clientCerts bool, limits session.Limits) *tlsServer {
	t.Helper()
	ts := &tlsServer{ca: certtest.NewCA(t, "server CA")}
	dir := t.TempDir()
	certFile, keyFile := ts.ca.Server(t).Write(t, dir)
	opts := tlsconf.Options{CertFile: certFile, KeyFile: keyFile}
	if clientCerts {
		ts.clients = certtest.NewCA(t, "client CA")
		opts.ClientCAFile = filepath.Join(dir, "clients.pem")
		certtest.WriteFile(t, opts.ClientCAFile, ts.clients.PEM)
	}
	srv, err := tlsconf.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr, cfg.TLSAddr, cfg.TLS = "127.0.0.1:0", "127.0.0.1:0", srv.Config()
	logs := &testkit.Logs{}
	cfg.Logger = logs.Logger()
	reg := session.NewRegistry(hub.New(hub.Config{ReservedNicks: reservedNicks}), limits)
	f, err := tcpfront.Listen(cfg, reg)
	if err != nil {
		t.Fatalf("tcpfront.Listen: %v", err)
	}
	ts.testServer = &testServer{Served: testkit.ServeDoor(t, reg, f), front: f, reg: reg, addr: f.Addr().String(), logs: logs}
	ts.tlsAddr = f.TLSAddr().String()
	return ts
}

// dialTLS connects over TLS trusting the server's CA and reads the
// banner.
func (ts *tlsServer) dialTLS(t *testing.T) *client {
	t.Helper()
	c, err := linetest.DialTLS(t, ts.tlsAddr, ts.ca.ClientConfig())
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	c.ReadBanner()
	return c
}

// TestTLSLineProtocol: over TLS the line protocol is the same: /ping gets
// its pong, and TLS and plain clients chat in one room, a burst included
// (the TLS connection's writes gather a batch into one record stream).
func TestTLSLineProtocol(t *testing.T) {
	t.Parallel()
	srv := startTLS(t, tcpfront.Config{ParkAfter: 50 * time.Millisecond}, false)
	alice := srv.dialTLS(t)
	if v := alice.Conn.(*tls.Conn).ConnectionState().Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version %x", v)
	}
	alice.Send("/ping")
	alice.ExpectLine("* pong")
	alice.Send("/nick alice", "/join lobby")
	alice.ExpectLine("* you are now alice")
	alice.ExpectLine("* joined lobby (1 here)")

	bob := dialNick(t, srv.addr, "bob")
	bob.Send("/join lobby")
	bob.ExpectLine("* joined lobby (2 here)")
	alice.Expect("* bob joined lobby")

	// Idle for longer than ParkAfter: the plain connection parks, the
	// TLS one never does, and both still work.
	time.Sleep(150 * time.Millisecond)
	const n = 300
	var burst []string
	for i := range n {
		burst = append(burst, fmt.Sprintf("hello %d", i))
	}
	bob.Send(burst...)
	for i := range n {
		alice.ExpectLine(fmt.Sprintf("[lobby] bob: hello %d", i))
	}
	alice.Send("hi bob")
	bob.ExpectLine("[lobby] alice: hi bob")
	alice.Quiet()
	bob.Quiet()

	alice.Send("/quit")
	alice.Expect("* bye")
	alice.ExpectEOF()
}

// TestTLSRefusals: a client that does not trust the server's CA, or that
// offers at most TLS 1.1, gets no session; a plain client on the TLS port
// gets nothing of the line protocol; the door goes on serving.
func TestTLSRefusals(t *testing.T) {
	t.Parallel()
	srv := startTLS(t, tcpfront.Config{}, false)
	old := srv.ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"trusting another CA", certtest.NewCA(t, "other CA").ClientConfig()},
		{"TLS 1.1 at most", old},
	} {
		if _, err := linetest.DialTLS(t, srv.tlsAddr, tc.conf); err == nil {
			t.Errorf("%s: handshake succeeded", tc.name)
		}
	}

	plain, err := net.DialTimeout("tcp", srv.tlsAddr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, _ = io.WriteString(plain, "/nick mallory\r\n/ping\r\n")
	_ = plain.SetReadDeadline(time.Now().Add(timeout))
	got, _ := io.ReadAll(plain) // the server closes it
	if strings.Contains(string(got), "pong") || strings.Contains(string(got), "Welcome") || strings.Contains(string(got), "mallory") {
		t.Errorf("a plain client on the TLS port got %q", got)
	}
	testkit.Eventually(t, "the failed handshakes to be logged and their places given back", func() bool {
		return srv.logs.Count("TLS handshake failed") >= 3 && srv.reg.Len() == 0
	})

	// Still serving, both listeners.
	c := srv.dialTLS(t)
	c.Send("/ping")
	c.ExpectLine("* pong")
	dial(t, srv.addr).Quiet()
}

// TestTLSClientCertificates: with a client CA, a client without a
// certificate, or with one another CA signed, gets no session; a verified
// certificate's common name becomes the session's name (CertName and the
// identity the registry gives it).
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	srv := startTLS(t, tcpfront.Config{}, true)
	with := func(p *certtest.Pair) *tls.Config {
		c := srv.ca.ClientConfig()
		if p != nil {
			c.Certificates = []tls.Certificate{p.TLS(t)}
		}
		return c
	}
	rogue := certtest.NewCA(t, "rogue CA").Client(t, "alice")
	for _, tc := range []struct {
		name string
		conf *tls.Config
	}{
		{"no certificate", with(nil)},
		{"certificate of another CA", with(&rogue)},
	} {
		// Under TLS 1.3 the client's handshake ends before the server
		// has looked at its certificate: the refusal shows on the
		// first read.
		c, err := linetest.DialTLS(t, srv.tlsAddr, tc.conf)
		if err != nil {
			continue
		}
		if l, err := c.ReadLine(); err == nil {
			t.Errorf("%s: got %q", tc.name, l)
		}
	}

	good := srv.clients.Client(t, "alice")
	c, err := linetest.DialTLS(t, srv.tlsAddr, with(&good))
	if err != nil {
		t.Fatal(err)
	}
	c.ExpectLine("* you are now alice")
	c.ReadBanner()
	if c.Nick != "alice" {
		t.Errorf("banner nick %q, want the certificate's alice", c.Nick)
	}
	c.Send("/join lobby")
	c.ExpectLine("* joined lobby (1 here)")
	other := dial(t, srv.addr)
	other.Send("/who lobby")
	if got := other.Expect("* "); !strings.Contains(got, "alice") {
		t.Errorf("/who lobby: %q", got)
	}
}

// TestTLSEndings: a TLS connection ends as a plain one does: at its idle
// timeout with the notice, as a slow consumer that does not read (cut
// without waiting for it: close_notify is not waited for), and at
// shutdown with the notice; a handshake in progress does not hold a
// shutdown up.
func TestTLSEndings(t *testing.T) {
	t.Parallel()
	t.Run("idle timeout", func(t *testing.T) {
		t.Parallel()
		srv := startTLSLimits(t, tcpfront.Config{}, false, session.Limits{IdleTimeout: 300 * time.Millisecond})
		c := srv.dialTLS(t)
		c.ExpectLine("! idle timeout, disconnecting; nothing from the client for 300ms (--idle-timeout)")
		c.ExpectEOF()
	})
	t.Run("slow consumer", func(t *testing.T) {
		t.Parallel()
		srv := startTLS(t, tcpfront.Config{SendBuffer: 16 << 10, Session: session.Config{MaxPending: 64 << 10}}, false)
		slow := srv.dialTLS(t)
		slow.Send("/sub load")
		slow.ExpectLine("* subscribed load")
		pub := dialNick(t, srv.addr, "pub")
		pad := strings.Repeat("x", 1000)
		for round := 0; round < 500 && srv.Registry().Stats().SlowConsumers == 0; round++ {
			var b strings.Builder
			for i := 0; i < 100; i++ {
				fmt.Fprintf(&b, "/pub load %d %s\n", i, pad)
			}
			pub.Write(b.String())
			pub.Ping()
		}
		if got := srv.Registry().Stats().SlowConsumers; got != 1 {
			t.Fatalf("SlowConsumers = %d, want 1", got)
		}
		testkit.Eventually(t, "the slow TLS consumer's session to end", func() bool { return srv.Registry().Len() == 1 })
		pub.Quiet()
	})
	t.Run("shutdown", func(t *testing.T) {
		t.Parallel()
		srv := startTLS(t, tcpfront.Config{}, false)
		c := srv.dialTLS(t)
		c.Ping()
		// A client that connected and sends nothing: its handshake is
		// in progress when the door closes.
		half, err := net.DialTimeout("tcp", srv.tlsAddr, timeout)
		if err != nil {
			t.Fatal(err)
		}
		defer half.Close()
		start := time.Now()
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		c.ExpectLine("* server shutting down")
		c.ExpectEOF()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("shutdown took %v with a handshake in progress", d)
		}
	})
}
