package testkit

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Logs is an slog.Handler that keeps every record's message, so a test can
// check that an event was logged (and how often). It is safe for concurrent
// use.
type Logs struct {
	mu   sync.Mutex
	msgs []string
}

// Logger returns a logger writing to l.
func (l *Logs) Logger() *slog.Logger { return slog.New(l) }

// Enabled implements slog.Handler: every level is kept.
func (l *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (l *Logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

// WithAttrs implements slog.Handler; attributes are dropped.
func (l *Logs) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup implements slog.Handler; groups are dropped.
func (l *Logs) WithGroup(string) slog.Handler { return l }

// Count returns how many messages logged so far contain msg.
func (l *Logs) Count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, msg) {
			n++
		}
	}
	return n
}
