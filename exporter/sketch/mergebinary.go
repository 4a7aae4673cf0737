package sketch

// MergeBinary adds the sketch encoded in data (the format AppendBinary documents)
// to s. The result is exactly that of decoding data with UnmarshalBinary into a
// new Sketch and passing it to Merge, at about the cost of validating the
// encoding: a bucket set whose buckets s's arrays already cover, at s's
// schema, is added as it is validated, in one pass; empty runs of buckets are
// skipped, not walked, and nothing is decoded into arrays of its own. A set
// that needs the arrays grown or the schema lowered is added once the whole
// encoding is valid. It does not allocate once s's arrays cover the buckets.
// A query merges the stored windows of an hour this way.
//
// data is validated as strictly as UnmarshalBinary validates it: on an error,
// which wraps ErrCorrupt or ErrVersion, s is unchanged (counts added before
// the error are taken back). It never panics. It is safe to call on different
// sketches concurrently.
func (s *Sketch) MergeBinary(data []byte) error {
	direct := s.enc == nil && len(data) >= 2 && int32(int8(data[1])) == s.schema
	var added [2]bool
	into := func(i int, b *buckets) func(lo, hi int32) []uint64 {
		if !direct {
			return nil
		}
		return func(lo, hi int32) []uint64 {
			if lo < b.offset || int64(hi) >= int64(b.offset)+int64(len(b.counts)) || b.spanAfter(0, lo, hi, true) > maxSpan {
				return nil
			}
			added[i] = true
			return b.counts[lo-b.offset:]
		}
	}
	h, err := parseAdding(data, into(0, &s.pos), into(1, &s.neg))
	if err != nil {
		return err
	}
	if s.enc != nil {
		s.thaw()
	}
	var pos, neg extent // of the sets still to add
	if added[0] {
		s.pos.markSet(h.pos)
	} else {
		pos = h.pos.extent()
	}
	if added[1] {
		s.neg.markSet(h.neg)
	} else {
		neg = h.neg.extent()
	}
	if !added[0] || !added[1] {
		delta := s.lowerFor(h.schema, pos, neg)
		if !added[0] {
			s.pos.addSet(h.pos, delta)
		}
		if !added[1] {
			s.neg.addSet(h.neg, delta)
		}
	}
	s.addTotals(&h)
	return nil
}

// addTotals adds the counts, sum and extremes of the encoding h to s's.
func (s *Sketch) addTotals(h *header) {
	s.count += h.count
	s.zero += h.zero
	s.sum += h.sum
	s.min = min(s.min, h.min)
	s.max = max(s.max, h.max)
}

// markSet records the lowest and highest bucket of the set h, both non-empty.
func (b *buckets) markSet(h setHeader) {
	if h.span > 0 {
		b.mark(h.lo)
		b.mark(h.hi)
	}
}

// addSet adds the validated set h, read delta schemas lower, to b.
func (b *buckets) addSet(h setHeader, delta int32) {
	if h.span == 0 {
		return
	}
	lo, hi := downscaleIndex(h.lo, delta), downscaleIndex(h.hi, delta)
	b.fit(lo, hi)
	b.mark(lo) // h's lowest and highest buckets are non-empty
	b.mark(hi)
	if delta == 0 {
		addItems(h.items, b.counts[h.lo-b.offset:])
		return
	}
	eachItem(h.items, func(k int, c uint64) {
		b.counts[downscaleIndex(h.lo+int32(k), delta)-b.offset] += c
	})
}

func (h setHeader) extent() extent { return extent{h.lo, h.hi, h.span > 0} }
