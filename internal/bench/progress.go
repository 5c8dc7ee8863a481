package bench

import (
	"io"

	"github.com/switchboard-hub/switchboard/internal/progress"
)

// startProgress shows how far a phase of max steps has got on w (stderr)
// — a bar on a terminal, plain lines otherwise (internal/progress) —
// reading value from the display goroutine. It returns nil, which shows
// nothing and is safe to finish, when disabled (--no-progress).
func startProgress(w io.Writer, enabled bool, max int64, desc string, value func() int64) *progress.Phase {
	if !enabled {
		return nil
	}
	return progress.Start(w, desc, max, value)
}
