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
// bucket always starts an item, and counts only grow between encodings (AddN,
// Merge; any other change drops the cache), so every mark still starts an item
// afterwards: the items before the mark at or below the lowest added bucket and
// from the first mark above the highest one are reused as they are, and the
// marks between move with the items re-encoded.

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
	// Re-encode from the last mark at or below dlo (marks[0] is lo) to the first
	// above dhi, mark by mark: the marks stay, at their new offsets.
	j0 := 0
	for j0+1 < len(c.marks) && c.marks[j0+1].bucket <= c.dlo {
		j0++
	}
	start := len(dst)
	dst = append(dst, c.items[:c.marks[j0].off]...)
	j := j0
	for ; j < len(c.marks) && (j == j0 || c.marks[j].bucket <= c.dhi); j++ {
		c.marks[j].off = int32(len(dst) - start)
		from, stop := int(c.marks[j].bucket-lo), len(counts)
		if j+1 < len(c.marks) {
			stop = int(c.marks[j+1].bucket - lo)
		}
		dst = appendCounts(dst, counts[from:], stop-from)
	}
	if j < len(c.marks) {
		tail := c.marks[j].off
		shift := int32(len(dst)-start) - tail
		dst = append(dst, c.items[tail:]...)
		for ; j < len(c.marks); j++ {
			c.marks[j].off += shift
		}
	}
	c.items = append(c.items[:0], dst[start:]...)
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
