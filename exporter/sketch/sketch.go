package sketch

import (
	"fmt"
	"math"
)

// DefaultSchema is the schema kwindow uses unless configured otherwise: base 2^(1/64),
// a relative error of at most about 0.54 % (RelativeError(6)).
const DefaultSchema = 6

// ZeroThreshold is the width of the zero bucket: values with |v| <= ZeroThreshold are
// counted there. It is client_golang's DefNativeHistogramZeroThreshold, 2^-128, the value to
// pass as zeroThreshold to prometheus.NewConstNativeHistogram.
const ZeroThreshold = 2.938735877055719e-39

// Sketch is a mergeable percentile sketch: a histogram over Prometheus native-histogram
// buckets. Create one with New (or UnmarshalBinary into a zero Sketch). A Sketch is not safe
// for concurrent use.
type Sketch struct {
	schema int32
	// initSchema is the schema Reset returns to: the one given to New or decoded.
	initSchema int32
	count      uint64
	zero       uint64
	sum        float64
	min, max   float64 // +Inf and -Inf while empty
	pos, neg   buckets
	// enc, if not nil, holds the buckets as an encoding (Load): pos and neg then
	// have their extents but no counts.
	enc []byte
}

// New returns an empty sketch with the given schema. It panics if schema is outside
// -4..8: the configuration validates schemas, so a bad one here is a programmer error.
func New(schema int32) *Sketch {
	s := Make(schema)
	return &s
}

// Make is New returning the sketch itself, for a caller that allocates it inside a
// larger value (an aggregate and its sketch in one allocation, close in memory).
func Make(schema int32) Sketch {
	checkSchema(schema)
	return Sketch{schema: schema, initSchema: schema, min: math.Inf(1), max: math.Inf(-1)}
}

func checkSchema(schema int32) {
	if schema < minSchema || schema > maxSchema {
		panic(fmt.Sprintf("sketch: schema %d outside %d..%d", schema, minSchema, maxSchema))
	}
}

// Add counts one value. NaN, +Inf and -Inf are ignored: they are not measurements, and
// client_golang's bucket for ±Inf lies above every finite one, so with dense buckets one
// infinity would force the whole sketch down to schema 1 or 2. Callers that must account
// for them count them as invalid records. Add never panics and does not allocate once the
// buckets cover the values' range.
func (s *Sketch) Add(v float64) { s.AddN(v, 1) }

// AddN counts the value v n times, like n calls of Add (Sum up to rounding: it adds v·n).
func (s *Sketch) AddN(v float64, n uint64) {
	bits := math.Float64bits(v)
	abs := bits &^ signBit
	if abs >= infBits || n == 0 {
		return
	}
	if s.enc != nil {
		s.thaw()
	}
	s.count += n
	if n == 1 {
		s.sum += v
	} else {
		s.sum += v * float64(n)
	}
	if v < s.min {
		s.min = v
	}
	if v > s.max {
		s.max = v
	}
	if abs <= zeroBits {
		s.zero += n
		return
	}
	b := &s.pos
	if bits&signBit != 0 {
		b = &s.neg
	}
	i := index(abs, s.schema)
	if k := uint(i - b.offset); k < uint(len(b.counts)) {
		b.counts[k] += n
		b.mark(i)
		return
	}
	s.addOutside(b, abs, n)
}

// addOutside counts n values with absolute bits abs whose bucket lies outside b's array:
// it grows the array, or lowers the schema if the span would pass maxSpan.
func (s *Sketch) addOutside(b *buckets, abs uint64, n uint64) {
	target := s.schema
	for {
		i := index(abs, target)
		if b.spanAfter(s.schema-target, i, i, true) <= maxSpan {
			break
		}
		target--
	}
	s.downscale(target)
	i := index(abs, s.schema)
	b.fit(i, i)
	b.counts[i-b.offset] += n
	b.mark(i)
}

// Count returns the number of values added (NaN and infinities excluded). It equals
// ZeroCount plus the counts of all buckets.
func (s *Sketch) Count() uint64 { return s.count }

// Sum returns the sum of the values added. It can overflow to ±Inf, or NaN after both.
func (s *Sketch) Sum() float64 { return s.sum }

// Min returns the smallest value added, NaN if the sketch is empty.
func (s *Sketch) Min() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	return s.min
}

// Max returns the largest value added, NaN if the sketch is empty.
func (s *Sketch) Max() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	return s.max
}

// Schema returns the current schema. It is lower than the one given to New after merging
// a lower-schema sketch, Downscale, or values spanning more than 4096 bucket indexes.
func (s *Sketch) Schema() int32 { return s.schema }

// ZeroCount returns the number of values with |v| <= ZeroThreshold.
func (s *Sketch) ZeroCount() uint64 { return s.zero }

// Reset empties the sketch and returns it to the schema it was created with (by New or
// UnmarshalBinary), keeping its bucket memory for reuse.
func (s *Sketch) Reset() {
	pos, neg := s.pos.counts, s.neg.counts
	clear(pos)
	clear(neg)
	*s = Sketch{schema: s.initSchema, initSchema: s.initSchema, min: math.Inf(1), max: math.Inf(-1)}
	s.pos.counts, s.neg.counts = pos, neg
}

// Clone returns a deep copy of s, its bucket arrays trimmed to the non-empty buckets.
func (s *Sketch) Clone() *Sketch {
	c := *s
	if s.enc != nil {
		// The encoding is never modified: the clone shares it.
		c.pos, c.neg = buckets{lo: s.pos.lo, hi: s.pos.hi, any: s.pos.any}, buckets{lo: s.neg.lo, hi: s.neg.hi, any: s.neg.any}
		return &c
	}
	c.pos, c.neg = s.pos.clone(), s.neg.clone()
	return &c
}

// ForEachBucket calls fn for each non-empty positive bucket in increasing index order.
// Bucket index i covers (base^(i-1), base^i], base = 2^(2^-Schema()).
func (s *Sketch) ForEachBucket(fn func(index int32, count uint64)) { s.decoded().pos.forEach(fn) }

// ForEachNegativeBucket calls fn for each non-empty negative bucket in increasing index
// order. Negative bucket index i holds the values v with -v in (base^(i-1), base^i], so
// increasing index means decreasing value.
func (s *Sketch) ForEachNegativeBucket(fn func(index int32, count uint64)) {
	s.decoded().neg.forEach(fn)
}

// NativeBuckets returns the non-empty buckets as prometheus.NewConstNativeHistogram
// (client_golang v1.25.0) takes them: bucket index to count, never nil. Export a sketch as
//
//	pos, neg := s.NativeBuckets()
//	prometheus.NewConstNativeHistogram(desc, s.Count(), s.Sum(), pos, neg,
//		s.ZeroCount(), s.Schema(), sketch.ZeroThreshold, created, labelValues...)
//
// Counts are converted to int64; a bucket would need 2^63 values to overflow.
func (s *Sketch) NativeBuckets() (positive, negative map[int]int64) {
	positive, negative = make(map[int]int64), make(map[int]int64)
	s = s.decoded()
	s.pos.forEach(func(i int32, c uint64) { positive[int(i)] = int64(c) })
	s.neg.forEach(func(i int32, c uint64) { negative[int(i)] = int64(c) })
	return positive, negative
}
