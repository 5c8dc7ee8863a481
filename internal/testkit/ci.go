package testkit

import (
	"os"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true, as .ci/run is
// run), where every peer a test needs must be installed.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends a test that cannot run because something it needs is
// missing (a browser, a redis-server): outside CI it is skipped with why,
// under CI it fails, because .ci/run must have installed it. A suite that
// passes in CI therefore ran every test.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true but %s: .ci/run must install it", why)
	}
	t.Skipf("%s; skipped outside CI (CI=true makes this a failure)", why)
}
