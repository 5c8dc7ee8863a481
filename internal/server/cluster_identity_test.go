package server_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hub/switchboard/internal/identity"
	"github.com/switchboard-hub/switchboard/internal/linetest"
	"github.com/switchboard-hub/switchboard/internal/server"
	"github.com/switchboard-hub/switchboard/internal/testkit"
)

// TestClusterIdentities: identities and permissions hold across nodes.
// Each node enforces them for its own clients (the same config file on
// every node), a registered name cannot be taken on any node, a name
// in use on one node cannot be taken on another, and a subscription's
// denied subjects are filtered from messages that come from other nodes
// too.
func TestClusterIdentities(t *testing.T) {
	t.Parallel()
	users := func(c *server.Config) {
		c.Auth.Users = []identity.User{
			{Name: "alice", Token: "alice-secret", Permissions: identity.Permissions{
				Subscribe: []string{"alerts.>"}, DenySubscribe: []string{"alerts.disk"}}},
			{Name: "ops", Token: "ops-secret", Permissions: identity.Permissions{
				Publish: []string{">"}, Subscribe: []string{">"}}},
		}
		c.Auth.Anonymous = &identity.Anonymous{Permissions: identity.Permissions{
			Publish: []string{"lobby"}, Subscribe: []string{"lobby"}}}
	}
	_, ns := startCluster(t, 2, users)
	alice := &client{linetest.Dial(t, ns[0].addr)}
	alice.Send("/auth alice-secret")
	alice.ExpectLine("* authenticated as alice")
	alice.ExpectLine("* you are now alice")
	alice.ask("/sub alerts.>", "* subscribed alerts.>")

	guest := &client{linetest.Dial(t, ns[1].addr)}
	guest.Send("/nick alice")
	guest.ExpectLine("! nick alice belongs to a registered user")
	guest.Send("/pub alerts.cpu x")
	guest.ExpectLine("! authentication required")
	// A guest's own nick, in use on node 1, cannot be taken on node 2.
	other := &client{linetest.Dial(t, ns[0].addr)}
	other.ask("/nick zed", "* you are now zed")
	testkit.Eventually(t, "node 2 to hear of zed", func() bool {
		guest.Send("/nick zed")
		return strings.HasPrefix(guest.Next(), "! nick zed is taken")
	})

	ops := &client{linetest.Dial(t, ns[1].addr)}
	ops.Send("/auth ops-secret")
	ops.ExpectLine("* authenticated as ops")
	ops.ExpectLine("* you are now ops")
	// Wait until node 2 routes alerts to node 1, then check the filter.
	testkit.Eventually(t, "alerts to reach node 1", func() bool {
		ops.Send("/pub alerts.probe p")
		got := alice.messages()
		return len(got) > 0
	})
	ops.Send("/pub alerts.disk full", "/pub alerts.cpu hot")
	var got []string
	testkit.Eventually(t, "alice to get alerts.cpu", func() bool {
		got = append(got, alice.messages()...)
		return slices.Contains(got, "[alerts.cpu] ops: hot")
	})
	for _, l := range got {
		if strings.HasPrefix(l, "[alerts.disk]") {
			t.Fatalf("alice got %q: a denied subject from another node was delivered", l)
		}
	}
}
