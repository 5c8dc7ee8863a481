package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hub/switchboard/internal/frontend/tcpfront"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// writeFile writes a config file in the test's temp dir.
func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigPrecedence: flag > environment > file > default, with the file
// named by SWITCHBOARD_CONFIG.
func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "sb.toml", `
max-pending = "16KiB"   # flag and env say otherwise
rate-burst = 5          # env says otherwise
max-conns = 100         # only the file
allowed-origins = ["*.example.com", "localhost:3000"]
cluster-optional = true
rate-limit = 2.5
`)
	env := map[string]string{
		"SWITCHBOARD_CONFIG":      file,
		"SWITCHBOARD_MAX_PENDING": "32KiB",
		"SWITCHBOARD_RATE_BURST":  "7",
	}
	var cfg server.Config
	var rt runtimeOpts
	if err := serveOptions(&cfg, &rt).Load([]string{"--max-pending", "64KiB"}, envMap(env)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"max-pending (flag)", cfg.Session.MaxPending, 64 << 10},
		{"rate-burst (env)", cfg.Session.RateBurst, 7},
		{"max-conns (file)", cfg.Limits.MaxConns, 100},
		{"rate-limit (file)", cfg.Session.RateLimit, 2.5},
		{"cluster-optional (file)", cfg.Cluster.Optional, true},
		{"allowed-origins (file)", strings.Join(cfg.Web.AllowedOrigins, ","), "*.example.com,localhost:3000"},
		{"max-line (default)", cfg.TCP.MaxLine, tcpfront.DefaultMaxLine},
		{"max-conns-per-ip (default)", cfg.Limits.MaxConnsPerIP, 0},
		{"config file", rt.configFile, file},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// The flag names the file too, and wins over the environment's.
	other := writeFile(t, "other.toml", "max-conns = 3\n")
	cfg = server.Config{}
	if err := serveOptions(&cfg, &rt).Load([]string{"--config", other}, envMap(env)); err != nil {
		t.Fatal(err)
	}
	if cfg.Limits.MaxConns != 3 || cfg.Session.MaxPending != 32<<10 {
		t.Errorf("--config: max-conns %d, max-pending %d", cfg.Limits.MaxConns, cfg.Session.MaxPending)
	}
}

// TestConfigFileStrict: unknown keys and tables, wrong types and bad
// values are errors naming the key and the line, all of them at once.
func TestConfigFileStrict(t *testing.T) {
	file := writeFile(t, "bad.toml", `tcp-addr = "127.0.0.1:8082"
max-pendng = "64KiB"
rate-burst = "ten"
max-pending = "12XB"

[[room]]
name = "lobby"

[[user]]
name = "ann"
tokn = "x"
`)
	var cfg server.Config
	err := serveOptions(&cfg, &runtimeOpts{}).Load([]string{"--config", file}, nil)
	want := []string{
		file + ":2: max-pendng: unknown key",
		file + ":3: rate-burst: want an integer, got a string",
		file + `:4: max-pending: invalid value "12XB": want a size such as 65536, 64KiB or 1MiB`,
		file + ":6: room: unknown table",
		file + ":11: user.tokn: unknown key",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("err =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	// A wrong type in a table is named with its line too.
	typed := writeFile(t, "typed.toml", "[[user]]\nname = \"ann\"\npublish = \"alerts.>\"\n")
	err = serveOptions(&cfg, &runtimeOpts{}).Load([]string{"--config", typed}, nil)
	if err == nil || !strings.Contains(err.Error(), typed+":3: user.publish:") {
		t.Errorf("a string for a list: %v", err)
	}
}

// runMain runs this test binary as the real switchboard (see TestMain)
// and returns its exit status and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "BE_SWITCHBOARD_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// TestCheckConfig runs `switchboard check-config` as a user would and
// checks its exit status and output.
func TestCheckConfig(t *testing.T) {
	good := writeFile(t, "good.toml", "# a comment\ntcp-addr = \"127.0.0.1:8082\"\nmax-pending = \"64KiB\"\nlog-level = \"debug\"\n")
	bad := writeFile(t, "bad.toml", "bogus = 1\nrate-limit = \"fast\"\n")
	badLevel := writeFile(t, "level.toml", "log-level = \"loud\"\n")
	users := writeFile(t, "users.toml", "[anonymous]\nsubscribe = [\"lobby\"]\n\n[[user]]\nname = \"bot\"\ntoken = \"sha256:"+strings.Repeat("ab", 32)+"\"\npublish = [\"alerts.>\"]\n")
	badUser := writeFile(t, "baduser.toml", "[[user]]\nname = \"bot\"\npublish = [\"alerts..x\"]\n")
	tests := []struct {
		args           []string
		code           int
		stdout, stderr []string
	}{
		{args: []string{"check-config", good}, stdout: []string{good + ": ok"}},
		{args: []string{"check-config", bad}, code: 1, stderr: []string{
			bad + ":1: bogus: unknown key\n" + bad + ":2: rate-limit: want a number such as 20 or 0.5, got a string\n",
			"check-config: " + bad + " is not valid",
		}},
		{args: []string{"check-config", badLevel}, code: 1, stderr: []string{`bad --log-level "loud"`}},
		{args: []string{"check-config", users}, stdout: []string{users + ": ok"}},
		{args: []string{"check-config", badUser}, code: 1, stderr: []string{`user 1 ("bot"): publish: "alerts..x"`}},
		{args: []string{"check-config", filepath.Join(t.TempDir(), "none.toml")}, code: 1, stderr: []string{"none.toml"}},
		{args: []string{"check-config"}, code: 1, stderr: []string{"Usage: switchboard check-config FILE"}},
	}
	for _, tt := range tests {
		code, stdout, stderr := runMain(t, tt.args...)
		if code != tt.code {
			t.Errorf("%q: exit %d, want %d (stderr %q)", tt.args, code, tt.code, stderr)
		}
		for _, w := range tt.stdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%q: stdout %q lacks %q", tt.args, stdout, w)
			}
		}
		for _, w := range tt.stderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q lacks %q", tt.args, stderr, w)
			}
		}
	}
}

