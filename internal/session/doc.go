// Package session is one connected client, whatever door it came through:
// its hub identity, its current room, the operations it may ask for, and
// its bounded outbound queue with the writer that drains it.
//
// Files by job: op.go (the operations and their help), do.go (Do, the one
// entry point of every operation: rate limit, Guard permissions,
// sanitizing), errors.go (refusals as typed values with stable codes),
// visitor.go (the same operations for clients without a session, such as
// an HTTP publish), deliver.go (the delivery layer: a publish's route is
// queued to each recipient, batched per read and written at the batch's
// end, big routes in parallel), queue.go (the queue, the writer goroutine,
// closing), registry.go (live sessions, limits, counters, shutdown),
// idle.go (the idle timeout: Session.Alive, the registry's sweep, the
// Prober a door whose clients only listen implements).
//
// A door implements the small Transport interface and a Codec for its wire
// format (registering the format with Registry.Formats), creates a Session
// with New, and runs one reader that maps its syntax onto Requests for
// Session.Do, wrapping each read in BeginBatch/EndBatch. Everything
// addressed to the client — replies, messages, room events — is encoded
// once per format and appended to the outbound queue without waiting; a
// writer goroutine, started only while there is something to write, hands
// the whole queue to Transport.WriteBatch in one call (one writev on TCP).
// A client whose queue exceeds its byte limit is a slow consumer: it is
// told so when possible and disconnected, and nobody else waits for it.
// A client that shows no sign of life for Limits.IdleTimeout (whatever
// its door: Do and the door's Alive calls record life) is disconnected
// with ReasonIdle.
// Each door maps a CloseReason onto its own close form
// (Transport.Close(reason)) and renders help and refusals in its own
// syntax.
package session
