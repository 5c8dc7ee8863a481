package stress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines after all tests. When started as a
// sweep child (childEnv set), the test binary acts as `switchboard stress`.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runAsChild(os.Args[1:]))
	}
	goleak.VerifyTestMain(m)
}

// runAsChild runs Main like the switchboard binary would for `stress ...`.
func runAsChild(args []string) int {
	if len(args) > 0 && args[0] == "stress" {
		args = args[1:]
	}
	if err := Main(context.Background(), args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		return 1
	}
	return 0
}

// runJSON runs Main with --json --quiet and decodes stdout both into a
// generic map (to check field names) and into out.
func runJSON(t *testing.T, out any, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "--json", "--quiet")
	if err := Main(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("Main(%q): %v\nstderr: %s", args, err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, stdout.String())
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("decode into %T: %v", out, err)
	}
	return m
}

// requireFields fails unless m has every key, each a JSON number.
func requireFields(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			t.Errorf("JSON lacks field %q", k)
			continue
		}
		if _, ok := v.(float64); !ok {
			t.Errorf("JSON field %q = %v (%T), want a number", k, v, v)
		}
	}
}

// between fails unless lo <= v <= hi.
func between(t *testing.T, name string, v, lo, hi float64) {
	t.Helper()
	if v < lo || v > hi {
		t.Errorf("%s = %.1f, want between %.0f and %.0f", name, v, lo, hi)
	}
}
