package lineclient

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/switchboard-hub/switchboard/internal/config"
)

// Defaults shared by pub and sub.
const (
	// DefaultServer is the TCP door a local `switchboard` listens on.
	DefaultServer = "localhost:8082"
	// DefaultPort is added to a --server without one.
	DefaultPort = "8082"
	// EnvServer names the environment variable that replaces DefaultServer
	// (the --server flag wins over it).
	EnvServer = "SWITCHBOARD_SERVER"
	// defaultTimeout bounds connecting and every wait for the server's
	// confirmation.
	defaultTimeout = 10 * time.Second
)

// Env is what a command sees of its process: standard streams and the
// environment. Getenv nil means no environment variable is set.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// StdinTerminal is true when a person types the input: pub then says
	// how to end it.
	StdinTerminal bool
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// common holds the flags of both commands.
type common struct {
	server  string
	timeout time.Duration
}

func (c *common) bind(fs *flag.FlagSet, env Env) {
	def := DefaultServer
	if v := env.getenv(EnvServer); v != "" {
		def = v
	}
	fs.StringVar(&c.server, "server", def, "the switchboard TCP door, HOST[:PORT] (port "+DefaultPort+" if left out); env "+EnvServer)
	fs.DurationVar(&c.timeout, "timeout", defaultTimeout, "bound on connecting and on each wait for the server's confirmation")
}

// check validates the common flags and returns the address to dial.
func (c *common) check() (string, error) {
	if c.timeout <= 0 {
		return "", fmt.Errorf("--timeout %v: must be positive", c.timeout)
	}
	return serverAddr(c.server)
}

// serverAddr turns HOST[:PORT] into host:port, adding DefaultPort.
func serverAddr(s string) (string, error) {
	if s == "" {
		return "", errors.New("--server is empty: give HOST[:PORT]")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if port == "" {
			port = DefaultPort
		}
		return net.JoinHostPort(host, port), nil
	}
	// No port: a host name, an IPv4 address or a bare IPv6 address.
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if host == "" || strings.ContainsAny(host, "[] /\t") {
		return "", fmt.Errorf("--server %q: want HOST[:PORT]", s)
	}
	return net.JoinHostPort(host, DefaultPort), nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, as in `switchboard sub a.* --count 1`; "--" ends
// the flags. It returns the positional arguments. Errors name the flag
// the way every switchboard command does (config.Parse); -h and --help
// print head and the flags to stderr and return flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, head string, args []string, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := config.Parse(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage(stderr, head, fs)
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w (see switchboard %s -h)", fs.Name(), err, fs.Name())
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag, or after "--".
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usage prints head and the flags in the format of `switchboard serve
// --help`.
func usage(w io.Writer, head string, fs *flag.FlagSet) {
	fmt.Fprint(w, head)
	config.PrintFlags(w, fs)
}