// readLine reads one line from c within the test timeout.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testkit.Timeout))
	var b []byte
	one := make([]byte, 1)
	for {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("read: %v (after %q)", err, b)
		}
		if one[0] == '\n' {
			return string(b)
		}
		b = append(b, one[0])
	}
}

// TestReloadOnSIGHUP runs serve as main does with a config file, changes
// the file and sends SIGHUP: the new connection limit applies while the
// connected client stays up, the changes are logged (secrets redacted),
// settings that cannot change are logged as needing a restart, and a bad
// file on the next reload is logged while the running config stays.
func TestReloadOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sb.toml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tcp-addr = \"127.0.0.1:0\"\nhttp-addr = \"\"\npublish-token = \"first-secret\"\n")
	addr, logs, cancel, done := serveFile(t, file)
	defer cancel()

	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if l := readLine(t, first); !strings.HasPrefix(l, "* Welcome") {
		t.Fatalf("banner %q", l)
	}

	write("tcp-addr = \"127.0.0.1:1\"\nhttp-addr = \"\"\npublish-token = \"second-secret\"\nmax-conns = 1\nrate-burst = 3\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the reload to be logged", func() bool { return strings.Contains(logs.String(), `"msg":"config reloaded"`) })
	out := logs.String()
	for _, w := range []string{
		`"change":"max-conns: 0 -> 1"`,
		`"change":"rate-burst: 10 -> 3"`,
		`"msg":"config change needs a restart; the running value stays","setting":"tcp-addr","change":"tcp-addr: 127.0.0.1:0 -> 127.0.0.1:1"`,
		`"change":"publish-token: [redacted] -> [redacted]"`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("logs lack %s:\n%s", w, out)
		}
	}
	if strings.Contains(out, "first-secret") || strings.Contains(out, "second-secret") {
		t.Errorf("a token reached the logs:\n%s", out)
	}

	// The first client is still served; a second one is over the new limit.
	if _, err := first.Write([]byte("/nick alice\n")); err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, first); l != "* you are now alice" {
		t.Errorf("first client after the reload: %q", l)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if l := readLine(t, second); l != "! server full" {
		t.Errorf("second client under max-conns = 1: %q", l)
	}

	// A bad file is logged and changes nothing.
	write("max-conns = \"none\"\nbogus = true\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the failed reload to be logged", func() bool {
		return strings.Contains(logs.String(), `"msg":"config reload failed; keeping the running config"`)
	})
	if out := logs.String(); !strings.Contains(out, `sb.toml:1: max-conns: want an integer, got a string\n`) || !strings.Contains(out, `sb.toml:2: bogus: unknown key`) {
		t.Errorf("the bad file's errors are not logged:\n%s", out)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if l := readLine(t, third); l != "! server full" {
		t.Errorf("after a bad reload max-conns must still be 1: %q", l)
	}
	if _, err := first.Write([]byte("/nick bob\n")); err != nil {
		t.Fatal(err)
	}
	if l := readLine(t, first); l != "* you are now bob" {
		t.Errorf("first client after the bad reload: %q", l)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(testkit.Timeout):
		t.Fatal("serve did not return")
	}
}

// TestDocExampleConfig: the commented example in docs/configuration.md is
// a valid config file.
func TestDocExampleConfig(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```toml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 || !strings.Contains(example, "max-pending") {
		t.Fatal("docs/configuration.md has no toml example")
	}
	file := writeFile(t, "example.toml", example)
	var stdout, stderr bytes.Buffer
	if err := checkConfig([]string{file}, &stdout, &stderr); err != nil {
		t.Fatalf("the documented example is refused: %v\n%s", err, stderr.String())
	}
	var cfg server.Config
	if err := serveOptions(&cfg, &runtimeOpts{}).LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if cfg.Session.MaxPending != 256<<10 || cfg.TCP.SendBuffer != 16<<10 || cfg.Limits.MaxConnsPerIP != 200 {
		t.Errorf("example read as %+v", cfg)
	}
	l := &loaded{}
	l.opts = serveOptions(&l.cfg, &l.rt)
	if err := l.opts.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if err := l.check(); err != nil {
		t.Fatal(err)
	}
	want := []history.Rule{
		{Pattern: "alerts.>", Keep: 1000, MaxAge: 24 * time.Hour},
		{Pattern: "metrics.>", Keep: 0},
		{Pattern: "prices.>", Keep: 10, Policy: history.PolicyDropOldest},
	}
	if !slices.Equal(l.cfg.History.Rules, want) {
		t.Errorf("the example's [[history]] tables read as %+v, want %+v", l.cfg.History.Rules, want)
	}
}

// TestHistoryTables: a [[history]] table is the same rule as a
// --history-rule; check-config refuses a bad one, naming it.
func TestHistoryTables(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []history.Rule
		err       string
	}{
		{"one", "[[history]]\npattern = \"a.>\"\nkeep = 5\nmax-age = \"1m\"\npolicy = \"drop-oldest\"\n",
			[]history.Rule{{Pattern: "a.>", Keep: 5, MaxAge: time.Minute, Policy: history.PolicyDropOldest}}, ""},
		{"flag first", "history-rule = \"b=1\"\n[[history]]\npattern = \"b\"\nkeep = 2\n",
			[]history.Rule{{Pattern: "b", Keep: 2}}, ""}, // History.Rules: the flag's come first in the server
		{"no keep", "[[history]]\npattern = \"a\"\n", nil, `[[history]] table 1 (pattern "a"): keep is required`},
		{"no pattern", "[[history]]\nkeep = 1\n", nil, "table 1 (pattern \"\"): pattern is required"},
		{"bad pattern", "[[history]]\npattern = \"a\"\nkeep = 1\n[[history]]\npattern = \"a..b\"\nkeep = 1\n", nil, `[[history]] table 2 (pattern "a..b"): `},
		{"bad age", "[[history]]\npattern = \"a\"\nkeep = 1\nmax-age = \"soon\"\n", nil, `max-age "soon"`},
		{"negative keep", "[[history]]\npattern = \"a\"\nkeep = -1\n", nil, "keep is a count"},
		{"bad policy", "[[history]]\npattern = \"a\"\nkeep = 1\npolicy = \"drop-newest\"\n", nil, `policy "drop-newest"`},
		{"unknown key", "[[history]]\npattern = \"a\"\nkeep = 1\nkeeep = 2\n", nil, ":4: history.keeep: unknown key"},
		{"wrong type", "[[history]]\npattern = \"a\"\nkeep = \"1\"\n", nil, ":3: history.keep: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "h.toml", tt.doc)
			var stdout, stderr bytes.Buffer
			err := checkConfig([]string{file}, &stdout, &stderr)
			if tt.err != "" {
				if err == nil || !strings.Contains(stderr.String(), tt.err) {
					t.Fatalf("check-config: %v, stderr %q; want an error containing %q", err, stderr.String(), tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("check-config: %v: %s", err, stderr.String())
			}
			l := &loaded{}
			l.opts = serveOptions(&l.cfg, &l.rt)
			if err := l.opts.LoadFile(file); err != nil {
				t.Fatal(err)
			}
			if err := l.check(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.cfg.History.Rules, tt.want) {
				t.Errorf("rules %+v, want %+v", l.cfg.History.Rules, tt.want)
			}
		})
	}
}

// TestReloadUsersOnSIGHUP: a reload that changes a user's permissions
// applies to that user's connection at once, the connection stays, and
// the change is logged without the token.
func TestReloadUsersOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sb.toml")
	write := func(publish string) {
		t.Helper()
		body := "tcp-addr = \"127.0.0.1:0\"\nhttp-addr = \"\"\n\n[[user]]\nname = \"bot\"\ntoken = \"bot-secret\"\npublish = [" + publish + "]\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`"alerts.>"`)
	addr, logs, cancel, done := serveFile(t, file)
	defer cancel()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readLine(t, c) // banner
	say := func(l, want string) {
		t.Helper()
		if _, err := c.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
		if got := readLine(t, c); got != want {
			t.Fatalf("%s: got %q, want %q", l, got, want)
		}
	}
	say("/auth bot-secret", "* authenticated as bot")
	readLine(t, c) // you are now bot
	say("/pub lobby x", "! permission denied: publish to lobby")

	write(`"alerts.>", "lobby"`)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "the reload to be logged", func() bool { return strings.Contains(logs.String(), `"msg":"config reloaded"`) })
	if out := logs.String(); !strings.Contains(out, `"setting":"user bot changed"`) || strings.Contains(out, "bot-secret") {
		t.Errorf("the change is not logged, or the token is:\n%s", out)
	}
	// Allowed now: a publish has no answer, so the pong comes first.
	if _, err := c.Write([]byte("/pub lobby x\n")); err != nil {
		t.Fatal(err)
	}
	say("/ping after", "* pong after")
	cancel()
	select {
	case <-done:
	case <-time.After(testkit.Timeout):
		t.Fatal("serve did not return")
	}
}

// serveFile runs serve as main does with the config file file and JSON
// logs, and returns the TCP door's address, the logs, the function that
// stops it and the channel its result arrives on.
func serveFile(t *testing.T, file string) (string, *syncBuffer, context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{b: &bytes.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func() {}, []string{"serve", "--config", file, "--log-format", "json"}, &bytes.Buffer{}, logs)
	}()
	var addr string
	testkit.Eventually(t, "the bound address in the logs", func() bool { addr = boundAddr(logs.String()); return addr != "" })
	return addr, logs, cancel, done
}

// FuzzServeConfig feeds config files to serve's loader, tables included:
// whatever the file, loading and checking it (users, permissions,
// history rules) never panics, and a file that loads also validates or
// says why.
func FuzzServeConfig(f *testing.F) {
	f.Add("max-pending = \"64KiB\"\n")
	f.Add("[anonymous]\npublish = [\"lobby\"]\nsubscribe = [\"lobby\"]\nnick = false\n")
	f.Add("[[user]]\nname = \"bot\"\ntoken = \"sha256:" + strings.Repeat("0f", 32) + "\"\npublish = [\"alerts.>\"]\ndeny-publish = [\"alerts.x\"]\n")
	f.Add("[[user]]\nname = \"a\"\n[[user]]\nname = \"A\"\n")
	f.Add("[[user]]\nname = \"x\"\ntoken = \"sha256:zz\"\n")
	f.Add("[[user]]\nname = \"bad name\"\nsubscribe = [\"a..b\"]\n")
	f.Add("[[history]]\npattern = \"alerts.>\"\nkeep = 1000\nmax-age = \"24h\"\n")
	f.Fuzz(func(t *testing.T, body string) {
		l := &loaded{}
		l.opts = serveOptions(&l.cfg, &l.rt)
		if err := l.opts.Decode("fuzz.toml", []byte(body)); err != nil {
			return
		}
		l.rt.tables.apply(&l.cfg)
		_ = l.check() // an error is fine; a panic is not
	})
}
