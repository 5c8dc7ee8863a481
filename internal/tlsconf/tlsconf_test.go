package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/testkit/certtest"
	"github.com/switchboard-hub/switchboard/internal/tlsconf"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// handshake runs one handshake between srv's config and a client with
// conf over an in-memory pipe, and returns the server's view of it.
func handshake(t *testing.T, srv *tlsconf.Server, conf *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	s, _, err := handshake2(t, srv, conf)
	return s, err
}

// handshake2 is handshake returning the client's view too.
func handshake2(t *testing.T, srv *tlsconf.Server, conf *tls.Config) (server, client tls.ConnectionState, err error) {
	t.Helper()
	a, b := tcpPair(t)
	defer a.Close()
	defer b.Close()
	sc := tls.Server(a, srv.Config())
	cc := tls.Client(b, conf)
	errc := make(chan error, 1)
	go func() {
		err := cc.Handshake()
		if err != nil {
			_ = b.Close() // unblock the server
		}
		errc <- err
	}()
	serr := sc.Handshake()
	if serr != nil {
		_ = a.Close()
	}
	cerr := <-errc
	if serr != nil {
		return server, client, serr
	}
	if cerr != nil {
		return server, client, cerr
	}
	return sc.ConnectionState(), cc.ConnectionState(), nil
}

