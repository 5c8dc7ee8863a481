package history

// deque is a FIFO over a slice: push at the back, pop at the front,
// index from the front. The live items are buf[head:]; the slice is
// compacted when the dead prefix is over half of it, so a deque costs
// O(1) amortized per operation and at most twice its items in memory.
type deque[T any] struct {
	buf  []T
	head int
}

func (d *deque[T]) len() int { return len(d.buf) - d.head }

func (d *deque[T]) push(v T) { d.buf = append(d.buf, v) }

// at returns the i-th item from the front.
func (d *deque[T]) at(i int) T { return d.buf[d.head+i] }

// front returns the oldest item; the deque must not be empty.
func (d *deque[T]) front() T { return d.buf[d.head] }

// pop removes and returns the oldest item; the deque must not be empty.
func (d *deque[T]) pop() T {
	var zero T
	v := d.buf[d.head]
	d.buf[d.head] = zero
	d.head++
	if d.head == len(d.buf) {
		d.buf, d.head = d.buf[:0], 0
	} else if d.head > 32 && d.head*2 > len(d.buf) {
		n := copy(d.buf, d.buf[d.head:])
		clear(d.buf[n:])
		d.buf, d.head = d.buf[:n], 0
	}
	return v
}

// filter keeps the items for which keep is true, in order.
func (d *deque[T]) filter(keep func(T) bool) {
	n := 0
	for _, v := range d.buf[d.head:] {
		if keep(v) {
			d.buf[n] = v
			n++
		}
	}
	clear(d.buf[n:])
	d.buf, d.head = d.buf[:n], 0
}
