package identity

import (
	"fmt"
	"strings"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Perms are Permissions made ready for checking. A nil *Perms allows
// everything: the open server of the quick start.
type Perms struct {
	pub, sub, denyPub, denySub []string
}

// All allows everything; it is what an open server gives everyone.
var All *Perms

// Compile checks every pattern of p and returns them ready for checking.
func Compile(p Permissions) (*Perms, error) {
	c := &Perms{}
	lists := []struct {
		name string
		in   []string
		out  *[]string
	}{
		{"publish", p.Publish, &c.pub}, {"subscribe", p.Subscribe, &c.sub},
		{"deny-publish", p.DenyPublish, &c.denyPub}, {"deny-subscribe", p.DenySubscribe, &c.denySub},
	}
	for _, l := range lists {
		for _, pat := range l.in {
			if err := hub.ValidatePattern(pat); err != nil {
				return nil, fmt.Errorf("%s: %q: %w", l.name, pat, err)
			}
		}
		*l.out = append([]string(nil), l.in...)
	}
	return c, nil
}

// MayPublish reports whether the holder may publish to topic: a publish
// pattern matches it and no deny-publish pattern does.
func (p *Perms) MayPublish(topic string) bool {
	if p == nil {
		return true
	}
	return anyMatch(p.pub, topic) && !anyMatch(p.denyPub, topic)
}

// MaySubscribe reports whether the holder may subscribe to pattern: a
// subscribe pattern covers every subject pattern can match, and no
// deny-subscribe pattern does. A pattern that merely overlaps a denied
// one is allowed; its denied messages are filtered at delivery.
func (p *Perms) MaySubscribe(pattern string) bool {
	if p == nil {
		return true
	}
	return anyCovers(p.sub, pattern) && !anyCovers(p.denySub, pattern)
}

// MayReceive reports whether a message on topic may be delivered to the
// holder: a subscribe pattern matches it and no deny-subscribe pattern
// does. Checking every delivery, not only subscribing, is what keeps a
// wildcard that overlaps a denied subject from leaking it, and what makes
// a reload that takes a right away apply to subscriptions already made.
func (p *Perms) MayReceive(topic string) bool {
	return p == nil || anyMatch(p.sub, topic) && !anyMatch(p.denySub, topic)
}

// CanPublish reports whether the holder may publish anywhere at all.
func (p *Perms) CanPublish() bool { return p == nil || len(p.pub) > 0 }

// CanSubscribe reports whether the holder may subscribe anywhere at all.
func (p *Perms) CanSubscribe() bool { return p == nil || len(p.sub) > 0 }

func anyMatch(pats []string, topic string) bool {
	for _, p := range pats {
		if hub.Match(p, topic) {
			return true
		}
	}
	return false
}

func anyCovers(pats []string, q string) bool {
	for _, p := range pats {
		if Covers(p, q) {
			return true
		}
	}
	return false
}

// Covers reports whether every subject pattern q can match is matched by
// pattern p ("a.>" covers "a.*.c"; "a.*" does not cover "a.>"). Both must
// be valid patterns.
func Covers(p, q string) bool {
	for {
		ptok, prest, pmore := strings.Cut(p, ".")
		qtok, qrest, qmore := strings.Cut(q, ".")
		switch {
		case ptok == ">":
			return true // q has at least this token left
		case qtok == ">":
			return false
		case ptok != "*" && ptok != qtok:
			return false
		}
		if !pmore || !qmore {
			return pmore == qmore
		}
		p, q = prest, qrest
	}
}
