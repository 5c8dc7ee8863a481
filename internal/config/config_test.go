package config

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is a small configuration with one option of every kind.
type testConfig struct {
	addr    string
	pending int
	body    int64
	rate    float64
	burst   int
	on      bool
	idle    time.Duration
	origins []string
	token   string
}

func newTestSet(c *testConfig) *Set {
	s := New("test", "T_")
	s.String(&c.addr, "addr", ":1", "listen address")
	Size(s, &c.pending, "max-pending", 1<<20, "queue limit").Reloadable()
	Size(s, &c.body, "max-body", 64<<10, "body limit")
	s.Float(&c.rate, "rate", 0, "rate limit").Reloadable()
	s.Int(&c.burst, "burst", 10, "burst")
	s.Bool(&c.on, "on", false, "switch")
	s.Duration(&c.idle, "idle", 0, "idle timeout")
	s.List(&c.origins, "origins", nil, "origins")
	s.String(&c.token, "token", "", "secret token").Secret()
	return s
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsFlagsEnv(t *testing.T) {
	var c testConfig
	s := newTestSet(&c)
	if c.pending != 1<<20 || c.burst != 10 || c.addr != ":1" {
		t.Fatalf("defaults not stored: %+v", c)
	}
	env := envOf(map[string]string{"T_ADDR": ":2", "T_BURST": "3", "T_MAX_PENDING": "64KiB", "T_ORIGINS": " a.com, ,b.com "})
	if err := s.Load([]string{"--addr", ":3", "--on", "--idle", "1m", "--max-body", "1MB", "--rate=0.5"}, env); err != nil {
		t.Fatal(err)
	}
	want := testConfig{addr: ":3", pending: 64 << 10, body: 1_000_000, rate: 0.5, burst: 3, on: true, idle: time.Minute, origins: []string{"a.com", "b.com"}}
	if c.addr != want.addr || c.pending != want.pending || c.body != want.body || c.rate != want.rate ||
		c.burst != want.burst || c.on != want.on || c.idle != want.idle || strings.Join(c.origins, "|") != "a.com|b.com" {
		t.Errorf("got %+v, want %+v", c, want)
	}
	for name, src := range map[string]Source{"addr": FromFlag, "burst": FromEnv, "token": FromDefault} {
		if got := s.Lookup(name).Source(); got != src {
			t.Errorf("%s source = %v, want %v", name, got, src)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--max-pending", "12XB"}, want: `invalid value "12XB" for --max-pending: want a size such as 65536, 64KiB or 1MiB (see test --help)`},
		{args: []string{"--burst", "many"}, want: `invalid value "many" for --burst: want an integer`},
		{args: []string{"--rate", "NaN"}, want: `invalid value "NaN" for --rate: want a number such as 20 or 0.5`},
		{args: []string{"--idle", "5"}, want: `invalid value "5" for --idle: want a duration such as 500ms, 10s or 2m`},
		{args: []string{"--on=maybe"}, want: `invalid value "maybe" for --on: want true or false`},
		{args: []string{"--bogus"}, want: `unknown flag --bogus`},
		{args: []string{"--addr"}, want: `missing value for --addr`},
		{args: []string{"stray"}, want: `unexpected arguments ["stray"]`},
		{env: map[string]string{"T_MAX_BODY": "-1"}, want: `invalid value "-1" in T_MAX_BODY (--max-body): want a size`},
		{env: map[string]string{"T_TOKEN": "x"}, args: []string{"--token", "y", "--burst", "z"}, want: `for --burst`},
	}
	for _, tt := range tests {
		var c testConfig
		err := newTestSet(&c).Load(tt.args, envOf(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q, %v) = %v, want %q", tt.args, tt.env, err, tt.want)
		}
	}
	var c testConfig
	if err := newTestSet(&c).Load([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestSecretNeverShown: a bad secret in the environment is not echoed.
func TestSecretNeverShown(t *testing.T) {
	var c testConfig
	s := New("test", "T_")
	s.Int(&c.burst, "pin", 0, "a secret number").Secret()
	err := s.Load(nil, envOf(map[string]string{"T_PIN": "hunter2"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("err = %v", err)
	}
}

func TestUsage(t *testing.T) {
	var c testConfig
	s := newTestSet(&c)
	c.token = "" // the default of a secret is empty here
	var b bytes.Buffer
	s.Usage(&b)
	for _, want := range []string{
		"  --addr string\n        listen address\n        default \":1\", env T_ADDR\n",
		"  --max-pending size\n        queue limit\n        default 1MiB, env T_MAX_PENDING, reloads on SIGHUP\n",
		"  --on\n        switch\n        default false, env T_ON\n",
		"  --token string\n        secret token\n        default \"\", env T_TOKEN\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
	// A plain FlagSet prints the same way.
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("k", 10, "subscribers")
	fs.Duration("d", time.Second, "how long")
	b.Reset()
	PrintFlags(&b, fs)
	if want := "  --d duration\n        how long\n        default 1s\n  --k int\n        subscribers\n        default 10\n"; b.String() != want {
		t.Errorf("PrintFlags = %q, want %q", b.String(), want)
	}
}

func TestDiff(t *testing.T) {
	var a, b testConfig
	sa, sb := newTestSet(&a), newTestSet(&b)
	if err := sa.Load([]string{"--token", "old-secret"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := sb.Load([]string{"--token", "new-secret", "--max-pending", "64KiB", "--addr", ":9"}, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range Diff(sa, sb) {
		got = append(got, c.String()+map[bool]string{true: " (reload)", false: ""}[c.Reloadable])
	}
	want := []string{`addr: :1 -> :9`, `max-pending: 1MiB -> 64KiB (reload)`, `token: [redacted] -> [redacted]`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDuplicateNamePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("declaring a name twice did not panic")
		}
	}()
	var x, y int
	s := New("test", "")
	s.Int(&x, "n", 0, "")
	s.Int(&y, "n", 0, "")
}
