package session

import (
	"fmt"
	"time"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Visitor is a client without a session, such as an HTTP publish: who it
// says it is and where it comes from. Its operations go through the
// registry under the same rules as a session's.
type Visitor struct {
	Door       string // e.g. "http", for metrics
	Nick       string // the sender name its messages carry
	RemoteAddr string // host:port, for the per-IP rate limit
	Guard      Guard  // its permissions; nil allows everything
}

// Publish is the publish operation of a visitor: text (sanitized here) on
// topic, delivered at once to every local recipient. It returns the number
// of local deliveries, or an *Error: a bad topic (CodeBadName), a topic
// its Guard denies (CodeDenied) or the visitor's address over the rate
// limit (CodeRateLimited, with RetryAfter).
func (g *Registry) Publish(v Visitor, topic, text string) (int, error) {
	if err := hub.ValidateTopic(topic); err != nil {
		return 0, FromHub(err)
	}
	if v.Guard != nil {
		if e := v.Guard.Allow(OpPub, topic); e != nil {
			return 0, e
		}
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
