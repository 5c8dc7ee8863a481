package lineclient

import (
	"flag"
	"slices"
	"testing"
)

func TestServerAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"localhost":      "localhost:8082",
		"localhost:9000": "localhost:9000",
		"10.0.0.1":       "10.0.0.1:8082",
		"host:":          "host:8082",
		"::1":            "[::1]:8082",
		"[::1]":          "[::1]:8082",
		"[::1]:9000":     "[::1]:9000",
		"":               "",
		"a b":            "",
		"[::1":           "",
	} {
		got, err := serverAddr(in)
		if want == "" {
			if err == nil {
				t.Errorf("serverAddr(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("serverAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args, pos []string
		n         int
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, 0},
		{[]string{"-n", "1", "a", "b"}, []string{"a", "b"}, 1},
		{[]string{"a", "--n", "2", "b"}, []string{"a", "b"}, 2},
		{[]string{"a", "b", "-n=3"}, []string{"a", "b"}, 3},
		{[]string{"a", "--", "-n", "4"}, []string{"a", "-n", "4"}, 0},
		{[]string{"a", "-", "b"}, []string{"a", "-", "b"}, 0},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		n := fs.Int("n", 0, "")
		pos, err := parseArgs(fs, "", tt.args, nil)
		if err != nil || !slices.Equal(pos, tt.pos) || *n != tt.n {
			t.Errorf("parseArgs(%q) = %q, n=%d, %v; want %q, n=%d", tt.args, pos, *n, err, tt.pos, tt.n)
		}
	}
}
