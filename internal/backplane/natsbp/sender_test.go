package natsbp

import (
	"errors"
	"io"
	"log/slog"
	"testing"
)

// The forward buffer is a contract: a message over its count or byte
// limit is refused at once (the publisher never waits), counted and
// logged; what fits stays queued.
func TestForwardBufferOverflow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		msgs, bytes int
		sizes       []int
		wantDropped uint64
		wantQueued  int
	}{
		{"count limit", 2, 1 << 20, []int{10, 10, 10}, 1, 2},
		{"byte limit", 100, 25, []int{10, 10, 10}, 1, 2},
		{"both fit", 4, 100, []int{10, 10, 10}, 0, 3},
	} {
		b := &Backplane{cfg: Config{ForwardBuffer: tc.msgs, ForwardBufferBytes: tc.bytes},
			log: slog.New(slog.NewTextHandler(io.Discard, nil)), out: make(chan outMsg, tc.msgs)}
		for i, n := range tc.sizes {
			err := b.enqueue(outMsg{subj: "s", data: make([]byte, n)}, false)
			if want := uint64(i) >= uint64(len(tc.sizes))-tc.wantDropped; want != (err != nil) || err != nil && !errors.Is(err, ErrOverflow) {
				t.Errorf("%s: message %d: err %v", tc.name, i, err)
			}
		}
		if got := b.forwardDropped.Load(); got != tc.wantDropped {
			t.Errorf("%s: %d dropped, want %d", tc.name, got, tc.wantDropped)
		}
		if got := len(b.out); got != tc.wantQueued {
			t.Errorf("%s: %d queued, want %d", tc.name, got, tc.wantQueued)
		}
		if got, want := b.outBytes.Load(), int64(10*tc.wantQueued); got != want {
			t.Errorf("%s: %d bytes accounted, want %d", tc.name, got, want)
		}
	}
}
