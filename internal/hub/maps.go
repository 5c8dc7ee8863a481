package hub

// shrinkFloor is the smallest peak worth shrinking a map from: below it the
// buckets a map keeps cost less than the copy.
const shrinkFloor = 1024

// shrunk returns m, or a right-sized copy of m once it holds fewer than a
// quarter of the most entries it held since it was made (*peak, which
// callers raise with growPeak after adding). Go maps never give their
// buckets back, so a table that one client filled with a million entries
// would keep them after the client left; copying at a quarter keeps the
// cost amortized O(1) per deletion.
func shrunk[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < shrinkFloor || len(m)*4 >= *peak {
		return m
	}
	c := make(map[K]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	*peak = len(m)
	return c
}

// growPeak records n entries as a new peak if it is one.
func growPeak(n int, peak *int) {
	if n > *peak {
		*peak = n
	}
}
