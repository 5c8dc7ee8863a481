package testkit

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs a package's tests and then fails the run if any
// goroutine was left behind (goleak), as goleak.VerifyTestMain does, after
// closing the idle keep-alive connections of http.DefaultClient: those are
// the HTTP client's, kept for reuse, not leaks of the code under test. Call
// it from TestMain in packages whose tests use http.DefaultClient.
func VerifyTestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak: goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}
