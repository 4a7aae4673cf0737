// Package reuse empties the buffers that the processing loop keeps from one
// commit interval to the next, without keeping a burst's memory for good.
//
// A minute boundary closes every key's window at once: that interval's
// changelog records, store batch and flushed changes are tens of times those
// of the intervals around it. A buffer kept at that size holds memory that
// the next minute's burst alone needs (and, with the garbage collector's
// target a multiple of the live heap, twice that in the process), and its
// stale elements keep closed windows' aggregates alive until they are written
// over.
package reuse

// Floor is the capacity up to which a buffer is always kept.
const Floor = 256

// Slice returns s emptied for reuse: its elements zeroed, so that they keep
// nothing alive, and nil instead when s holds less than a quarter of its
// capacity and more than Floor elements could fit: the next use grows a new
// array to its own size. Zeroing len(s) elements each time keeps every element
// past the length zero, as long as every use of s goes through Slice.
func Slice[T any](s []T) []T {
	clear(s)
	if cap(s) > Floor && cap(s) > 4*len(s) {
		return nil
	}
	return s[:0]
}
