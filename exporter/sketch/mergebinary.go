package sketch

import "sync"

// MergeBinary adds the sketch encoded in data (the format AppendBinary documents)
// to s. The result is exactly that of decoding data with UnmarshalBinary into a
// new Sketch and passing it to Merge, at about the cost of the decoding alone:
// the encoding is read once, into reused scratch arrays, and added to s as
// Merge adds a sketch's arrays. It does not allocate once s's arrays cover the
// buckets. A query merges the stored windows of an hour this way.
//
// data is validated as strictly as UnmarshalBinary validates it, and completely
// before s is touched: on an error, which wraps ErrCorrupt or ErrVersion, s is
// unchanged. It never panics. It is safe to call on different sketches
// concurrently.
func (s *Sketch) MergeBinary(data []byte) error {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	h, err := parseInto(data, &sc.pos, &sc.neg)
	if err != nil {
		return err
	}
	if s.enc != nil {
		s.thaw()
	}
	pos, neg := h.pos.extent(), h.neg.extent()
	delta := s.lowerFor(h.schema, pos, neg)
	mergeBuckets(&s.pos, &buckets{offset: h.pos.lo, counts: sc.pos}, pos, delta)
	mergeBuckets(&s.neg, &buckets{offset: h.neg.lo, counts: sc.neg}, neg, delta)
	s.count += h.count
	s.zero += h.zero
	s.sum += h.sum
	s.min = min(s.min, h.min)
	s.max = max(s.max, h.max)
	return nil
}

// scratch holds the decoded counts of one encoding for MergeBinary: at most
// maxSpan per sign.
type scratch struct{ pos, neg []uint64 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func (h setHeader) extent() extent { return extent{h.lo, h.hi, h.span > 0} }
