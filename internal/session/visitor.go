package session

import (
	"fmt"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
	"github.com/switchboard-hub/switchboard/internal/identity"
)

// Visitor is a client without a session, such as an HTTP publish: who it
// says it is and where it comes from. Its operations go through the
// registry under the same rules as a session's.
type Visitor struct {
	Door       string // e.g. "http", for metrics
	Nick       string // the sender name its messages carry
	RemoteAddr string // host:port, for the per-IP rate limit
	// Identity is who it proved to be (Registry.Authenticate); nil is
	// the anonymous client.
	Identity *identity.Identity
}

// Publish is the publish operation of a visitor: text (sanitized here) on
// topic, delivered at once to every local recipient. It returns the number
// of local deliveries, or an *Error: a bad topic (CodeBadName), a topic
// its identity may not publish to (CodeDenied, CodeAuthRequired) or the visitor's address over the rate
// limit (CodeRateLimited, with RetryAfter).
func (g *Registry) Publish(v Visitor, topic, text string) (int, error) {
	if err := hub.ValidateTopic(topic); err != nil {
		return 0, FromHub(err)
	}
	if e := checkPerm(g, v.Door, g.visitorIdentity(v), OpPub, topic); e != nil {
		return 0, e
	}
	if ok, wait := g.visitors.Load().allow(v.RemoteAddr, time.Now()); !ok {
		g.stats.rateLimited.Add(1)
		return 0, &Error{Code: CodeRateLimited, Text: fmt.Sprintf("rate limited: try again in %v", wait.Round(time.Millisecond)), RetryAfter: wait}
	}
	m := &hub.Message{Topic: topic, From: v.Nick, Text: sanitize(text)}
	n := deliverNow(m, g.hub.Publish(m))
	g.stats.published.Add(1)
	g.stats.delivered.Add(uint64(n))
	return n, nil
}

// visitorIdentity returns who v is: its Identity, or the anonymous client.
func (g *Registry) visitorIdentity(v Visitor) *identity.Identity {
	if v.Identity != nil {
		return v.Identity
	}
	return g.Anonymous()
}
