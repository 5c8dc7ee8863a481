// Package tcpfront is switchboard's TCP door: it accepts connections, speaks
// the line protocol (package line) on them and hands every decoded command
// to a session. It does only I/O and lifecycle. Entry points: Listen, then
// Front.Serve until Front.Close, then Front.Wait; Codec is the door's
// encoding of session output.
//
// A connection's life (conn.go, workers.go, park_linux.go):
//
//   - Active: the connection has one goroutine of its own, and that
//     goroutine only waits. It makes one syscall.RawConn.Read call; each
//     time the socket is readable it hands "read until EAGAIN and handle
//     every line" to a worker and waits for it. Workers are an elastic set
//     of goroutines shared by the door (at most 256, idle ones exit after
//     10 s), so the deep stacks of parsing and command handling live on a
//     few workers and the connection's own stack stays at the minimum. A
//     read buffer is borrowed from a pool only while bytes are there.
//   - Parked (Linux): after Config.ParkAfter without input the
//     connection's goroutine ends and its socket waits, one shot, in the
//     door's own epoll set. One poller goroutine per door starts a new
//     goroutine for a parked connection that becomes readable or is closed
//     by its session (the registry's idle timeout closes it that way). Front.Stats counts the
//     connections parked now and the parks so far. Elsewhere connections
//     never park.
//
// Writes go through the session's queue: its on-demand writer goroutine
// calls WriteBatch (the net package's write), and a publisher flushing its
// read batch calls TryWriteBatch, one non-blocking send or writev on the
// raw descriptor. The door guards that raw write itself (rawGuard): once
// Close has begun no raw write reaches the descriptor, so a client's bytes
// can never go to a socket the kernel reused for another.
//
// With Config.TLSAddr the door has a second listener whose connections
// speak the same protocol inside TLS (tls.go). They take the plain
// net.Conn path — a goroutine blocked in tls.Conn.Read, writes only from
// the session's writer, no parking — because the raw-descriptor reads and
// writes above would bypass the TLS records.
package tcpfront
