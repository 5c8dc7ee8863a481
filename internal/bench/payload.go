package bench

import (
	"errors"
	"strconv"
)

// A payload carries "<publisher> <seq> <unix-nanos> " followed by 'x'
// padding up to the requested size, so that every subscriber can detect
// loss and reordering per publisher and measure latency without any shared
// state with the publisher. It is plain ASCII so that every protocol,
// including the line protocol's sanitizer, passes it through unchanged.

// errBadPayload is returned by parsePayload for a payload bench did not write.
var errBadPayload = errors.New("bench: malformed payload")

// payloadHeaderMax is the longest header appendPayload can write.
const payloadHeaderMax = 3*20 + 3

// appendPayload appends one payload of at least size bytes (more if the
// header alone is longer) to dst.
func appendPayload(dst []byte, pub int, seq uint64, tsNanos int64, size int) []byte {
	start := len(dst)
	dst = strconv.AppendUint(dst, uint64(pub), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, tsNanos, 10)
	dst = append(dst, ' ')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

// parsePayload extracts the publisher index, sequence number and send time
// from a payload written by appendPayload. It does not allocate; it runs
// once per delivery, so it is written as one tight scan.
func parsePayload(p []byte) (pub int, seq uint64, tsNanos int64, err error) {
	var v [3]uint64
	i := 0
	for k := range v {
		start := i
		var n uint64
		for i < len(p) && i-start < 19 { // 19 digits cannot overflow
			c := p[i] - '0'
			if c > 9 {
				break
			}
			n = n*10 + uint64(c)
			i++
		}
		if i == start || i == len(p) || p[i] != ' ' {
			return 0, 0, 0, errBadPayload
		}
		v[k] = n
		i++
	}
	if v[0] > 1<<20 || v[2] > 1<<63-1 {
		return 0, 0, 0, errBadPayload
	}
	return int(v[0]), v[1], int64(v[2]), nil
}
