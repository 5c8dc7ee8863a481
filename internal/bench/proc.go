package bench

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// clockTicks is CLK_TCK on Linux, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is one reading of a process's accounting from /proc.
type procSample struct {
	cpuSeconds float64 // utime+stime
	rssBytes   int64   // VmRSS
}

// readProc samples the CPU seconds and resident set size of pid.
func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read server stat: %w", err)
	}
	// The command name is in parentheses and may contain spaces: fields
	// start after the last ')'. utime and stime are fields 14 and 15,
	// i.e. the 12th and 13th after the state field (field 3).
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("parse /proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	s.cpuSeconds = float64(utime+stime) / clockTicks

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read server status: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("parse /proc/%d/status VmRSS: %w", pid, err)
		}
		s.rssBytes = kb * 1024
		return s, nil
	}
	return s, fmt.Errorf("parse /proc/%d/status: no VmRSS", pid)
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit so that one
// process can hold as many connections as the machine allows, and returns
// the resulting soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("get open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raise open-file limit: %w", err)
		}
	}
	return lim.Cur, nil
}

// findListenerPID finds the local process listening on the TCP address
// addr ("127.0.0.1:8082"), by looking up the listening socket's inode in
// /proc/net/tcp{,6} and then the process holding that inode among its file
// descriptors. It returns 0 with no error when no such process is visible
// (another user's process, or a remote server).
func findListenerPID(addr string) (int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("split %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("parse port %q: %w", portStr, err)
	}
	ip := net.ParseIP(host)
	inodes := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(l)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" { // 0A = LISTEN
				continue
			}
			lip, lport, ok := parseProcAddr(f[1])
			if !ok || lport != uint16(port) {
				continue
			}
			if lip.IsUnspecified() || ip == nil || lip.Equal(ip) {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0, nil
	}
	// This process first (an in-process server), then every other one,
	// one process at a time: others may hold tens of thousands of fds.
	self := os.Getpid()
	if holdsInode(self, inodes) {
		return self, nil
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid, err := strconv.Atoi(strings.TrimPrefix(dir, "/proc/"))
		if err != nil || pid == self {
			continue
		}
		if holdsInode(pid, inodes) {
			return pid, nil
		}
	}
	return 0, nil
}

// holdsInode reports whether process pid has one of the sockets in inodes
// ("socket:[123]") among its open files.
func holdsInode(pid int, inodes map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	for {
		names, err := f.Readdirnames(1024)
		for _, n := range names {
			if link, err := os.Readlink(dir + "/" + n); err == nil && inodes[link] {
				return true
			}
		}
		if err != nil {
			return false
		}
	}
}

// parseProcAddr decodes "0100007F:1F92" (little-endian words) from
// /proc/net/tcp into an IP and port.
func parseProcAddr(s string) (net.IP, uint16, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, 0, false
	}
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), uint16(port), true
}
