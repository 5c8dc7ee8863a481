package history

import (
	"sort"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// Window is what is kept of one topic, as a history other than Store
// holds it (the cluster's history in JetStream, package natsbp): read
// from there, it is answered with ReadWindows the way Store.Read answers
// from memory, with the same gaps.
type Window struct {
	Topic string
	// Top is the topic's last number; a zero Epoch means the topic has
	// no numbering (never published, or everything expired).
	Top Position
	// Msgs are the kept messages, oldest first, within the topic's
	// limits (Config.Limits).
	Msgs []*hub.Message
	// Gone, GoneAt and GoneJ are the Seq, Time and Journal of the last
	// message no longer kept; Gone is 0 when nothing was let go.
	Gone   uint64
	GoneAt int64
	GoneJ  uint64
}

// NewNumbering returns a random non-zero epoch for a topic whose
// numbering starts.
func NewNumbering() uint32 { return newEpoch() }

// ReadWindows answers a read from since over windows as Store.Read does:
// the messages in journal order, the newest limit of them at most (0 or
// more than MaxReplay means MaxReplay), a Gap per topic where messages
// are missing, and each topic's top. journal is the epoch of the
// journal the messages' Journal places are in. A topic may come twice;
// its first window counts.
func ReadWindows(windows []Window, since Since, journal uint32, limit int) Result {
	res := Result{Tops: make(map[string]Position)}
	gaps := make(map[string]*Gap)
	for i := range windows {
		w := &windows[i]
		if _, done := res.Tops[w.Topic]; done {
			continue
		}
		if w.Top.Epoch == 0 {
			if g := unknownGap(w.Topic, since, journal); g != nil {
				gaps[w.Topic] = g
			}
			continue
		}
		res.Tops[w.Topic] = w.Top
		from, g := w.start(since, journal)
		if g != nil {
			gaps[w.Topic] = g
		}
		msgs := w.Msgs
		if since.Kind == SinceLast {
			msgs = msgs[max(0, len(msgs)-since.Last):]
		}
		for _, m := range msgs {
			if from(m) {
				res.Msgs = append(res.Msgs, m)
			}
		}
	}
	finish(&res, gaps, limit)
	return res
}

// start returns which kept messages of w a read from since wants, and
// the gap before them, if any; journal is the journal's epoch.
func (w *Window) start(since Since, journal uint32) (func(*hub.Message) bool, *Gap) {
	all := func(*hub.Message) bool { return true }
	switch since.Kind {
	case SinceSeq:
		if (since.Epoch != 0 && since.Epoch != w.Top.Epoch) || since.Seq > w.Top.Seq {
			return all, &Gap{Topic: w.Topic, Lost: true}
		}
		var g *Gap
		if since.Seq < w.Gone {
			g = &Gap{Topic: w.Topic, Missed: w.Gone - since.Seq}
		}
		after := since.Seq
		return func(m *hub.Message) bool { return m.Seq > after }, g
	case SinceTime:
		var g *Gap
		if w.Gone > 0 && w.GoneAt >= since.Time {
			g = &Gap{Topic: w.Topic}
		}
		t := since.Time
		return func(m *hub.Message) bool { return m.Time >= t }, g
	case SinceJournal:
		if since.Epoch != journal {
			return all, &Gap{Topic: w.Topic, Lost: true}
		}
		var g *Gap
		if w.Gone > 0 && w.GoneJ > since.Journal {
			g = &Gap{Topic: w.Topic}
		}
		j := since.Journal
		return func(m *hub.Message) bool { return m.Journal > j }, g
	}
	return all, nil
}

// unknownGap is the gap of a read on a topic without a numbering: a
// position in it is stale.
func unknownGap(topic string, since Since, journal uint32) *Gap {
	switch {
	case since.Kind == SinceSeq && since.Seq > 0,
		since.Kind == SinceJournal && since.Epoch != journal:
		return &Gap{Topic: topic, Lost: true}
	}
	return nil
}

// finish orders res.Msgs by journal, keeps the newest limit of them
// (counting the others as missed) and lists the gaps by topic.
func finish(res *Result, gaps map[string]*Gap, limit int) {
	if limit <= 0 || limit > MaxReplay {
		limit = MaxReplay
	}
	sort.Slice(res.Msgs, func(i, j int) bool { return res.Msgs[i].Journal < res.Msgs[j].Journal })
	if cut := len(res.Msgs) - limit; cut > 0 {
		for _, m := range res.Msgs[:cut] {
			g := gaps[m.Topic]
			if g == nil {
				g = &Gap{Topic: m.Topic}
				gaps[m.Topic] = g
			}
			if !g.Lost {
				g.Missed++
			}
		}
		res.Msgs = res.Msgs[cut:]
	}
	for _, g := range gaps {
		res.Gaps = append(res.Gaps, *g)
	}
	sort.Slice(res.Gaps, func(i, j int) bool { return res.Gaps[i].Topic < res.Gaps[j].Topic })
}
