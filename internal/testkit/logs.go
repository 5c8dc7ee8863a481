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
	full []string // each record as "message k=v …", attributes included
}

// Logger returns a logger writing to l.
func (l *Logs) Logger() *slog.Logger { return slog.New(l) }

// Enabled implements slog.Handler: every level is kept.
func (l *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (l *Logs) Handle(_ context.Context, r slog.Record) error {
	return l.handle(r, nil)
}

func (l *Logs) handle(r slog.Record, with []slog.Attr) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range with {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.full = append(l.full, b.String())
	l.mu.Unlock()
	return nil
}

// WithAttrs implements slog.Handler; the attributes are kept for Text.
func (l *Logs) WithAttrs(as []slog.Attr) slog.Handler { return &withAttrs{l, as} }

// WithGroup implements slog.Handler; groups are dropped.
func (l *Logs) WithGroup(string) slog.Handler { return l }

// Text returns everything logged so far, one record a line with its
// attributes, for tests that check what must never be logged.
func (l *Logs) Text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.full, "\n")
}

// withAttrs is a Logs handler with attributes added by With.
type withAttrs struct {
	l  *Logs
	as []slog.Attr
}

func (w *withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (w *withAttrs) Handle(_ context.Context, r slog.Record) error {
	return w.l.handle(r, w.as)
}
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.l, append(append([]slog.Attr(nil), w.as...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler { return w }

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
