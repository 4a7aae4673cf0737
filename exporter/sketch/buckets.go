package sketch

// maxSpan bounds the number of buckets from the lowest to the highest non-empty bucket of
// one sign. Storage is dense, so without a bound one outlier (1e-30 next to 1e30) would cost
// megabytes per sketch; past the bound the sketch lowers its schema instead, as
// client_golang's NativeHistogramMaxBucketNumber and OpenTelemetry's exponential histogram
// do. 4096 buckets span 2^64 at schema 6 and 2^16 at schema 8, so latencies never hit it.
const maxSpan = 4096

// initialLen is the length of the first bucket array, centred on the first value.
const initialLen = 64

// grownLen is the length of the array that replaces one too short for span buckets:
// the span and an eighth more, at least initialLen more, in whole cache lines (8
// counts). The values that widen a distribution's tails one at a time then
// reallocate it a few times, not at each one, and a stage-1 part's sketch, new
// every interval, grows from its first value in about as many steps as it did
// by doubling. Growing to twice the span, as it did before, left the arrays of
// the long-lived sketches at 10,000 keys a third empty on average, and they are
// most of the memory per key.
func grownLen(span int) int {
	n := span + max(span/8, initialLen)
	n = (n + 7) &^ 7
	return min(n, maxSpan)
}

// buckets is one sign's dense bucket array: counts[k] is the count of bucket offset+k.
// len(counts) == cap(counts); entries that are not buckets of data are zero.
//
// lo and hi are the indexes of the lowest and highest non-empty bucket, kept by every
// change (any is false while all are empty), so that encoding, which needs them for
// every changed window at every commit, does not scan the array: at 10,000 keys that
// scan was a tenth of the engine's time.
type buckets struct {
	offset int32
	counts []uint64
	lo, hi int32
	any    bool
}

// nonZero returns the indexes of the lowest and highest non-empty bucket, ok false if none.
func (b *buckets) nonZero() (lo, hi int32, ok bool) { return b.lo, b.hi, b.any }

// mark records that bucket i is non-empty.
func (b *buckets) mark(i int32) {
	switch {
	case !b.any:
		b.lo, b.hi, b.any = i, i, true
	case i < b.lo:
		b.lo = i
	case i > b.hi:
		b.hi = i
	}
}

// spanAfter returns the span (highest-lowest+1) of the non-empty buckets of b, lowered by
// delta schemas, joined with [lo, hi] if extra is true (lo, hi already at the lower schema).
func (b *buckets) spanAfter(delta int32, lo, hi int32, extra bool) int64 {
	blo, bhi, ok := b.nonZero()
	if ok {
		blo, bhi = downscaleIndex(blo, delta), downscaleIndex(bhi, delta)
		if extra {
			lo, hi = min(lo, blo), max(hi, bhi)
		} else {
			lo, hi = blo, bhi
		}
	} else if !extra {
		return 0
	}
	return int64(hi) - int64(lo) + 1
}

// fit makes counts cover buckets lo..hi (hi-lo+1 <= maxSpan), moving or reallocating the
// array. Existing counts are kept.
func (b *buckets) fit(lo, hi int32) {
	if lo >= b.offset && int64(hi) < int64(b.offset)+int64(len(b.counts)) {
		return
	}
	dlo, dhi, ok := b.nonZero()
	if !ok {
		n := max(len(b.counts), initialLen, int(hi-lo+1))
		if n > len(b.counts) {
			b.counts = make([]uint64, n)
		}
		b.offset = lo - int32(n-int(hi-lo+1))/2
		return
	}
	nlo, nhi := min(lo, dlo), max(hi, dhi)
	span := int(nhi - nlo + 1)
	n := len(b.counts)
	var dst []uint64
	if span <= n {
		dst = b.counts // slide within the array
	} else {
		n = grownLen(span)
		dst = make([]uint64, n)
	}
	// Leave the free room on the side that grew.
	off := nlo
	if lo < dlo {
		off = nhi - int32(n) + 1
	}
	data := b.counts[dlo-b.offset : dhi-b.offset+1]
	at := int(dlo - off)
	copy(dst[at:], data)
	clear(dst[:at])
	clear(dst[at+len(data):])
	b.counts, b.offset = dst, off
}

// downscale lowers the schema of b by delta, merging buckets in place.
func (b *buckets) downscale(delta int32) {
	if delta <= 0 || len(b.counts) == 0 {
		return
	}
	newOffset := downscaleIndex(b.offset, delta)
	for k, c := range b.counts {
		if c == 0 {
			continue
		}
		b.counts[k] = 0
		// The target is never after k: downscaling moves buckets towards index zero of
		// the array, so each count is read before anything is added to its place.
		b.counts[downscaleIndex(b.offset+int32(k), delta)-newOffset] += c
	}
	b.offset = newOffset
	b.lo, b.hi = downscaleIndex(b.lo, delta), downscaleIndex(b.hi, delta)
}

// forEach calls fn for the non-empty buckets in index order.
func (b *buckets) forEach(fn func(index int32, count uint64)) {
	for k, c := range b.counts {
		if c != 0 {
			fn(b.offset+int32(k), c)
		}
	}
}

// clone returns a copy trimmed to the non-empty buckets.
func (b *buckets) clone() buckets {
	lo, hi, ok := b.nonZero()
	if !ok {
		return buckets{}
	}
	return buckets{offset: lo, counts: append([]uint64(nil), b.counts[lo-b.offset:hi-b.offset+1]...), lo: lo, hi: hi, any: true}
}
