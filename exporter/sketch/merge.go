package sketch

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
	target := min(s.schema, o.schema)
	for !s.fits(o, target) {
		target--
	}
	s.downscale(target)
	delta := o.schema - target
	mergeBuckets(&s.pos, &o.pos, delta)
	mergeBuckets(&s.neg, &o.neg, delta)
	s.count += o.count
	s.zero += o.zero
	s.sum += o.sum
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
}

// fits reports whether s and o merged at schema target span at most maxSpan buckets per sign.
func (s *Sketch) fits(o *Sketch, target int32) bool {
	fit := func(sb, ob *buckets) bool {
		lo, hi, ok := ob.nonZero()
		if ok {
			lo, hi = downscaleIndex(lo, o.schema-target), downscaleIndex(hi, o.schema-target)
		}
		return sb.spanAfter(s.schema-target, lo, hi, ok) <= maxSpan
	}
	return fit(&s.pos, &o.pos) && fit(&s.neg, &o.neg)
}

// mergeBuckets adds src, read delta schemas lower, to dst.
func mergeBuckets(dst, src *buckets, delta int32) {
	lo, hi, ok := src.nonZero()
	if !ok {
		return
	}
	dst.fit(downscaleIndex(lo, delta), downscaleIndex(hi, delta))
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
	delta := s.schema - schema
	s.pos.downscale(delta)
	s.neg.downscale(delta)
	s.schema = schema
}
