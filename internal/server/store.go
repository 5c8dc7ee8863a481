package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-hub/switchboard/internal/backplane/natsbp"
	"github.com/switchboard-hub/switchboard/internal/backplane/natsembed"
	"github.com/switchboard-hub/switchboard/internal/history"
	"github.com/switchboard-hub/switchboard/internal/hub"
)

// storeRun is the durable history of --store DIR: an embedded NATS server
// with JetStream's file store in DIR, and the connection that writes every
// kept message to it and reads them back at start (natsbp.Durable).
type storeRun struct {
	embed *natsembed.Server
	d     *natsbp.Durable
}

// storeTimeout bounds opening, loading and closing the store.
const storeTimeout = 30 * time.Second

// errStoreCluster refuses --store with --cluster but without a JetStream
// of this node's to store in.
var errStoreCluster = errors.New("server: --store with --cluster needs --nats-embed and --cluster-history: " +
	"the embedded NATS's JetStream then keeps the cluster's history in DIR; without them history is per node in memory, " +
	"or in the external NATS's JetStream with --cluster-history")

// errClusterHistoryAlone refuses --cluster-history on a single node.
var errClusterHistoryAlone = errors.New("server: --cluster-history needs --cluster URL or --nats-embed ADDR " +
	"(on a single node, --store DIR keeps history across restarts)")

// prepareStore makes cfg's history write to the durable store once
// openStore has opened it; it returns the setter openStore uses.
func prepareStore(cfg *Config) func(*natsbp.Durable) {
	var d *natsbp.Durable
	cfg.History.Persist = func(m *hub.Message) { d.Persist(m) }
	return func(x *natsbp.Durable) { d = x }
}

// openStore starts the embedded JetStream server on dir, loads what it
// kept into st (messages, numbering, epochs) and hands the writer to set.
func openStore(dir string, st *history.Store, set func(*natsbp.Durable)) (*storeRun, error) {
	if st == nil {
		return nil, errors.New("server: --store needs history (--history or a rule keeping some)")
	}
	e, err := natsembed.StartJetStream("127.0.0.1:0", dir)
	if err != nil {
		return nil, fmt.Errorf("server: --store %s: %w", dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	keep, age := st.Bounds()
	d, err := natsbp.OpenDurable(ctx, e.ClientURL(), natsbp.HistoryConfig{Keep: keep, MaxAge: age}, st.Epoch)
	if err != nil {
		e.Shutdown()
		return nil, fmt.Errorf("server: --store %s: %w", dir, err)
	}
	epoch, journal, err := d.Load(ctx, func(m *hub.Message) { st.Restore(m) })
	if err != nil {
		_ = d.Close(ctx)
		e.Shutdown()
		return nil, fmt.Errorf("server: --store %s: %w", dir, err)
	}
	st.RestoreJournal(epoch, journal)
	set(d)
	return &storeRun{embed: e, d: d}, nil
}

// close waits for the writes in flight and stops the embedded server.
func (r *storeRun) close() error {
	if r == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := r.d.Close(ctx)
	r.embed.Shutdown()
	return err
}
