//go:build !race

package stress

// raceEnabled reports whether the race detector is compiled in; it inflates
// per-goroutine memory (shadow state), so reports and tests must know.
const raceEnabled = false
