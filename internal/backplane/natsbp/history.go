package natsbp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/switchboard-hub/switchboard/internal/hub"
)

// HistoryStream is the JetStream stream `--store` keeps history in; each
// kept topic's messages are on subject HistorySubject+topic.
const (
	HistoryStream  = "SBHIST"
	HistorySubject = "sbhist."
)

// The headers of a kept message: its numbering, as the history store
// gave it, so that a restart restores the same positions and epochs.
const (
	hdrSeq     = "Sb-Seq"
	hdrEpoch   = "Sb-Epoch"
	hdrJournal = "Sb-Journal"
	hdrJEpoch  = "Sb-Journal-Epoch"
	hdrTime    = "Sb-Time"
	hdrFrom    = "Sb-From"
)

// HistoryConfig configures a Durable.
type HistoryConfig struct {
	// Keep bounds the messages kept per topic (the stream's
	// MaxMsgsPerSubject): the largest keep of any rule; the history
	// store trims each topic to its own.
	Keep int
	// MaxAge bounds their age (the stream's MaxAge); 0 keeps them until
	// Keep pushes them out.
	MaxAge time.Duration
}

// Durable writes kept messages to a JetStream stream and reads them back
// after a restart: the durable store behind `--store DIR`, on the
// embedded NATS server's file store. Persist is safe for concurrent use;
// Load and Close are called once each.
type Durable struct {
	nc        *nats.Conn
	js        jetstream.JetStream
	stream    jetstream.Stream
	epoch     func() uint32 // the journal's epoch, for each message's header
	failed    atomic.Uint64 // writes refused at once
	failedAck *atomic.Uint64
}

// OpenDurable connects to the NATS server at url and creates (or
// updates) the history stream there. epoch returns the history store's
// journal epoch.
func OpenDurable(ctx context.Context, url string, cfg HistoryConfig, epoch func() uint32) (*Durable, error) {
	nc, err := nats.Connect(url, nats.Name("switchboard history"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("natsbp: history store: connect %s: %w", url, err)
	}
	var failed atomic.Uint64
	js, err := jetstream.New(nc,
		// Room for a burst: past it Persist waits (up to 200 ms) on the
		// publisher's path, then counts the message failed.
		jetstream.WithPublishAsyncMaxPending(historyMaxPending),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbp: history store: %w", err)
	}
	sc := jetstream.StreamConfig{
		Name:              HistoryStream,
		Subjects:          []string{HistorySubject + ">"},
		Storage:           jetstream.FileStorage,
		MaxMsgsPerSubject: int64(max(cfg.Keep, 1)),
		MaxAge:            cfg.MaxAge,
		Discard:           jetstream.DiscardOld,
	}
	st, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbp: history store: stream %s: %w", HistoryStream, err)
	}
	d := &Durable{nc: nc, js: js, stream: st, epoch: epoch, failedAck: &failed}
	return d, nil
}

// historyMaxPending is how many writes may await their acknowledgement.
const historyMaxPending = 1 << 16

// Persist writes m down without waiting for the acknowledgement (the
// history store's Config.Persist). A message that cannot be written is
// counted (Failed) and lost to the durable copy only.
func (d *Durable) Persist(m *hub.Message) {
	msg := nats.NewMsg(HistorySubject + m.Topic)
	msg.Header.Set(hdrSeq, strconv.FormatUint(m.Seq, 10))
	msg.Header.Set(hdrEpoch, strconv.FormatUint(uint64(m.Epoch), 10))
	msg.Header.Set(hdrJournal, strconv.FormatUint(m.Journal, 10))
	msg.Header.Set(hdrJEpoch, strconv.FormatUint(uint64(d.epoch()), 10))
	msg.Header.Set(hdrTime, strconv.FormatInt(m.Time, 10))
	msg.Header.Set(hdrFrom, m.From)
	msg.Data = []byte(m.Text)
	if _, err := d.js.PublishMsgAsync(msg); err != nil {
		d.failed.Add(1)
	}
}

// Failed counts the messages Persist could not write, refused at once or
// not acknowledged.
func (d *Durable) Failed() uint64 { return d.failed.Load() + d.failedAck.Load() }

// Load reads every message the stream holds, in the order they were
// written, and gives each to restore with its numbering; it returns the
// journal epoch and the highest journal place it saw (0, 0 for an empty
// stream).
func (d *Durable) Load(ctx context.Context, restore func(m *hub.Message)) (epoch uint32, journal uint64, err error) {
	info, err := d.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("natsbp: history store: %w", err)
	}
	var msgs []*hub.Message
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		raw, err := d.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("natsbp: history store: message %d: %w", seq, err)
		}
		m, je, ok := decodeKept(raw)
		if !ok {
			continue
		}
		if m.Journal >= journal {
			journal, epoch = m.Journal, je
		}
		msgs = append(msgs, m)
	}
	// Persist runs outside the store's lock: the stream's order may
	// differ from the journal's a little.
	sortByJournal(msgs)
	for _, m := range msgs {
		restore(m)
	}
	return epoch, journal, nil
}

// decodeKept reads a message Persist wrote.
func decodeKept(raw *jetstream.RawStreamMsg) (*hub.Message, uint32, bool) {
	topic, ok := cutPrefix(raw.Subject, HistorySubject)
	if !ok {
		return nil, 0, false
	}
	h := raw.Header
	seq, err1 := strconv.ParseUint(h.Get(hdrSeq), 10, 64)
	ep, err2 := strconv.ParseUint(h.Get(hdrEpoch), 10, 32)
	j, err3 := strconv.ParseUint(h.Get(hdrJournal), 10, 64)
	je, err4 := strconv.ParseUint(h.Get(hdrJEpoch), 10, 32)
	t, err5 := strconv.ParseInt(h.Get(hdrTime), 10, 64)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, 0, false
	}
	return &hub.Message{Kind: hub.KindMessage, Topic: topic, From: h.Get(hdrFrom), Text: string(raw.Data),
		Seq: seq, Epoch: uint32(ep), Journal: j, Time: t}, uint32(je), true
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// sortByJournal sorts msgs by Journal (insertion sort: they are nearly
// in order).
func sortByJournal(msgs []*hub.Message) {
	for i := 1; i < len(msgs); i++ {
		for j := i; j > 0 && msgs[j].Journal < msgs[j-1].Journal; j-- {
			msgs[j], msgs[j-1] = msgs[j-1], msgs[j]
		}
	}
}

// Close waits up to ctx for the writes in flight to be acknowledged,
// then closes the connection.
func (d *Durable) Close(ctx context.Context) error {
	var err error
	select {
	case <-d.js.PublishAsyncComplete():
	case <-ctx.Done():
		err = fmt.Errorf("natsbp: history store: writes not acknowledged: %w", ctx.Err())
	}
	d.nc.Close()
	return err
}
