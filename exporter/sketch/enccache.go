package sketch

import "math"

// An encoding cache (KeepEncoding) keeps the positive bucket items a sketch last
// encoded, so that the next AppendBinary re-encodes only around the buckets added
// to since. A stream task encodes every changed window and running total at every
// commit; with many keys each has had an event or two since the last commit, and
// encoding every bucket again read the whole bucket array (most of the time of a
// commit at 10,000 keys). The bytes are exactly AppendBinary's without the cache.
//
// Marks make the items addressable: a mark is a non-empty bucket and the offset
// of its item, at least markEvery buckets after the previous mark. A non-empty
// bucket always starts an item, and counts only grow between encodings (AddN; any
// other change drops the cache), so the marks past the last added bucket still
// start items afterwards: the items before the mark at or below the lowest added
// bucket and from the first mark above the highest one are reused as they are.

// markEvery is the fewest buckets between two marks.
const markEvery = 16

type encCache struct {
	valid  bool
	schema int32
	lo, hi int32  // the buckets the items cover
	dlo    int32  // lowest bucket added to since, math.MaxInt32 if none
	dhi    int32  // highest bucket added to since
	items  []byte // the items of buckets lo..hi
	marks  []mark // marks[0] is lo's item
	spare  []byte // the previous items' array, for the next encoding
	spareM []mark
}

type mark struct{ bucket, off int32 }

// KeepEncoding makes s keep an encoding cache: AppendBinary then stores the bytes
// it writes (about their size in memory) and modifies s, so it must not run
// concurrently with any other use of s. Add, AddN, Merge and MergeBinary mark the
// buckets they add to; Downscale, UnmarshalBinary, Reset and values that lower the
// schema drop what is cached; Clone does not copy it.
func (s *Sketch) KeepEncoding() {
	if s.pos.cache == nil {
		s.pos.cache = &encCache{}
	}
}

// added records that bucket i's count grew.
func (c *encCache) added(i int32) {
	c.dlo, c.dhi = min(c.dlo, i), max(c.dhi, i)
}

// drop forgets the cached items.
func (c *encCache) drop() {
	if c != nil {
		c.valid = false
	}
}

// appendCached appends the items of b's non-empty buckets lo..hi, as
// appendCounts does, from the cache where the buckets did not change, and
// caches the result.
func (b *buckets) appendCached(dst []byte, schema int32) []byte {
	c, lo, hi := b.cache, b.lo, b.hi
	counts := b.counts[lo-b.offset : hi-b.offset+1]
	if !c.valid || c.schema != schema || c.lo != lo || c.hi != hi {
		start := len(dst)
		c.marks = c.marks[:0]
		dst = appendMarked(dst, counts, 0, len(counts), lo, start, &c.marks)
		c.items = append(c.items[:0], dst[start:]...)
		c.valid, c.schema, c.lo, c.hi = true, schema, lo, hi
		c.dlo, c.dhi = math.MaxInt32, math.MinInt32
		return dst
	}
	if c.dlo > c.dhi {
		return append(dst, c.items...)
	}
	// m0: the last mark at or below dlo (marks[0] is lo); m1: the first above dhi.
	j0 := 0
	for j0+1 < len(c.marks) && c.marks[j0+1].bucket <= c.dlo {
		j0++
	}
	j1 := j0 + 1
	for j1 < len(c.marks) && c.marks[j1].bucket <= c.dhi {
		j1++
	}
	m0 := c.marks[j0]
	stop, tail := len(counts), len(c.items)
	if j1 < len(c.marks) {
		stop, tail = int(c.marks[j1].bucket-lo), int(c.marks[j1].off)
	}
	start := len(dst)
	dst = append(dst, c.items[:m0.off]...)
	marks := append(c.spareM[:0], c.marks[:j0]...)
	dst = appendMarked(dst, counts, int(m0.bucket-lo), stop, lo, start, &marks)
	shift := int32(len(dst)-start) - int32(tail)
	for _, m := range c.marks[j1:] {
		marks = append(marks, mark{m.bucket, m.off + shift})
	}
	dst = append(dst, c.items[tail:]...)
	c.spare, c.items = c.items, append(c.spare[:0], dst[start:]...)
	c.spareM, c.marks = c.marks, marks
	c.dlo, c.dhi = math.MaxInt32, math.MinInt32
	return dst
}

// appendMarked appends the items of counts[from:stop] with appendCounts, where
// counts[0] is bucket lo, from is a non-empty bucket and so is counts[stop] if
// stop < len(counts). It appends a mark to *marks for the item at from and for
// every later non-empty bucket markEvery or more past the last mark, at offsets
// relative to dst[start].
func appendMarked(dst []byte, counts []uint64, from, stop int, lo int32, start int, marks *[]mark) []byte {
	for k := from; k < stop; {
		*marks = append(*marks, mark{lo + int32(k), int32(len(dst) - start)})
		end := min(k+markEvery, stop)
		for end < stop && counts[end] == 0 {
			end++
		}
		// counts[end] is non-empty, or end is stop.
		dst = appendCounts(dst, counts[k:], end-k)
		k = end
	}
	return dst
}