// tcpPair returns the two ends of a loopback TCP connection: unlike
// net.Pipe it buffers, so the alert of a side that failed after the
// other finished does not block.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return server, client
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    tlsconf.Options
		want string // "" = valid
	}{
		{"off", tlsconf.Options{}, ""},
		{"files", tlsconf.Options{CertFile: "c", KeyFile: "k"}, ""},
		{"files and client CA", tlsconf.Options{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, ""},
		{"self-signed", tlsconf.Options{SelfSigned: true}, ""},
		{"cert without key", tlsconf.Options{CertFile: "c"}, "go together"},
		{"key without cert", tlsconf.Options{KeyFile: "k"}, "go together"},
		{"self-signed and files", tlsconf.Options{SelfSigned: true, CertFile: "c", KeyFile: "k"}, "exclude"},
		{"client CA without TLS", tlsconf.Options{ClientCAFile: "ca"}, "needs"},
	} {
		err := tc.o.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestHandshake: the certificate from the files is served at TLS 1.2 or
// later; a client trusting another CA and a TLS 1.1 client fail.
func TestHandshake(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "test CA")
	certFile, keyFile := ca.Server(t).Write(t, t.TempDir())
	srv, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	other := certtest.NewCA(t, "other CA")
	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	for _, tc := range []struct {
		name string
		conf *tls.Config
		ok   bool
	}{
		{"trusting the CA", ca.ClientConfig(), true},
		{"trusting another CA", other.ClientConfig(), false},
		{"TLS 1.1 at most", old, false},
	} {
		cs, err := handshake(t, srv, tc.conf)
		if tc.ok != (err == nil) {
			t.Errorf("%s: handshake error %v, want ok=%v", tc.name, err, tc.ok)
			continue
		}
		if err == nil && cs.Version < tls.VersionTLS12 {
			t.Errorf("%s: version %x", tc.name, cs.Version)
		}
		if err == nil && tlsconf.PeerName(&cs) != "" {
			t.Errorf("%s: PeerName %q without client certificates", tc.name, tlsconf.PeerName(&cs))
		}
	}
}

// TestClientCertificates: with a client CA, a client without a
// certificate or with one another CA signed is refused; a good one's
// common name is the peer name.
func TestClientCertificates(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "server CA")
	clients := certtest.NewCA(t, "client CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t).Write(t, dir)
	caFile := filepath.Join(dir, "clients.pem")
	certtest.WriteFile(t, caFile, clients.PEM)
	srv, err := tlsconf.New(tlsconf.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	if !srv.RequiresClientCert() {
		t.Error("RequiresClientCert = false")
	}
	with := func(p *certtest.Pair) *tls.Config {
		c := ca.ClientConfig()
		if p != nil {
			c.Certificates = []tls.Certificate{p.TLS(t)}
		}
		return c
	}
	alice := clients.Client(t, "alice")
	mallory := certtest.NewCA(t, "rogue CA").Client(t, "alice")
	if _, err := handshake(t, srv, with(nil)); err == nil {
		t.Error("a client without a certificate got through")
	}
	if _, err := handshake(t, srv, with(&mallory)); err == nil {
		t.Error("a client certificate from another CA got through")
	}
	cs, err := handshake(t, srv, with(&alice))
	if err != nil {
		t.Fatalf("good client certificate: %v", err)
	}
	if got := tlsconf.PeerName(&cs); got != "alice" {
		t.Errorf("PeerName = %q, want alice", got)
	}
}

// TestReload: a reload serves the new certificate to new handshakes and
// says what changed; a broken file keeps the old one.
func TestReload(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "test CA")
	dir := t.TempDir()
	first := ca.Server(t)
	certFile, keyFile := first.Write(t, dir)
	opts := tlsconf.Options{CertFile: certFile, KeyFile: keyFile}
	srv, err := tlsconf.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		_, cs, err := handshake2(t, srv, ca.ClientConfig())
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return tlsconf.Fingerprint(cs.PeerCertificates[0].Raw)
	}
	if got, want := served(), tlsconf.Fingerprint(first.DER); got != want || srv.Fingerprint() != want {
		t.Fatalf("served %s (Fingerprint %s), want %s", got, srv.Fingerprint(), want)
	}

	// Same files, same contents: nothing changed.
	ch, err := srv.Reload(opts)
	if err != nil || ch.Certificate() || ch.ClientCAs {
		t.Errorf("reload of the same files: %+v, %v", ch, err)
	}

	second := ca.Server(t)
	second.Write(t, dir)
	ch, err = srv.Reload(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := tlsconf.Fingerprint(second.DER)
	if !ch.Certificate() || ch.NewFingerprint != want || ch.OldFingerprint != tlsconf.Fingerprint(first.DER) {
		t.Errorf("change %+v, want %s", ch, want)
	}
	if got := served(); got != want {
		t.Errorf("after reload served %s, want %s", got, want)
	}

	// Broken files, or TLS turned off: refused, the second stays.
	certtest.WriteFile(t, certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
	for _, o := range []tlsconf.Options{opts, {}, {SelfSigned: true}, {CertFile: filepath.Join(dir, "missing"), KeyFile: keyFile}} {
		if _, err := srv.Reload(o); err == nil {
			t.Errorf("Reload(%+v) accepted", o)
		}
		if got := served(); got != want {
			t.Errorf("after a failed reload served %s, want the old %s", got, want)
		}
	}
}

// TestReloadClientCAs: a new client CA bundle takes effect for new
// handshakes; a bundle that is not PEM certificates is refused.
func TestReloadClientCAs(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "server CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Server(t).Write(t, dir)
	caFile := filepath.Join(dir, "clients.pem")
	one, two := certtest.NewCA(t, "one"), certtest.NewCA(t, "two")
	certtest.WriteFile(t, caFile, one.PEM)
	opts := tlsconf.Options{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}
	srv, err := tlsconf.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	conf := ca.ClientConfig()
	conf.Certificates = []tls.Certificate{two.Client(t, "bob").TLS(t)}
	if _, err := handshake(t, srv, conf); err == nil {
		t.Fatal("client of CA two accepted before the reload")
	}
	certtest.WriteFile(t, caFile, two.PEM)
	ch, err := srv.Reload(opts)
	if err != nil || !ch.ClientCAs || ch.Certificate() {
		t.Fatalf("reload: %+v, %v", ch, err)
	}
	cs, err := handshake(t, srv, conf)
	if err != nil || tlsconf.PeerName(&cs) != "bob" {
		t.Fatalf("after reload: %v, name %q", err, tlsconf.PeerName(&cs))
	}
	for _, bad := range []string{"", "not pem", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"} {
		certtest.WriteFile(t, caFile, []byte(bad))
		if _, err := srv.Reload(opts); err == nil {
			t.Errorf("CA bundle %q accepted", bad)
		}
	}
	if _, err := handshake(t, srv, conf); err != nil {
		t.Errorf("after refused reloads the pool changed: %v", err)
	}
}

// TestSelfSigned: the generated certificate is served, verifies for
// localhost and 127.0.0.1 when trusted, and is kept across reloads.
func TestSelfSigned(t *testing.T) {
	t.Parallel()
	srv, err := tlsconf.New(tlsconf.Options{SelfSigned: true})
	if err != nil {
		t.Fatal(err)
	}
	fp := srv.Fingerprint()
	if len(fp) != 32*3-1 {
		t.Fatalf("fingerprint %q", fp)
	}
	// Trust the certificate by its fingerprint, as a trial client would.
	pin := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error { //nolint:gosec // pinned below
		if tlsconf.Fingerprint(cs.PeerCertificates[0].Raw) != fp {
			return errors.New("fingerprint mismatch")
		}
		return nil
	}}
	_, cs, err := handshake2(t, srv, pin)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cs.PeerCertificates[0])
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := handshake(t, srv, &tls.Config{RootCAs: pool, ServerName: host}); err != nil {
			t.Errorf("trusting the self-signed certificate, %s: %v", host, err)
		}
	}
	if _, err := srv.Reload(tlsconf.Options{SelfSigned: true}); err != nil || srv.Fingerprint() != fp {
		t.Errorf("reload: %v, fingerprint %s -> %s", err, fp, srv.Fingerprint())
	}
}

func TestNewFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	certtest.WriteFile(t, bad, []byte("nothing"))
	for _, o := range []tlsconf.Options{{}, {CertFile: bad, KeyFile: bad}, {CertFile: filepath.Join(dir, "none"), KeyFile: bad}, {SelfSigned: true, ClientCAFile: bad}} {
		if _, err := tlsconf.New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
