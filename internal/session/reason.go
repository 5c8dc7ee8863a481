package session

// CloseReason says why a session ended. One enum serves every door's final
// notice (each door maps it onto its own close form: a line of text, a
// WebSocket close code, an SSE event) and the metrics label.
type CloseReason uint8

// Close reasons.
const (
	// ReasonNone means the session is still open.
	ReasonNone CloseReason = iota
	// ReasonClientQuit: the client asked to leave (/quit).
	ReasonClientQuit
	// ReasonClientGone: the connection was closed or broke from the client side.
	ReasonClientGone
	// ReasonSlowConsumer: the outbound queue overflowed its byte limit.
	ReasonSlowConsumer
	// ReasonShutdown: the server is shutting down.
	ReasonShutdown
	// ReasonServerFull: a connection limit was reached.
	ReasonServerFull
	// ReasonIdle: no input for longer than the idle timeout.
	ReasonIdle
	// ReasonProtocol: the client broke the protocol beyond recovery.
	ReasonProtocol
	// ReasonWriteError: writing to the client failed.
	ReasonWriteError
	// ReasonInternal: a bug (a recovered panic) ended the session.
	ReasonInternal
	// ReasonNodeGone: the node lost its cluster membership.
	ReasonNodeGone
	// ReasonExpired: the identity's credential (a JWT) expired and the
	// client did not present a newer one in time.
	ReasonExpired
)

var reasonInfo = [...]struct {
	label, notice string
}{
	ReasonNone:         {"none", ""},
	ReasonClientQuit:   {"client_quit", "bye"},
	ReasonClientGone:   {"client_gone", ""},
	ReasonSlowConsumer: {"slow_consumer", "slow consumer, disconnecting"},
	ReasonShutdown:     {"shutdown", "server shutting down"},
	ReasonServerFull:   {"server_full", "server full"},
	ReasonIdle:         {"idle_timeout", "idle timeout, disconnecting"},
	ReasonProtocol:     {"protocol_error", "protocol error, disconnecting"},
	ReasonWriteError:   {"write_error", ""},
	ReasonInternal:     {"internal_error", "internal error, disconnecting"},
	ReasonNodeGone:     {"node_gone", "node leaving the cluster"},
	ReasonExpired:      {"token_expired", "token expired, disconnecting"},
}

// String returns the metrics label of the reason, such as "slow_consumer".
func (r CloseReason) String() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].label
	}
	return "unknown"
}

// Notice is the text sent to the client as the session's last frame, or ""
// when nothing is sent.
func (r CloseReason) Notice() string {
	if int(r) < len(reasonInfo) {
		return reasonInfo[r].notice
	}
	return ""
}

// IsError reports whether the notice is an error ("! " on the line
// protocol) rather than information ("* ").
func (r CloseReason) IsError() bool {
	switch r {
	case ReasonSlowConsumer, ReasonServerFull, ReasonIdle, ReasonProtocol, ReasonInternal, ReasonExpired:
		return true
	}
	return false
}

// Reasons lists every reason, for pre-registering metric labels.
func Reasons() []CloseReason {
	out := make([]CloseReason, 0, len(reasonInfo))
	for r := range reasonInfo {
		out = append(out, CloseReason(r))
	}
	return out
}
