// Package session is one connected client, whatever door it came through:
// its hub identity, its current room, the commands it may run, and its
// bounded outbound queue with the writer that drains it.
//
// A front end (TCP, WebSocket, SSE …) implements the small Transport
// interface and a Codec for its wire format, creates a Session with New, and
// runs one reader goroutine that turns incoming frames into Requests for
// Session.Do. Everything addressed to the client — replies, messages, room
// events — is encoded once by the Codec and appended to the outbound queue
// without waiting; a writer goroutine, started only while there is
// something to write, hands the whole queue to Transport.WriteBatch in one
// call (one writev on TCP). A client whose queue exceeds its byte limit is a
// slow consumer: it is told so when possible and disconnected, and nobody
// else waits for it.
//
// Registry tracks live sessions for connection limits, statistics and
// graceful shutdown.
package session
