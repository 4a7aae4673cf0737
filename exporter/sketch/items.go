package sketch

import "encoding/binary"

// A bucket set's items are its counts in index order, each a uvarint, where a
// 0 starts an empty run: the uvarint after it is the run's length less one
// (the format AppendBinary documents). The functions here read the items of a
// set decoder.set has validated, without checking them again: they take the
// set's span from its header and trust the items to fill it exactly.

// addItems adds the counts of a validated set's items to dst: the count of the
// set's bucket lo+k to dst[k], for k below the set's span (len(dst) at least
// that). Empty runs are skipped, not walked, so a sparse set (a minute's
// twenty latencies spread over a thousand buckets) costs its items, not its
// span: merging reads each encoding once and writes only the buckets it
// counts.
func addItems(items []byte, dst []uint64) {
	k, j := 0, 0
	for j < len(items) {
		// As in decoder.set, where eight bytes are left, the usual items of
		// one byte each are taken from a word: eight counts of 1 to 127 at
		// once, or a count and the one-byte empty run after it.
		if len(items)-j >= 8 {
			x := binary.LittleEndian.Uint64(items[j:])
			c := x & 0xff
			switch {
			case x&highBits == 0 && (x-lowBits)&^x&highBits == 0:
				addBytes(dst[k:k+8:k+8], x)
				j += 8
				k += 8
				continue
			case c-1 < 0x7f && x&0x80ff00 == 0:
				dst[k] += c
				j += 3
				k += int(x>>16&0xff) + 2
				continue
			}
		}
		c, n := uint64(items[j]), 1
		if c >= 0x80 {
			c, n = binary.Uvarint(items[j:])
		}
		j += n
		if c != 0 {
			dst[k] += c
			k++
			continue
		}
		run, n := uint64(items[j]), 1
		if run >= 0x80 {
			run, n = binary.Uvarint(items[j:])
		}
		j += n
		k += int(run) + 1
	}
}

// eachItem calls fn with each non-empty bucket of a validated set's items: k
// is the bucket's index less the set's lowest.
func eachItem(items []byte, fn func(k int, c uint64)) {
	k, j := 0, 0
	for j < len(items) {
		c, n := binary.Uvarint(items[j:])
		j += n
		if c != 0 {
			fn(k, c)
			k++
			continue
		}
		run, n := binary.Uvarint(items[j:])
		j += n
		k += int(run) + 1
	}
}

// addBytes adds the eight bytes of x, lowest first, to the eight counts of d:
// eight one-byte counts read at once.
func addBytes(d []uint64, x uint64) {
	for i := range d[:8] {
		d[i] += x >> (8 * i) & 0xff
	}
}
