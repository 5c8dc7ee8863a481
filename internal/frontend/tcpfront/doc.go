// Package tcpfront is switchboard's TCP door: it accepts connections, speaks
// the line protocol (package line) on them and hands every decoded command
// to a session. It does only I/O and lifecycle.
//
// Each connection has one goroutine, its reader. The reader waits for
// readability without holding a buffer (syscall.RawConn) and borrows a
// pooled buffer only while bytes are there, so an idle connection pins no
// read buffer; writes go through the session's queue and on-demand writer.
package tcpfront
