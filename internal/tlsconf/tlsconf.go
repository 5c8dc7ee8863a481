package tlsconf

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Options names what the server's TLS is made of. The zero value is TLS
// off.
type Options struct {
	// CertFile and KeyFile are the server's certificate chain and private
	// key, PEM encoded (--tls-cert, --tls-key). Both or neither.
	CertFile, KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs that sign client
	// certificates (--tls-client-ca): every client must then present a
	// certificate one of them verifies, or its handshake fails.
	ClientCAFile string
	// SelfSigned generates a certificate in memory instead of loading
	// CertFile and KeyFile (--tls-self-signed), for trials. It is made
	// once, by New, and kept across reloads.
	SelfSigned bool
}

// Enabled reports whether the options turn TLS on.
func (o Options) Enabled() bool { return o.CertFile != "" || o.KeyFile != "" || o.SelfSigned }

// Validate checks that the options make sense together; it reads no file.
func (o Options) Validate() error {
	switch {
	case (o.CertFile == "") != (o.KeyFile == ""):
		return errors.New("tls: --tls-cert and --tls-key go together")
	case o.SelfSigned && o.CertFile != "":
		return errors.New("tls: --tls-self-signed and --tls-cert exclude each other")
	case o.ClientCAFile != "" && !o.Enabled():
		return errors.New("tls: --tls-client-ca needs --tls-cert and --tls-key (or --tls-self-signed)")
	}
	return nil
}

// keys is one load of the options: what handshakes use until the next
// successful reload. It is never modified once stored.
type keys struct {
	opts        Options
	cert        *tls.Certificate
	fingerprint string         // SHA-256 of cert's leaf
	pool        *x509.CertPool // nil: no client certificates asked for
	poolSum     [32]byte       // SHA-256 of the CA file's bytes, to tell a change
	clientConf  *tls.Config    // the per-handshake config when pool is set
}

// Server is the server side of TLS for every door. Its methods are safe
// for concurrent use; Reload calls are serialized.
type Server struct {
	conf *tls.Config
	cur  atomic.Pointer[keys]
	mu   sync.Mutex       // serializes Reload
	self *tls.Certificate // the self-signed certificate, made once
}

// New loads the certificate (or generates a self-signed one) and the
// client CA pool named by o. It fails when TLS is off in o, when the
// options do not validate, or when a file does not load.
func New(o Options) (*Server, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if !o.Enabled() {
		return nil, errors.New("tls: no certificate: set --tls-cert and --tls-key, or --tls-self-signed")
	}
	s := &Server{}
	if o.SelfSigned {
		c, err := SelfSigned([]string{"localhost", "127.0.0.1", "::1"})
		if err != nil {
			return nil, err
		}
		s.self = &c
	}
	k, err := s.load(o)
	if err != nil {
		return nil, err
	}
	s.cur.Store(k)
	s.conf = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetCertificate:     s.certificate,
		GetConfigForClient: s.configForClient,
	}
	return s, nil
}

// Config returns the *tls.Config the doors' listeners serve with. The
// same value serves every reload: its callbacks read the current keys. Do
// not modify it; clone it to add, say, NextProtos.
func (s *Server) Config() *tls.Config { return s.conf }

// certificate is the config's GetCertificate: the current certificate,
// whatever the client asks for.
func (s *Server) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load().cert, nil
}

// configForClient is the config's GetConfigForClient: with client
// certificates required, the config that asks for and verifies them
// against the current pool; otherwise nil, the base config.
func (s *Server) configForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return s.cur.Load().clientConf, nil
}

// Fingerprint returns the SHA-256 fingerprint of the certificate served
// now, as Fingerprint formats it.
func (s *Server) Fingerprint() string { return s.cur.Load().fingerprint }

// RequiresClientCert reports whether handshakes now require a client
// certificate.
func (s *Server) RequiresClientCert() bool { return s.cur.Load().pool != nil }

// Change says what a Reload changed.
type Change struct {
	// OldFingerprint and NewFingerprint are the served certificate's
	// before and after; equal when the certificate did not change.
	OldFingerprint, NewFingerprint string
	// ClientCAs is true when the client CA pool changed (its file's
	// contents, or client certificates being turned on or off).
	ClientCAs bool
}

// Certificate reports whether the served certificate changed.
func (c Change) Certificate() bool { return c.OldFingerprint != c.NewFingerprint }

// Reload loads o's files again (they are read even when their names did
// not change: a renewed certificate usually keeps its name) and swaps them
// in for the handshakes that start from now on; established connections
// keep theirs. On any error nothing changes: the old certificate and pool
// stay in use. Turning TLS off, or self-signed on or off, is refused: the
// listeners were made for it, so that needs a restart.
func (s *Server) Reload(o Options) (Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	ch := Change{OldFingerprint: old.fingerprint, NewFingerprint: old.fingerprint}
	if err := o.Validate(); err != nil {
		return ch, err
	}
	switch {
	case !o.Enabled():
		return ch, errors.New("tls: turning TLS off needs a restart; keeping the running certificate")
	case o.SelfSigned != old.opts.SelfSigned:
		return ch, errors.New("tls: switching --tls-self-signed needs a restart; keeping the running certificate")
	}
	k, err := s.load(o)
	if err != nil {
		return ch, err
	}
	s.cur.Store(k)
	ch.NewFingerprint = k.fingerprint
	ch.ClientCAs = (k.pool == nil) != (old.pool == nil) || k.poolSum != old.poolSum
	return ch, nil
}

// load reads the certificate and the CA pool o names.
func (s *Server) load(o Options) (*keys, error) {
	k := &keys{opts: o, cert: s.self}
	if !o.SelfSigned {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: load certificate %s and key %s: %w", o.CertFile, o.KeyFile, err)
		}
		k.cert = &c
	}
	if k.cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(k.cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("tls: parse certificate %s: %w", o.CertFile, err)
		}
		k.cert.Leaf = leaf
	}
	k.fingerprint = Fingerprint(k.cert.Certificate[0])
	if o.ClientCAFile != "" {
		data, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: read client CA bundle: %w", err)
		}
		pool, err := certPool(data)
		if err != nil {
			return nil, fmt.Errorf("tls: client CA bundle %s: %w", o.ClientCAFile, err)
		}
		k.pool, k.poolSum = pool, sha256.Sum256(data)
		k.clientConf = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: s.certificate,
			ClientAuth:     tls.RequireAndVerifyClientCert,
			ClientCAs:      pool,
		}
	}
	return k, nil
}

// certPool parses a PEM bundle of CA certificates; a bundle with no
// certificate, or with anything else in it, is an error rather than a
// pool that would refuse every client.
func certPool(data []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, errors.New("data that is not PEM")
			}
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("a PEM block of type %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no certificate in it")
	}
	return pool, nil
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate as
// upper-case hex pairs joined by colons, as `openssl x509 -fingerprint
// -sha256` prints it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// PeerName returns the common name of the client certificate of a
// connection whose chain was verified (client certificates required by
// ClientCAFile), or "" when there is none. An unverified certificate's
// name is never returned: anyone can write any name into one.
func PeerName(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return ""
	}
	return cs.VerifiedChains[0][0].Subject.CommonName
}
