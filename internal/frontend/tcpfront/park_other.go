//go:build !linux

package tcpfront

// parks tells whether idle connections can give up their goroutine here.
// Connections never park outside Linux.
const parks = false

// parkState is empty where connections are never parked.
type parkState struct{}

// parker never parks outside Linux: idle connections keep their
// goroutine, as in the plain goroutine-per-connection model.
type parker struct{}

func newParker(*Front) *parker { return &parker{} }

func (*parker) park(*reader) bool { return false }

func (*parker) wake(*reader) {}

func (*parker) close() {}

func (*parker) counts() (int, uint64) { return 0, 0 }
