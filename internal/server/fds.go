package server

import (
	"fmt"
	"os"
	"syscall"
)

// DefaultFDReserve is the default Config.FDReserve.
const DefaultFDReserve = 100

// fdCapacity returns how many client connections fit under the process's
// descriptor limit (RLIMIT_NOFILE) once reserve descriptors are kept back
// for everything else (listeners, the cluster, log files, refusing
// clients cleanly, answering health probes), counting the descriptors
// already open. ok is false when no bound applies: a negative reserve, or
// a limit the system does not report.
func fdCapacity(reserve int) (capacity int, limit uint64, open int, ok bool) {
	if reserve < 0 {
		return 0, 0, 0, false
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == ^uint64(0) {
		return 0, 0, 0, false
	}
	open = openFDs()
	if rl.Cur > uint64(1<<40) {
		return 1 << 40, rl.Cur, open, true
	}
	return int(rl.Cur) - reserve - open, rl.Cur, open, true
}

// openFDs counts the process's open descriptors, or returns 0 where
// /proc does not list them.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

// connCap returns the connection limit to enforce: max (0: none), lowered
// to what the descriptor limit leaves after reserve (0 when neither
// bounds). It fails when the reserve leaves no room for a single client.
func connCap(max, reserve int) (int, error) {
	n, limit, open, ok := fdCapacity(reserve)
	if !ok {
		return max, nil
	}
	if n <= 0 {
		return 0, fmt.Errorf("server: --fd-reserve %d leaves no descriptors for clients (limit %d, %d open)", reserve, limit, open)
	}
	if max == 0 || max > n {
		return n, nil
	}
	return max, nil
}
