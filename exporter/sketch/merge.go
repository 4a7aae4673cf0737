package sketch

import "fmt"

// Merge adds the values counted by o to s, exactly: bucket by bucket, as if every value
// added to o had been added to s. If the schemas differ, the result has the lower one (s is
// downscaled first, o's buckets are mapped as it is read); o is never modified. Merge may
// lower the schema further if the joined buckets of one sign would span more than 4096
// indexes (see the package documentation).
func (s *Sketch) Merge(o *Sketch) {
	if o == nil {
		return
	}
	if o == s {
		o = s.Clone()
	}
	if o.enc != nil {
		if err := s.MergeBinary(o.enc); err != nil {
			panic(fmt.Sprintf("sketch: a frozen sketch's encoding no longer decodes: %v", err))
		}
		return
	}
	if s.enc != nil {
		s.thaw()
	}
	pos, neg := extentOf(&o.pos), extentOf(&o.neg)
	delta := s.lowerFor(o.schema, pos, neg)
	mergeBuckets(&s.pos, &o.pos, pos, delta)
	mergeBuckets(&s.neg, &o.neg, neg, delta)
	s.count += o.count
	s.zero += o.zero
	s.sum += o.sum
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
}

// extent is the lowest and highest non-empty bucket of one sign; ok is false if
// there is none.
type extent struct {
	lo, hi int32
	ok     bool
}

func extentOf(b *buckets) extent {
	lo, hi, ok := b.nonZero()
	return extent{lo, hi, ok}
}

// lowerFor downscales s to the schema at which it can take buckets of schema
// schema spanning pos and neg: the lower of the two schemas, or lower still if
// the joined buckets of one sign would span more than maxSpan. It returns how
// many schemas the incoming buckets must be lowered.
func (s *Sketch) lowerFor(schema int32, pos, neg extent) (delta int32) {
	target := min(s.schema, schema)
	for !s.fits(schema, pos, neg, target) {
		target--
	}
	s.downscale(target)
	return schema - target
}

// fits reports whether s and buckets of schema schema spanning pos and neg,
// merged at schema target, span at most maxSpan buckets per sign.
func (s *Sketch) fits(schema int32, pos, neg extent, target int32) bool {
	fit := func(sb *buckets, e extent) bool {
		lo, hi := e.lo, e.hi
		if e.ok {
			lo, hi = downscaleIndex(lo, schema-target), downscaleIndex(hi, schema-target)
		}
		return sb.spanAfter(s.schema-target, lo, hi, e.ok) <= maxSpan
	}
	return fit(&s.pos, pos) && fit(&s.neg, neg)
}

// mergeBuckets adds src, whose non-empty buckets span e, read delta schemas
// lower, to dst.
func mergeBuckets(dst, src *buckets, e extent, delta int32) {
	if !e.ok {
		return
	}
	lo, hi := e.lo, e.hi
	dst.fit(downscaleIndex(lo, delta), downscaleIndex(hi, delta))
	dst.mark(downscaleIndex(lo, delta)) // e's lowest and highest buckets are non-empty
	dst.mark(downscaleIndex(hi, delta))
	counts := src.counts[lo-src.offset : hi-src.offset+1]
	if delta == 0 {
		dc := dst.counts[lo-dst.offset:]
		for k, c := range counts {
			dc[k] += c
		}
		return
	}
	for k, c := range counts {
		if c != 0 {
			dst.counts[downscaleIndex(lo+int32(k), delta)-dst.offset] += c
		}
	}
}

// Downscale lowers the schema to the given one, merging each 2^(Schema()-schema) adjacent
// buckets into one: bucket i becomes ((i-1) >> delta) + 1. This is exact: a value lands in
// the same bucket as if it had been added at the lower schema, because the lower schema's
// boundaries are a subset of the higher one's. It does nothing if schema >= Schema(), and
// panics if schema < -4.
func (s *Sketch) Downscale(schema int32) {
	if schema < minSchema {
		checkSchema(schema)
	}
	s.downscale(schema)
}

func (s *Sketch) downscale(schema int32) {
	if schema >= s.schema {
		return
	}
	if s.enc != nil {
		s.thaw()
	}
	delta := s.schema - schema
	s.pos.downscale(delta)
	s.neg.downscale(delta)
	s.schema = schema
}
