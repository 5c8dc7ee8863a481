// Package natstest starts an embedded NATS server (package natsembed) for
// tests that need a real NATS: the backplane's, the cluster's and the
// bench's. It is part of the test kit (see package testkit) and for tests
// only.
package natstest

import (
	"testing"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
)

// Start runs an embedded NATS server on 127.0.0.1 and a free port, shut
// down when the test ends.
func Start(t testing.TB) *natsembed.Server { return StartOn(t, "") }

// StartOn runs an embedded NATS server on addr ("host:port"; "" for a free
// port on 127.0.0.1), shut down when the test ends. A test that stops the
// server itself (to simulate an outage) may call Shutdown first; the
// cleanup then does nothing more.
func StartOn(t testing.TB, addr string) *natsembed.Server {
	t.Helper()
	ns, err := natsembed.Start(addr)
	if err != nil {
		t.Fatalf("start embedded NATS: %v", err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}
