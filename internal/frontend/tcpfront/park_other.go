//go:build !linux

package tcpfront

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
